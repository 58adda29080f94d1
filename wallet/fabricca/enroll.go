package fabricca

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"

	"github.com/careledger/careledger/wallet"
)

// EnrollOptions are the optional parts of an enrolment.
type EnrollOptions struct {
	// Profile is the CA signing profile ("" for the default, "tls" for TLS certificates).
	Profile string
	// Hosts are subject alternative names (for TLS certificates of servers).
	Hosts []string
	// AttrReqs asks for specific attributes; nil gets the ecert attributes.
	AttrReqs []AttrReq
}

// AttrReq requests an attribute in the certificate. A required attribute the identity lacks
// makes the enrolment fail.
type AttrReq struct {
	Name     string `json:"name"`
	Optional bool   `json:"optional,omitempty"`
}

type enrollNet struct {
	Hosts    []string  `json:"hosts,omitempty"`
	Request  string    `json:"certificate_request"`
	Profile  string    `json:"profile,omitempty"`
	CAName   string    `json:"CAName,omitempty"`
	AttrReqs []AttrReq `json:"attr_reqs,omitempty"`
}

type enrollResultNet struct {
	Cert       string  `json:"Cert"`
	ServerInfo infoNet `json:"ServerInfo"`
}

// Enroll exchanges an enrollment ID and secret for a certificate. The key pair is generated
// here (ECDSA P-256) and only the certificate signing request goes to the CA.
func (c *Client) Enroll(ctx context.Context, enrollmentID, secret string, opts EnrollOptions) (*wallet.Identity, error) {
	if enrollmentID == "" || secret == "" {
		return nil, fmt.Errorf("fabric ca enroll: %w: enrollment ID and secret are required", ErrInvalidRequest)
	}
	return c.enroll(ctx, "enroll", enrollmentID, opts, basicAuth(enrollmentID, secret))
}

// Reenroll renews current's certificate with a fresh key, authenticated by the current
// certificate, which must not have expired or been revoked. Re-enrol well before NotAfter.
// The old certificate stays valid until it expires or is revoked.
func (c *Client) Reenroll(ctx context.Context, current *wallet.Identity, opts EnrollOptions) (*wallet.Identity, error) {
	if current == nil {
		return nil, fmt.Errorf("fabric ca reenroll: %w: no identity", ErrInvalidRequest)
	}
	if current.MSPID() != c.mspID {
		return nil, fmt.Errorf("fabric ca reenroll: %w: identity of %s, CA issues for %s", ErrInvalidRequest, current.MSPID(), c.mspID)
	}
	return c.enroll(ctx, "reenroll", current.EnrollmentID(), opts, tokenAuth(current))
}

func (c *Client) enroll(ctx context.Context, op, enrollmentID string, opts EnrollOptions, authn auth) (*wallet.Identity, error) {
	key, err := wallet.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("fabric ca %s: %w", op, err)
	}
	csr, err := newCSR(key, enrollmentID, opts.Hosts)
	if err != nil {
		return nil, fmt.Errorf("fabric ca %s: %w", op, err)
	}
	in := enrollNet{Hosts: opts.Hosts, Request: string(csr), Profile: opts.Profile, CAName: c.caName, AttrReqs: opts.AttrReqs}
	var out enrollResultNet
	if err := c.call(ctx, op, op, in, authn, &out); err != nil {
		return nil, err
	}
	certPEM, chainPEM, err := out.decode()
	if err != nil {
		return nil, fmt.Errorf("fabric ca %s: %w", op, err)
	}
	id, err := wallet.NewIdentity(c.mspID, certPEM, key, chainPEM)
	if err != nil {
		return nil, fmt.Errorf("fabric ca %s: %w", op, err)
	}
	return id, nil
}

// decode extracts and checks the certificate and CA chain of an enrolment answer.
func (out enrollResultNet) decode() (certPEM, chainPEM []byte, err error) {
	certPEM, err = base64.StdEncoding.DecodeString(out.Cert)
	if err != nil {
		return nil, nil, fmt.Errorf("decode certificate: %w", err)
	}
	info, err := out.ServerInfo.decode()
	if err != nil {
		return nil, nil, err
	}
	if err := verifyIssued(certPEM, info.ChainPEM); err != nil {
		return nil, nil, err
	}
	return certPEM, info.ChainPEM, nil
}

// newCSR builds the signing request. Fabric CA insists the subject CN equals the enrollment ID.
func newCSR(key *ecdsa.PrivateKey, cn string, hosts []string) ([]byte, error) {
	tmpl := &x509.CertificateRequest{
		Subject:            pkix.Name{CommonName: cn},
		SignatureAlgorithm: x509.ECDSAWithSHA256,
		DNSNames:           hosts,
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("create csr: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// verifyIssued checks that the certificate chains to the CA that answered, so a
// misconfigured URL pointing at another CA fails now rather than at the first transaction.
func verifyIssued(certPEM, chainPEM []byte) error {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return fmt.Errorf("issued certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("parse issued certificate: %w", err)
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for rest := chainPEM; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		ca, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return fmt.Errorf("parse CA chain: %w", err)
		}
		if ca.Subject.String() == ca.Issuer.String() {
			roots.AddCert(ca)
		} else {
			inters.AddCert(ca)
		}
	}
	_, err = cert.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inters,
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		CurrentTime: cert.NotBefore,
	})
	if err != nil {
		return fmt.Errorf("issued certificate does not chain to the CA: %w", err)
	}
	return nil
}
