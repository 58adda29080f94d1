package network

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// UserSpec asks for a new user identity.
type UserSpec struct {
	// Name is the local folder name (users/<Name>@<domain>); it never appears in the certificate
	// of a patient.
	Name string
	// Role is the CareLedger role attribute, e.g. RoleClinician.
	Role string
	// EnrollmentID is hf.EnrollmentID and the subject CN. Empty means Name, except for patients,
	// who always get a random pseudonym.
	EnrollmentID string
	// Admin marks the identity with the "admin" node OU instead of "client".
	Admin bool
}

// User is an identity on disk: a certificate with its private key.
type User struct {
	// MSPID is the organisation the certificate belongs to.
	MSPID string
	// Name is the local folder name, EnrollmentID the hf.EnrollmentID attribute (the subject
	// CN), Role the CareLedger role attribute.
	Name, EnrollmentID, Role string
	// Dir is users/<Name>@<domain>, with msp/{signcerts,keystore} and tls/ below it.
	Dir string
	// CertPEM and Cert are the signing certificate, Key its private key.
	CertPEM []byte
	Cert    *x509.Certificate
	Key     *ecdsa.PrivateKey
}

// String names the user without exposing its key, so a User is safe to print or log.
func (u *User) String() string { return u.MSPID + "/" + u.Name }

// LogValue logs who the user is without the key or the enrollment ID, which for a patient is a
// pseudonym that must not reach logs.
func (u *User) LogValue() slog.Value {
	return slog.GroupValue(slog.String("msp", u.MSPID), slog.String("name", u.Name), slog.String("role", u.Role))
}

// Signer returns the user's private key as a crypto.Signer.
func (u *User) Signer() crypto.Signer { return u.Key }

// defaultUsers are the users generated with an organisation's material. Every organisation,
// client-only ones included, has a gateway identity: the API acts for its members through it
// (a client-only organisation's gateway talks to another organisation's peer).
func defaultUsers(o Org, operator bool) []UserSpec {
	users := []UserSpec{{Name: "Admin", Role: RoleAdmin, Admin: true}, {Name: "gateway", Role: RoleGateway}}
	switch {
	case o.MSPID == PharmaMSP || !o.Peer:
		users = append(users, UserSpec{Name: "manufacturer1", Role: RoleManufacturer})
	case o.MSPID == ClinicMSP:
		users = append(users, UserSpec{Name: "clinician1", Role: RoleClinician})
	}
	if operator {
		users = append(users,
			UserSpec{Name: "patient1", Role: RolePatient},
			UserSpec{Name: "anonymizer", Role: RoleAnonymizer})
	}
	return users
}

// IssueUser creates a new user of organisation o, signed by the organisation's generated CA,
// and writes it to users/<Name>@<domain>. It fails if the user already exists.
func IssueUser(dir string, o Org, spec UserSpec) (*User, error) {
	od := OrgDir(dir, o)
	ca, err := loadCA(filepath.Join(od, "ca"))
	if err != nil {
		return nil, fmt.Errorf("issue user: %w", err)
	}
	tlsca, err := loadCA(filepath.Join(od, "tlsca"))
	if err != nil {
		return nil, fmt.Errorf("issue user: %w", err)
	}
	u, err := issueUser(od, o, ca, tlsca, spec)
	if err != nil {
		return nil, fmt.Errorf("issue user: %w", err)
	}
	return u, nil
}

var userNameRE = nameRE

