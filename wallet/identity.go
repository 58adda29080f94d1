package wallet

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
)

// Roles carried in the certificate's Fabric CA attribute "role".
const (
	RolePatient      = "patient"
	RoleClinician    = "clinician"
	RoleManufacturer = "manufacturer"
	RoleAnonymizer   = "anonymizer"
	RoleAdmin        = "admin"
	RoleGateway      = "gateway"
)

// Attribute names Fabric CA puts in certificates.
const (
	AttrRole         = "role"
	AttrEnrollmentID = "hf.EnrollmentID"
)

// Identity is a Fabric identity with its signing key: an X.509 certificate, the MSP that
// vouches for it and the ECDSA private key. The key can only be used through Signer or Sign.
type Identity struct {
	mspID   string
	certPEM []byte
	cert    *x509.Certificate
	chain   []byte // PEM CA certificates, possibly empty
	key     *ecdsa.PrivateKey
	attrs   map[string]string
}

// NewIdentity assembles an identity from an MSP ID, a PEM certificate, the certificate's
// private key and, optionally, the PEM chain of CA certificates that issued it. It fails with
// ErrInvalidIdentity when the key does not belong to the certificate.
func NewIdentity(mspID string, certPEM []byte, key *ecdsa.PrivateKey, caChainPEM []byte) (*Identity, error) {
	if mspID == "" {
		return nil, fmt.Errorf("new identity: %w: empty MSP ID", ErrInvalidIdentity)
	}
	if key == nil {
		return nil, fmt.Errorf("new identity: %w: no private key", ErrInvalidIdentity)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("new identity: %w", err)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("new identity: %w: certificate key is %T, want ECDSA", ErrInvalidIdentity, cert.PublicKey)
	}
	if !pub.Equal(&key.PublicKey) {
		return nil, fmt.Errorf("new identity: %w: private key does not match certificate", ErrInvalidIdentity)
	}
	if len(bytes.TrimSpace(caChainPEM)) > 0 {
		if _, err := parseCertsPEM(caChainPEM); err != nil {
			return nil, fmt.Errorf("new identity: CA chain: %w", err)
		}
	}
	attrs, err := attrmgr.New().GetAttributesFromCert(cert)
	if err != nil {
		return nil, fmt.Errorf("new identity: %w: %w", ErrInvalidIdentity, err)
	}
	return &Identity{
		mspID:   mspID,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		cert:    cert,
		chain:   bytes.Clone(caChainPEM),
		key:     key,
		attrs:   attrs.Attrs,
	}, nil
}

// MSPID is the ID of the membership service provider that issued the identity.
func (id *Identity) MSPID() string { return id.mspID }

// Certificate returns the identity's certificate. Callers must not modify it.
func (id *Identity) Certificate() *x509.Certificate { return id.cert }

// CertificatePEM returns the PEM encoding of the certificate.
func (id *Identity) CertificatePEM() []byte { return bytes.Clone(id.certPEM) }

// CAChainPEM returns the PEM CA certificates that issued the identity, if known.
func (id *Identity) CAChainPEM() []byte { return bytes.Clone(id.chain) }

// Attribute returns a Fabric CA attribute from the certificate.
func (id *Identity) Attribute(name string) (string, bool) {
	v, ok := id.attrs[name]
	return v, ok
}

// Role is the CareLedger role from the certificate's "role" attribute, or "" if none.
func (id *Identity) Role() string { return id.attrs[AttrRole] }

// EnrollmentID is the Fabric CA enrollment ID: the hf.EnrollmentID attribute, else the
// subject common name. For patients it is a random pseudonym.
func (id *Identity) EnrollmentID() string {
	if v := id.attrs[AttrEnrollmentID]; v != "" {
		return v
	}
	return id.cert.Subject.CommonName
}

// LedgerID is the pseudonym under which the ledger knows this identity; see LedgerID.
func (id *Identity) LedgerID() string { return LedgerID(id.mspID, id.EnrollmentID()) }

// NotAfter is when the certificate expires; re-enrol before then.
func (id *Identity) NotAfter() time.Time { return id.cert.NotAfter }

// Signer returns a crypto.Signer producing the low-S ASN.1 ECDSA signatures Fabric requires.
// It is the only way to use the private key.
func (id *Identity) Signer() crypto.Signer { return ecdsaSigner{key: id.key} }

// Sign signs a digest for the fabric-gateway client (client.WithSign).
func (id *Identity) Sign(digest []byte) ([]byte, error) {
	return ecdsaSigner{key: id.key}.Sign(nil, digest, crypto.SHA256)
}

// GatewayIdentity returns the identity in the form the fabric-gateway client needs
// (client.Connect's first argument).
func (id *Identity) GatewayIdentity() (*identity.X509Identity, error) {
	gid, err := identity.NewX509Identity(id.mspID, id.cert)
	if err != nil {
		return nil, fmt.Errorf("gateway identity: %w", err)
	}
	return gid, nil
}

// LogValue identifies the identity in logs by MSP and role only: enrollment IDs of patients
// are pseudonyms, which still count as personal data, and the key must never appear.
func (id *Identity) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("msp", id.mspID),
		slog.String("role", id.Role()),
		slog.String("key", "[redacted]"),
	)
}

// String is LogValue for fmt, so %v cannot leak the key either.
func (id *Identity) String() string {
	return fmt.Sprintf("Identity{msp=%s role=%s key=[redacted]}", id.mspID, id.Role())
}

// GoString keeps %#v from printing the key.
func (id *Identity) GoString() string { return id.String() }

// LedgerID derives a person's ledger pseudonym: the lowercase hex of the first 16 bytes of
// SHA-256("careledger/id/v1\x00" + mspID + "\x00" + enrollmentID). The chaincode derives the
// same value from the caller's certificate.
func LedgerID(mspID, enrollmentID string) string {
	h := sha256.New()
	h.Write([]byte("careledger/id/v1\x00"))
	h.Write([]byte(mspID))
	h.Write([]byte{0})
	h.Write([]byte(enrollmentID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func parseCertPEM(certPEM []byte) (*x509.Certificate, error) {
	certs, err := parseCertsPEM(certPEM)
	if err != nil {
		return nil, err
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("%w: want one certificate, found %d", ErrInvalidIdentity, len(certs))
	}
	return certs[0], nil
}

func parseCertsPEM(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE", ErrInvalidIdentity, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: parse certificate: %w", ErrInvalidIdentity, err)
		}
		certs = append(certs, c)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		return nil, fmt.Errorf("%w: trailing data after PEM certificates", ErrInvalidIdentity)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no PEM certificate", ErrInvalidIdentity)
	}
	return certs, nil
}

// parsePrivateKey accepts the encodings Fabric tools write: PKCS#8 ("PRIVATE KEY", from
// cryptogen and fabric-ca-client) and SEC 1 ("EC PRIVATE KEY").
func parsePrivateKey(der []byte) (*ecdsa.PrivateKey, error) {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		ec, ok := k.(*ecdsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("%w: private key is %T, want ECDSA", ErrInvalidIdentity, k)
		}
		return ec, nil
	}
	k, err := x509.ParseECPrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: parse private key: %w", ErrInvalidIdentity, err)
	}
	return k, nil
}

// Wipe zeroes the private key in memory; the identity cannot sign afterwards. Holders that
// keep keys for a while (the CLI's key agent) call it when they let a key go, so it does not
// linger until the memory is reused.
func (id *Identity) Wipe() {
	if id.key != nil && id.key.D != nil {
		clear(id.key.D.Bits())
		id.key.D.SetInt64(0)
	}
}
