package fabricca

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
)

// Revocation selects what to revoke: every certificate of an enrollment ID (and the
// identity itself, so it cannot enrol again), or one certificate by serial and AKI.
type Revocation struct {
	// ID revokes the identity and all its certificates.
	ID string
	// Serial and AKI (both lowercase hex) revoke one certificate; see CertificateRevocation.
	Serial string
	AKI    string
	// Reason is an RFC 5280 reason name such as "keycompromise" or "cessationofoperation".
	Reason string
	// GenCRL asks the CA to return a fresh CRL, to hand to the MSP configuration of peers.
	GenCRL bool
}

// CertificateRevocation returns a Revocation for one certificate.
func CertificateRevocation(cert *x509.Certificate, reason string) Revocation {
	return Revocation{
		Serial: cert.SerialNumber.Text(16),
		AKI:    hex.EncodeToString(cert.AuthorityKeyId),
		Reason: reason,
	}
}

// RevokedCert names a revoked certificate.
type RevokedCert struct {
	Serial string `json:"Serial"`
	AKI    string `json:"AKI"`
}

// RevocationResult lists what was revoked and, if asked for, the CRL (PEM).
type RevocationResult struct {
	Revoked []RevokedCert
	CRLPEM  []byte
}

type revocationNet struct {
	ID     string `json:"id,omitempty"`
	Serial string `json:"serial,omitempty"`
	AKI    string `json:"aki,omitempty"`
	Reason string `json:"reason,omitempty"`
	CAName string `json:"caname,omitempty"`
	GenCRL bool   `json:"gencrl,omitempty"`
}

// Revoke revokes certificates, authenticated as revoker (who needs the hf.Revoker attribute).
func (c *Client) Revoke(ctx context.Context, revoker Caller, r Revocation) (*RevocationResult, error) {
	if r.ID == "" && (r.Serial == "" || r.AKI == "") {
		return nil, fmt.Errorf("fabric ca revoke: %w: give an enrollment ID or a serial and AKI", ErrInvalidRequest)
	}
	in := revocationNet{ID: r.ID, Serial: r.Serial, AKI: r.AKI, Reason: r.Reason, CAName: c.caName, GenCRL: r.GenCRL}
	var out struct {
		RevokedCerts []RevokedCert `json:"RevokedCerts"`
		CRL          string        `json:"CRL"`
	}
	if err := c.call(ctx, "revoke", "revoke", in, tokenAuth(revoker), &out); err != nil {
		return nil, err
	}
	res := &RevocationResult{Revoked: out.RevokedCerts}
	if out.CRL != "" {
		crl, err := base64.StdEncoding.DecodeString(out.CRL)
		if err != nil {
			return nil, fmt.Errorf("fabric ca revoke: decode CRL: %w", err)
		}
		res.CRLPEM = crl
	}
	return res, nil
}
