package network_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func csrFor(t *testing.T, key *ecdsa.PrivateKey, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	require.NoError(t, err)
	return der
}

func TestIssueUserFromCSR(t *testing.T) {
	dir := t.TempDir()
	cons := network.DefaultConsortium()
	require.NoError(t, network.GenerateMaterial(dir, cons))
	clinic, _ := cons.Org(network.ClinicMSP)
	patients, _ := cons.Org(network.PatientsMSP)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)

	u, err := network.IssueUserFromCSR(dir, clinic, network.UserSpec{Name: "dr-a", Role: network.RoleClinician},
		csrFor(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "dr-a"}}))
	require.NoError(t, err)
	require.Nil(t, u.Key)
	require.True(t, u.Cert.PublicKey.(*ecdsa.PublicKey).Equal(&key.PublicKey), "the certificate is for the requester's key")
	require.Equal(t, []string{"client"}, u.Cert.Subject.OrganizationalUnit, "the CA decides the node OU")
	require.NoDirExists(t, filepath.Join(u.Dir, "msp", "keystore"), "the CA never sees the key")
	loaded, err := network.LoadUser(dir, clinic, "dr-a")
	require.NoError(t, err)
	require.Nil(t, loaded.Key)
	require.Equal(t, network.RoleClinician, loaded.Role)

	p, err := network.IssueUserFromCSR(dir, patients, network.UserSpec{Name: "pat", Role: network.RolePatient},
		csrFor(t, key, &x509.CertificateRequest{}))
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{32}$`, p.EnrollmentID, "the CA picks a patient's pseudonym")

	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	forged := csrFor(t, key, &x509.CertificateRequest{})
	forged[len(forged)-3] ^= 0xff // the signature, at the end
	rsaLike, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	require.NoError(t, err)
	attrExt := pkix.Extension{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}, Value: []byte(`{"attrs":{"role":"admin"}}`)}
	tests := []struct {
		name string
		spec network.UserSpec
		csr  []byte
	}{
		{"not DER", network.UserSpec{Name: "x1", Role: network.RoleClinician}, []byte("hello")},
		{"bad signature", network.UserSpec{Name: "x2", Role: network.RoleClinician}, forged},
		{"P-384 key", network.UserSpec{Name: "x3", Role: network.RoleClinician}, csrFor(t, rsaLike, &x509.CertificateRequest{})},
		{"another CN", network.UserSpec{Name: "x4", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "dr-b"}})},
		{"patient names itself", network.UserSpec{Name: "x5", Role: network.RolePatient}, csrFor(t, otherKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "Jane Doe"}})},
		{"OU", network.UserSpec{Name: "x6", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{Subject: pkix.Name{OrganizationalUnit: []string{"admin"}}})},
		{"organisation", network.UserSpec{Name: "x7", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "x7", Organization: []string{"other"}}})},
		{"role attribute", network.UserSpec{Name: "x8", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{ExtraExtensions: []pkix.Extension{attrExt}})},
		{"DNS name", network.UserSpec{Name: "x9", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{DNSNames: []string{"peer0.clinic.careledger.local"}})},
		{"IP address", network.UserSpec{Name: "x10", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := network.IssueUserFromCSR(dir, clinic, tt.spec, tt.csr)
			require.ErrorIs(t, err, network.ErrInvalidCSR)
			require.NoDirExists(t, filepath.Join(network.OrgDir(dir, clinic), "users", tt.spec.Name+"@"+clinic.Domain))
		})
	}

	_, err = network.IssueUserFromCSR(dir, clinic, network.UserSpec{Name: "dr-a", Role: network.RoleClinician}, csrFor(t, otherKey, &x509.CertificateRequest{}))
	require.ErrorContains(t, err, "already exists")
}

func TestNodeRefusesReadableKeys(t *testing.T) {
	dir := t.TempDir()
	cons := network.DefaultConsortium()
	require.NoError(t, network.GenerateMaterial(dir, cons))
	require.NoError(t, network.CheckKeyPermissions(dir, cons))
	patients, _ := cons.Org(network.PatientsMSP)
	key := filepath.Join(network.OrgDir(dir, patients), "users", "gateway@"+patients.Domain, "tls", "client.key")
	require.NoError(t, os.Chmod(key, 0o640))

	_, err := network.New(network.Config{Dir: dir, Chaincode: testChaincode{}})
	var insecure *network.InsecureKeyError
	require.True(t, errors.As(err, &insecure), "%v", err)
	require.Equal(t, key, insecure.Path)
	require.ErrorContains(t, err, "chmod 600 "+key, "the message says how to fix it")
}
