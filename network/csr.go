package network

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
)

// ErrInvalidCSR is returned, wrapped, when a certificate signing request is malformed, is not
// signed by the key it names, or asks for something the CA decides (subject fields other than
// the enrollment ID, extensions, alternative names, attributes).
var ErrInvalidCSR = errors.New("invalid certificate signing request")

// IssueUserFromCSR issues a user of organisation o for the P-256 key that signed csrDER (a
// DER PKCS#10 request), as Fabric CA does at enrolment: the key stays where the member
// created it and the CA never sees it. The CA decides the subject, node OU, attributes and
// validity from spec; the request may name at most the enrollment ID as its subject CN (for
// patients nothing, as the CA picks their pseudonym) and must ask for no extension.
// Only the public material is written, to users/<Name>@<domain>: the returned User has no Key.
// It fails if the user already exists.
func IssueUserFromCSR(dir string, o Org, spec UserSpec, csrDER []byte) (*User, error) {
	od := OrgDir(dir, o)
	ca, err := loadCA(filepath.Join(od, "ca"))
	if err != nil {
		return nil, fmt.Errorf("issue user from csr: %w", err)
	}
	tlsca, err := loadCA(filepath.Join(od, "tlsca"))
	if err != nil {
		return nil, fmt.Errorf("issue user from csr: %w", err)
	}
	u, err := issueFromCSR(od, o, ca, tlsca, spec, csrDER)
	if err != nil {
		return nil, fmt.Errorf("issue user from csr: %w", err)
	}
	return u, nil
}

func issueFromCSR(orgDir string, o Org, ca, tlsca *caPair, spec UserSpec, csrDER []byte) (*User, error) {
	enrollmentID, err := enrollmentIDFor(spec)
	if err != nil {
		return nil, err
	}
	pub, err := checkCSR(csrDER, spec, enrollmentID)
	if err != nil {
		return nil, err
	}
	userDir, base, err := newUserDir(orgDir, o, spec)
	if err != nil {
		return nil, err
	}
	certPEM, cert, err := signUserCert(ca, pub, spec.Role, enrollmentID, userNodeOU(o, spec))
	if err != nil {
		return nil, err
	}
	files := publicUserFiles(o, base, ca, tlsca, certPEM)
	if err := writeFiles(userDir, files); err != nil {
		return nil, err
	}
	return &User{MSPID: o.MSPID, Name: spec.Name, EnrollmentID: enrollmentID, Role: spec.Role,
		Dir: userDir, CertPEM: certPEM, Cert: cert}, nil
}

// checkCSR verifies the request's signature and that it asks only for what the CA would
// grant anyway, and returns the key it certifies.
func checkCSR(der []byte, spec UserSpec, enrollmentID string) (*ecdsa.PublicKey, error) {
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %w", ErrInvalidCSR, err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: key is %T, want ECDSA P-256", ErrInvalidCSR, csr.PublicKey)
	}
	cn := csr.Subject.CommonName
	if cn != "" && (spec.Role == RolePatient || cn != enrollmentID) {
		// A patient's pseudonym is the CA's choice; anyone else may only repeat their ID.
		return nil, fmt.Errorf("%w: subject CN is the enrollment ID the CA assigns", ErrInvalidCSR)
	}
	if len(csr.Subject.Names) > 1 || (len(csr.Subject.Names) == 1 && cn == "") {
		return nil, fmt.Errorf("%w: subject fields other than CN are set by the CA", ErrInvalidCSR)
	}
	if len(csr.Extensions) > 0 || len(csr.DNSNames)+len(csr.EmailAddresses)+len(csr.IPAddresses)+len(csr.URIs) > 0 {
		return nil, fmt.Errorf("%w: extensions, attributes and alternative names are set by the CA", ErrInvalidCSR)
	}
	return pub, nil
}
