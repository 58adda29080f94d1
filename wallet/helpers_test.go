package wallet_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

// attrOID is where Fabric CA puts attributes in a certificate.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// testCA is a throwaway CA generated per test; no key is ever committed.
type testCA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test-ca", Organization: []string{"Test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &testCA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key: key}
}

// issue returns a PEM certificate for key with Fabric CA style attributes.
func (ca *testCA) issue(t testing.TB, cn string, pub *ecdsa.PublicKey, attrs map[string]string) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(12 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if attrs != nil {
		val, err := json.Marshal(map[string]any{"attrs": attrs})
		require.NoError(t, err)
		tmpl.ExtraExtensions = []pkix.Extension{{Id: attrOID, Value: val}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func newTestIdentity(t testing.TB, role, enrollmentID string) *wallet.Identity {
	t.Helper()
	ca := newTestCA(t)
	key, err := wallet.GenerateKey()
	require.NoError(t, err)
	certPEM := ca.issue(t, enrollmentID, &key.PublicKey, map[string]string{
		"role": role, "hf.EnrollmentID": enrollmentID, "hf.Type": "client", "hf.Affiliation": "",
	})
	id, err := wallet.NewIdentity("PatientsMSP", certPEM, key, ca.certPEM)
	require.NoError(t, err)
	return id
}

// cheap keeps argon2id fast in tests; production uses wallet.DefaultKDFCost.
var cheap = wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 64, Threads: 1})

// exportedKey exports id's key the only way there is, ExportMSP, and returns the key file
// and its PEM.
func exportedKey(t testing.TB, id *wallet.Identity) (string, []byte) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, wallet.ExportMSP(id, dir))
	keys, err := filepath.Glob(filepath.Join(dir, "keystore", "*_sk"))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	keyPEM, err := os.ReadFile(keys[0])
	require.NoError(t, err)
	return keys[0], keyPEM
}
