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
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
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

// User is an identity on disk: a certificate and, for the node's service identities, its
// private key. A member's key is not on disk (see IssueUserFromCSR).
type User struct {
	// MSPID is the organisation the certificate belongs to.
	MSPID string
	// Name is the local folder name, EnrollmentID the hf.EnrollmentID attribute (the subject
	// CN), Role the CareLedger role attribute.
	Name, EnrollmentID, Role string
	// Dir is users/<Name>@<domain>, with msp/{signcerts,keystore} and tls/ below it.
	Dir string
	// CertPEM and Cert are the signing certificate, Key its private key: nil for a member
	// enrolled by CSR, whose key lives with the member.
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

// Signer returns the user's private key as a crypto.Signer, or nil when the key is not here.
func (u *User) Signer() crypto.Signer {
	if u.Key == nil {
		return nil
	}
	return u.Key
}

// defaultUsers are the identities generated with an organisation's material: the node's own
// service identities, whose keys stay in the node's material (readable only by the service
// user). Every organisation, client-only ones included, has a gateway identity: the API acts
// for its members through it (a client-only organisation's gateway talks to another
// organisation's peer). A peer organisation's gateway carries the peer node OU (see
// userNodeOU). The admin sets up the ledger at first start; the anonymiser is the operator's
// service. Members (patients, clinicians, manufacturers) are never generated here: their keys
// are created where they live and enrolled with IssueUserFromCSR.
func defaultUsers(_ Org, operator bool) []UserSpec {
	users := []UserSpec{{Name: "Admin", Role: RoleAdmin, Admin: true}, {Name: gatewayUser, Role: RoleGateway}}
	if operator {
		users = append(users, UserSpec{Name: "anonymizer", Role: RoleAnonymizer})
	}
	return users
}

// ServiceUser reports whether name is one of the node's own service identities in
// organisation o (see GenerateMaterial), whose keys belong in the node's material; every other
// user is a member, whose key must not be there.
func ServiceUser(c Consortium, o Org, name string) bool {
	for _, spec := range defaultUsers(o, c.Operator().MSPID == o.MSPID) {
		if spec.Name == name {
			return true
		}
	}
	return false
}

// IssueUser creates a new user of organisation o: it generates the key in the calling process,
// has the organisation's CA certify it through IssueUserFromCSR and returns the user with its
// key. The key is never written: keep it (in a wallet) or lose it. It fails if the user already
// exists.
func IssueUser(dir string, o Org, spec UserSpec) (*User, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("issue user: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, fmt.Errorf("issue user: %w", err)
	}
	u, err := IssueUserFromCSR(dir, o, spec, csr)
	if err != nil {
		return nil, err
	}
	u.Key = key
	return u, nil
}

var userNameRE = nameRE

// enrollmentIDFor validates spec and returns the enrollment ID the CA gives it.
func enrollmentIDFor(spec UserSpec) (string, error) {
	if !userNameRE.MatchString(spec.Name) || strings.Contains(spec.Name, "@") {
		return "", fmt.Errorf("%w: user name %q", ErrInvalidConfig, spec.Name)
	}
	if spec.Role == "" {
		return "", fmt.Errorf("%w: user %q has no role", ErrInvalidConfig, spec.Name)
	}
	if spec.Role == RolePatient {
		// Patients are known on the ledger by pseudonym only.
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	}
	if spec.EnrollmentID != "" {
		return spec.EnrollmentID, nil
	}
	return spec.Name, nil
}

// newUserDir returns users/<Name>@<domain> and its base name, failing if it exists.
func newUserDir(orgDir string, o Org, spec UserSpec) (string, string, error) {
	base := spec.Name + "@" + o.Domain
	userDir := filepath.Join(orgDir, "users", base)
	if _, err := os.Stat(userDir); err == nil {
		return "", "", fmt.Errorf("user %s: already exists", spec.Name)
	}
	return userDir, base, nil
}

// publicUserFiles are the files of a user's MSP folder that hold no secret.
func publicUserFiles(o Org, base string, ca, tlsca *caPair, certPEM []byte) map[string][]byte {
	return map[string][]byte{
		"msp/signcerts/" + base + "-cert.pem":            certPEM,
		"msp/cacerts/ca." + o.Domain + "-cert.pem":       ca.certPEM,
		"msp/tlscacerts/tlsca." + o.Domain + "-cert.pem": tlsca.certPEM,
		"msp/config.yaml":                                nodeOUConfig(o),
		"tls/ca.crt":                                     tlsca.certPEM,
	}
}

// issueUser creates a service identity with its keys in the node's material (mode 0600).
func issueUser(orgDir string, o Org, ca, tlsca *caPair, spec UserSpec) (*User, error) {
	enrollmentID, err := enrollmentIDFor(spec)
	if err != nil {
		return nil, err
	}
	userDir, base, err := newUserDir(orgDir, o, spec)
	if err != nil {
		return nil, err
	}
	ou := userNodeOU(o, spec)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	certPEM, cert, err := signUserCert(ca, &key.PublicKey, spec.Role, enrollmentID, ou)
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
	files := publicUserFiles(o, base, ca, tlsca, certPEM)
	files["msp/keystore/"+keyFileName] = mustKeyPEM(key)
	files["tls/client.crt"] = tlsPEM
	files["tls/client.key"] = mustKeyPEM(tlsKey)
	if err := writeFiles(userDir, files); err != nil {
		return nil, err
	}
	return &User{MSPID: o.MSPID, Name: spec.Name, EnrollmentID: enrollmentID, Role: spec.Role,
		Dir: userDir, CertPEM: certPEM, Cert: cert, Key: key}, nil
}

// userNodeOU is the node OU a user is issued with: admin for administrators; peer for the
// gateway service of an organisation that runs peers, because channel policies name node OUs,
// not CareLedger roles, and the gateway must follow events as a peer of its organisation
// does; client for everyone else, a client-only organisation's gateway included.
func userNodeOU(o Org, spec UserSpec) string {
	switch {
	case spec.Admin:
		return "admin"
	case spec.Role == RoleGateway && o.Peer:
		return "peer"
	default:
		return "client"
	}
}

// signUserCert issues a signing certificate carrying the Fabric CA attributes chaincode reads.
func signUserCert(ca *caPair, pub *ecdsa.PublicKey, role, enrollmentID, ou string) ([]byte, *x509.Certificate, error) {
	attrs, err := json.Marshal(map[string]map[string]string{"attrs": {
		"role": role, "hf.EnrollmentID": enrollmentID, "hf.Type": ou, "hf.Affiliation": "",
	}})
	if err != nil {
		return nil, nil, err
	}
	tmpl := leafTemplate(enrollmentID, ou)
	tmpl.ExtraExtensions = []pkix.Extension{{Id: attrOID, Value: attrs}}
	return signCert(tmpl, ca, pub)
}

// gatewayUser is the folder name of an organisation's gateway service identity.
const gatewayUser = "gateway"

// upgradeGateways re-issues with the peer node OU the gateway certificate of each peer
// organisation that an earlier CareLedger issued as a client, keeping its key, enrollment ID
// and attributes, so that data directories created before streams were guarded keep a
// gateway that may follow events. It returns the users it re-issued.
func upgradeGateways(dir string, c Consortium) ([]*User, error) {
	var out []*User
	for _, o := range c.Orgs {
		if !o.Peer {
			continue
		}
		u, err := LoadUser(dir, o, gatewayUser)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("upgrade gateway identity: %w", err)
		}
		want := userNodeOU(o, UserSpec{Role: u.Role})
		if u.Role != RoleGateway || slices.Contains(u.Cert.Subject.OrganizationalUnit, want) {
			continue
		}
		ca, err := loadCA(filepath.Join(OrgDir(dir, o), "ca"))
		if err != nil {
			return out, fmt.Errorf("upgrade gateway identity of %s: %w", o.MSPID, err)
		}
		certPEM, cert, err := signUserCert(ca, &u.Key.PublicKey, u.Role, u.EnrollmentID, want)
		if err != nil {
			return out, fmt.Errorf("upgrade gateway identity of %s: %w", o.MSPID, err)
		}
		path := filepath.Join(u.Dir, "msp", "signcerts", gatewayUser+"@"+o.Domain+"-cert.pem")
		if err := replaceFile(path, certPEM, 0o644); err != nil {
			return out, fmt.Errorf("upgrade gateway identity of %s: %w", o.MSPID, err)
		}
		u.CertPEM, u.Cert = certPEM, cert
		out = append(out, u)
	}
	return out, nil
}

// LoadUser reads users/<name>@<domain>/msp of organisation o. A member enrolled by CSR has
// no key there: its User has a nil Key.
func LoadUser(dir string, o Org, name string) (*User, error) {
	userDir := filepath.Join(OrgDir(dir, o), "users", name+"@"+o.Domain)
	certPEM, err := os.ReadFile(signCertFile(filepath.Join(userDir, "msp"), name+"@"+o.Domain))
	if err != nil {
		return nil, fmt.Errorf("load user %s of %s: %w", name, o.MSPID, errors.Join(ErrNotFound, err))
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load user %s of %s: %w", name, o.MSPID, err)
	}
	key, err := readKey(keystoreFile(filepath.Join(userDir, "msp")))
	if err != nil {
		// A member enrolled by CSR has no key here: it is with the member.
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("load user %s of %s: %w", name, o.MSPID, err)
		}
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
