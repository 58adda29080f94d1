package network

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/asn1"
	"fmt"
	"math/big"
)

func sha512sum384(msg []byte) []byte {
	d := sha512.Sum384(msg)
	return d[:]
}

// signLowS signs SHA-256(msg) and normalises S to the lower half of the order, which Fabric
// requires of every signature it verifies.
func signLowS(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	der, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return toLowS(key.Curve.Params().N, der)
}

// toLowS rewrites a DER ECDSA signature so that S <= N/2.
func toLowS(n *big.Int, der []byte) ([]byte, error) {
	var s ecdsaSig
	if _, err := asn1.Unmarshal(der, &s); err != nil {
		return nil, fmt.Errorf("sign: parse signature: %w", err)
	}
	if s.S.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		return der, nil
	}
	s.S.Sub(n, s.S)
	out, err := asn1.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("sign: marshal signature: %w", err)
	}
	return out, nil
}
