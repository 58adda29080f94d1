package network

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// Sentinel errors of identity validation; callers map them to Fabric validation codes.
var (
	// ErrUnknownIdentity: the creator is malformed, names an unknown MSP or does not chain to
	// that MSP's certificate authorities.
	ErrUnknownIdentity = errors.New("creator identity is not valid")
	// ErrBadSignature: a signature does not verify, is malformed, or is not in low-S form.
	ErrBadSignature = errors.New("signature is not valid")
)

// nodeOUs are the organisational units that mark a Fabric identity's role in an MSP with
// NodeOUs enabled, as cryptogen and Fabric CA issue them.
var nodeOUs = []string{"client", "peer", "admin", "orderer"}

// mspVerifier checks identities of one MSP.
type mspVerifier struct {
	id            string
	roots         *x509.CertPool
	intermediates *x509.CertPool
}

// identity is a validated creator.
type identity struct {
	mspID string
	// nodeOU is the identity's one node OU (client, peer, admin or orderer): its role in
	// signature policies.
	nodeOU     string
	cert       *x509.Certificate
	pub        *ecdsa.PublicKey
	serialized []byte
}

// mspSet validates identities of every consortium member and caches the result, because X.509
// chain verification costs far more than the signature check that follows on every request.
type mspSet struct {
	msps map[string]*mspVerifier

	mu    sync.RWMutex
	cache map[string]*identity
}

const identityCacheSize = 8192

// loadMSPs builds verifiers from each organisation's msp/cacerts and msp/intermediatecerts
// folders and from the organisation's configured extra CA certificates.
func loadMSPs(dir string, c Consortium) (*mspSet, error) {
	set := &mspSet{msps: map[string]*mspVerifier{}, cache: map[string]*identity{}}
	for _, o := range c.Orgs {
		v := &mspVerifier{id: o.MSPID, roots: x509.NewCertPool(), intermediates: x509.NewCertPool()}
		mspDir := filepath.Join(OrgDir(dir, o), "msp")
		roots, err := readPEMDir(filepath.Join(mspDir, "cacerts"))
		if err != nil {
			return nil, fmt.Errorf("load msp %s: %w", o.MSPID, err)
		}
		roots = append(roots, o.CACertsPEM...)
		if len(roots) == 0 {
			return nil, fmt.Errorf("load msp %s: no CA certificates: %w", o.MSPID, ErrNotFound)
		}
		for _, r := range roots {
			if err := addPEMCerts(v.roots, r); err != nil {
				return nil, fmt.Errorf("load msp %s: %w", o.MSPID, err)
			}
		}
		inter, err := readPEMDir(filepath.Join(mspDir, "intermediatecerts"))
		if err != nil {
			return nil, fmt.Errorf("load msp %s: %w", o.MSPID, err)
		}
		for _, r := range inter {
			if err := addPEMCerts(v.intermediates, r); err != nil {
				return nil, fmt.Errorf("load msp %s: %w", o.MSPID, err)
			}
		}
		set.msps[o.MSPID] = v
	}
	return set, nil
}

func readPEMDir(dir string) ([][]byte, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func addPEMCerts(pool *x509.CertPool, b []byte) error {
	n := 0
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return fmt.Errorf("parse CA certificate: %w", err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return errors.New("parse CA certificate: no PEM certificate")
	}
	return nil
}

// deserialize validates serialized creator bytes (a msp.SerializedIdentity) at time now.
func (s *mspSet) deserialize(creator []byte, now time.Time) (*identity, error) {
	s.mu.RLock()
	id, ok := s.cache[string(creator)]
	s.mu.RUnlock()
	if ok {
		if now.Before(id.cert.NotBefore) || now.After(id.cert.NotAfter) {
			return nil, fmt.Errorf("%w: certificate of %s is outside its validity period", ErrUnknownIdentity, id.mspID)
		}
		return id, nil
	}
	id, err := s.validate(creator, now)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if len(s.cache) >= identityCacheSize {
		clear(s.cache)
	}
	s.cache[string(creator)] = id
	s.mu.Unlock()
	return id, nil
}

func (s *mspSet) validate(creator []byte, now time.Time) (*identity, error) {
	sid := &msp.SerializedIdentity{}
	if err := proto.Unmarshal(creator, sid); err != nil {
		return nil, fmt.Errorf("%w: malformed serialized identity: %v", ErrUnknownIdentity, err)
	}
	v, ok := s.msps[sid.GetMspid()]
	if !ok {
		return nil, fmt.Errorf("%w: MSP %q is not a member of the channel", ErrUnknownIdentity, sid.GetMspid())
	}
	blk, _ := pem.Decode(sid.GetIdBytes())
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("%w: identity of %s is not a PEM certificate", ErrUnknownIdentity, v.id)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: identity of %s: %v", ErrUnknownIdentity, v.id, err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() && pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w: identity of %s has no ECDSA P-256/P-384 key", ErrUnknownIdentity, v.id)
	}
	if cert.IsCA {
		return nil, fmt.Errorf("%w: identity of %s is a CA certificate", ErrUnknownIdentity, v.id)
	}
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots: v.roots, Intermediates: v.intermediates, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		return nil, fmt.Errorf("%w: certificate does not chain to a CA of %s: %v", ErrUnknownIdentity, v.id, err)
	}
	// As in a Fabric MSP with NodeOUs, exactly one node OU says what the identity is; policies
	// name that role, so an identity claiming two (peer and client) is refused, not guessed at.
	var ou string
	for _, o := range cert.Subject.OrganizationalUnit {
		if !slices.Contains(nodeOUs, o) {
			continue
		}
		if ou != "" {
			return nil, fmt.Errorf("%w: identity of %s has more than one node OU (%s, %s)", ErrUnknownIdentity, v.id, ou, o)
		}
		ou = o
	}
	if ou == "" {
		return nil, fmt.Errorf("%w: identity of %s has no node OU (client, peer, admin, orderer)", ErrUnknownIdentity, v.id)
	}
	return &identity{mspID: v.id, nodeOU: ou, cert: cert, pub: pub, serialized: slices.Clone(creator)}, nil
}

// verify checks an ECDSA signature over msg the way Fabric's BCCSP does: SHA-256 (SHA-384 for
// P-384) digest, DER signature, and S in the lower half of the curve order so that a signature
// cannot be mutated into a second valid one.
func (id *identity) verify(msg, sig []byte) error {
	return verifyECDSA(id.pub, msg, sig)
}

type ecdsaSig struct{ R, S *big.Int }

func verifyECDSA(pub *ecdsa.PublicKey, msg, sig []byte) error {
	var s ecdsaSig
	rest, err := asn1.Unmarshal(sig, &s)
	if err != nil || len(rest) != 0 || s.R == nil || s.S == nil {
		return fmt.Errorf("%w: malformed ECDSA signature", ErrBadSignature)
	}
	n := pub.Curve.Params().N
	if s.R.Sign() <= 0 || s.S.Sign() <= 0 || s.R.Cmp(n) >= 0 {
		return fmt.Errorf("%w: ECDSA signature values out of range", ErrBadSignature)
	}
	if s.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		return fmt.Errorf("%w: invalid S, must be smaller than half the order", ErrBadSignature)
	}
	var ok bool
	if pub.Curve == elliptic.P384() {
		d := sha512sum384(msg)
		ok = ecdsa.VerifyASN1(pub, d, sig)
	} else {
		d := sha256.Sum256(msg)
		ok = ecdsa.VerifyASN1(pub, d[:], sig)
	}
	if !ok {
		return fmt.Errorf("%w: ECDSA verification failed", ErrBadSignature)
	}
	return nil
}