func issueUser(orgDir string, o Org, ca, tlsca *caPair, spec UserSpec) (*User, error) {
	if !userNameRE.MatchString(spec.Name) || strings.Contains(spec.Name, "@") {
		return nil, fmt.Errorf("%w: user name %q", ErrInvalidConfig, spec.Name)
	}
	if spec.Role == "" {
		return nil, fmt.Errorf("%w: user %q has no role", ErrInvalidConfig, spec.Name)
	}
	enrollmentID := spec.EnrollmentID
	if spec.Role == RolePatient {
		// Patients are known on the ledger by pseudonym only.
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		enrollmentID = hex.EncodeToString(b)
	}
	if enrollmentID == "" {
		enrollmentID = spec.Name
	}
	userDir := filepath.Join(orgDir, "users", spec.Name+"@"+o.Domain)
	if _, err := os.Stat(userDir); err == nil {
		return nil, fmt.Errorf("user %s: already exists", spec.Name)
	}
	ou := "client"
	if spec.Admin {
		ou = "admin"
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	attrs, err := json.Marshal(map[string]map[string]string{"attrs": {
		"role": spec.Role, "hf.EnrollmentID": enrollmentID, "hf.Type": ou, "hf.Affiliation": "",
	}})
	if err != nil {
		return nil, err
	}
	tmpl := leafTemplate(enrollmentID, ou)
	tmpl.ExtraExtensions = []pkix.Extension{{Id: attrOID, Value: attrs}}
	certPEM, cert, err := signCert(tmpl, ca, &key.PublicKey)
	if err != nil {
		return nil, err
	}
	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tlsTmpl := leafTemplate(enrollmentID, ou)
	tlsTmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tlsTmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	tlsPEM, _, err := signCert(tlsTmpl, tlsca, &tlsKey.PublicKey)
	if err != nil {
		return nil, err
	}
	base := spec.Name + "@" + o.Domain
	files := map[string][]byte{
		"msp/signcerts/" + base + "-cert.pem":            certPEM,
		"msp/keystore/" + keyFileName:                    mustKeyPEM(key),
		"msp/cacerts/ca." + o.Domain + "-cert.pem":       ca.certPEM,
		"msp/tlscacerts/tlsca." + o.Domain + "-cert.pem": tlsca.certPEM,
		"msp/config.yaml":                                nodeOUConfig(o),
		"tls/ca.crt":                                     tlsca.certPEM,
		"tls/client.crt":                                 tlsPEM,
		"tls/client.key":                                 mustKeyPEM(tlsKey),
	}
	if err := writeFiles(userDir, files); err != nil {
		return nil, err
	}
	return &User{MSPID: o.MSPID, Name: spec.Name, EnrollmentID: enrollmentID, Role: spec.Role,
		Dir: userDir, CertPEM: certPEM, Cert: cert, Key: key}, nil
}

// LoadUser reads users/<name>@<domain>/msp of organisation o.
func LoadUser(dir string, o Org, name string) (*User, error) {
	userDir := filepath.Join(OrgDir(dir, o), "users", name+"@"+o.Domain)
	certPEM, err := os.ReadFile(filepath.Join(userDir, "msp", "signcerts", name+"@"+o.Domain+"-cert.pem"))
	if err != nil {
		return nil, fmt.Errorf("load user %s of %s: %w", name, o.MSPID, errors.Join(ErrNotFound, err))
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load user %s of %s: %w", name, o.MSPID, err)
	}
	key, err := readKey(filepath.Join(userDir, "msp", "keystore", keyFileName))
	if err != nil {
		return nil, fmt.Errorf("load user %s of %s: %w", name, o.MSPID, err)
	}
	attrs, _ := certAttributes(cert)
	enrollmentID := attrs["hf.EnrollmentID"]
	if enrollmentID == "" {
		enrollmentID = cert.Subject.CommonName
	}
	return &User{MSPID: o.MSPID, Name: name, EnrollmentID: enrollmentID, Role: attrs["role"],
		Dir: userDir, CertPEM: certPEM, Cert: cert, Key: key}, nil
}

// certAttributes returns the Fabric CA attributes of a certificate, if any.
func certAttributes(cert *x509.Certificate) (map[string]string, error) {
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(attrOID) {
			var v struct {
				Attrs map[string]string `json:"attrs"`
			}
			if err := json.Unmarshal(ext.Value, &v); err != nil {
				return nil, fmt.Errorf("parse certificate attributes: %w", err)
			}
			return v.Attrs, nil
		}
	}
	return map[string]string{}, nil
}
