package network

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
)

// Issuer signs member certificates with one organisation's generated CA, holding the CA key
// in memory so that issuing many identities reads it once.
type Issuer struct {
	org Org
	ca  *caPair
}

// NewIssuer loads organisation o's CA from the material under dir.
func NewIssuer(dir string, o Org) (*Issuer, error) {
	ca, err := loadCA(filepath.Join(OrgDir(dir, o), "ca"))
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	return &Issuer{org: o, ca: ca}, nil
}

// IssueEphemeral returns a new identity with a signing certificate from the organisation's CA
// and writes nothing: the private key lives only in the returned User, so it is gone when the
// caller drops it. It suits identities that act once (a demo population's patients, who
// upload and consent at generation and never sign again). Dir is empty; there is no TLS
// client certificate. Patients get a random enrollment ID, as IssueUser gives them.
func (is *Issuer) IssueEphemeral(spec UserSpec) (*User, error) {
	if spec.Role == "" {
		return nil, fmt.Errorf("%w: user %q has no role", ErrInvalidConfig, spec.Name)
	}
	enrollmentID := spec.EnrollmentID
	if spec.Role == RolePatient || enrollmentID == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		enrollmentID = hex.EncodeToString(b)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	certPEM, cert, err := signUserCert(is.ca, &key.PublicKey, spec.Role, enrollmentID, userNodeOU(is.org, spec))
	if err != nil {
		return nil, fmt.Errorf("issue ephemeral user: %w", err)
	}
	return &User{MSPID: is.org.MSPID, Name: spec.Name, EnrollmentID: enrollmentID, Role: spec.Role,
		CertPEM: certPEM, Cert: cert, Key: key}, nil
}
