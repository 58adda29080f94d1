package wallet

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/asn1"
	"fmt"
	"io"
	"log/slog"
	"math/big"
)

// GenerateKey returns a fresh ECDSA P-256 private key, the key type Fabric CA issues
// certificates for by default.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate ecdsa key: %w", err)
	}
	return k, nil
}

// ecdsaSigner signs with a private key it never hands out. Signatures are ASN.1 DER with a
// low S value: Fabric peers, orderers and Fabric CA all reject high-S ECDSA signatures
// because either S makes a valid signature, which would let anyone alter a transaction ID.
type ecdsaSigner struct {
	key *ecdsa.PrivateKey
}

var _ crypto.Signer = ecdsaSigner{}

// Public returns the public half of the key.
func (s ecdsaSigner) Public() crypto.PublicKey { return &s.key.PublicKey }

// Sign signs digest, which the caller has already hashed. rand is ignored in favour of
// crypto/rand because a weak or replayed nonce source would leak the private key.
func (s ecdsaSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, digest)
	if err != nil {
		return nil, fmt.Errorf("ecdsa sign: %w", err)
	}
	return marshalLowS(r, sv, s.key.Curve.Params().N)
}

// LogValue keeps the key out of logs.
func (s ecdsaSigner) LogValue() slog.Value { return slog.StringValue("[redacted ecdsa key]") }

// String keeps fmt from printing the key.
func (s ecdsaSigner) String() string { return "[redacted ecdsa key]" }

// GoString keeps %#v from printing the key.
func (s ecdsaSigner) GoString() string { return "[redacted ecdsa key]" }

func marshalLowS(r, s, n *big.Int) ([]byte, error) {
	half := new(big.Int).Rsh(n, 1)
	if s.Cmp(half) > 0 {
		s = new(big.Int).Sub(n, s)
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{r, s})
	if err != nil {
		return nil, fmt.Errorf("encode ecdsa signature: %w", err)
	}
	return sig, nil
}
