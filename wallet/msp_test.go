package wallet_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

func TestMSPExportImport(t *testing.T) {
	id := newTestIdentity(t, wallet.RoleClinician, "dr-msp")
	dir := filepath.Join(t.TempDir(), "msp")
	require.NoError(t, wallet.ExportMSP(id, dir))

	keys, err := filepath.Glob(filepath.Join(dir, "keystore", "*_sk"))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.Len(t, filepath.Base(keys[0]), 64+3, "keystore file is named by the SKI like Fabric's BCCSP")
	st, err := os.Stat(keys[0])
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.FileExists(t, filepath.Join(dir, "signcerts", "cert.pem"))
	require.FileExists(t, filepath.Join(dir, "cacerts", "ca.pem"))

	got, err := wallet.ImportMSP(dir, "ClinicMSP")
	require.NoError(t, err)
	require.Equal(t, "ClinicMSP", got.MSPID())
	require.Equal(t, id.CertificatePEM(), got.CertificatePEM())
	require.Equal(t, id.CAChainPEM(), got.CAChainPEM())
	require.Equal(t, "dr-msp", got.EnrollmentID())

	require.ErrorIs(t, wallet.ExportMSP(id, dir), wallet.ErrExists)
}

// Fabric's cryptogen writes a SEC 1 or PKCS#8 key as keystore/priv_sk, and a re-enrolled
// fabric-ca-client MSP keeps the old key next to the new one.
func TestImportMSPPicksMatchingKey(t *testing.T) {
	ca := newTestCA(t)
	oldKey, err := wallet.GenerateKey()
	require.NoError(t, err)
	key, err := wallet.GenerateKey()
	require.NoError(t, err)
	dir := t.TempDir()
	for _, d := range []string{"signcerts", "keystore"} {
		require.NoError(t, os.MkdirAll(filepath.Join(dir, d), 0o700))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "signcerts", "User1@org1.example.com-cert.pem"),
		ca.issue(t, "User1", &key.PublicKey, nil), 0o644))
	oldDER, err := x509.MarshalPKCS8PrivateKey(oldKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keystore", "0000_sk"),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: oldDER}), 0o600))
	sec1, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keystore", "priv_sk"),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keystore", "garbage_sk"), []byte("nope"), 0o600))

	id, err := wallet.ImportMSP(dir, "Org1MSP")
	require.NoError(t, err)
	require.Equal(t, "User1", id.EnrollmentID())
	require.True(t, key.PublicKey.Equal(id.Signer().Public()))
}

func TestImportMSPErrors(t *testing.T) {
	ca := newTestCA(t)
	key, err := wallet.GenerateKey()
	require.NoError(t, err)
	other, err := wallet.GenerateKey()
	require.NoError(t, err)
	otherDER, err := x509.MarshalPKCS8PrivateKey(other)
	require.NoError(t, err)
	certPEM := ca.issue(t, "u", &key.PublicKey, nil)

	tests := []struct {
		name    string
		files   map[string][]byte
		wantErr error
	}{
		{"missing folder", nil, os.ErrNotExist},
		{"no key", map[string][]byte{"signcerts/c.pem": certPEM, "keystore/": nil}, wallet.ErrInvalidIdentity},
		{"key of someone else", map[string][]byte{
			"signcerts/c.pem": certPEM,
			"keystore/x_sk":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: otherDER}),
		}, wallet.ErrInvalidIdentity},
		{"two certificates", map[string][]byte{"signcerts/a.pem": certPEM, "signcerts/b.pem": certPEM, "keystore/": nil}, wallet.ErrInvalidIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "msp")
			for name, data := range tt.files {
				p := filepath.Join(dir, name)
				if data == nil {
					require.NoError(t, os.MkdirAll(p, 0o700))
					continue
				}
				require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
				require.NoError(t, os.WriteFile(p, data, 0o600))
			}
			_, err := wallet.ImportMSP(dir, "M")
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestImportKeyPairAndRemovePlaintextKey(t *testing.T) {
	id := newTestIdentity(t, wallet.RolePatient, "p-plain")
	keyFile, keyPEM := exportedKey(t, id)

	got, err := wallet.ImportKeyPair(id.MSPID(), id.CertificatePEM(), keyPEM, nil)
	require.NoError(t, err)
	require.Equal(t, id.LedgerID(), got.LedgerID())
	_, err = wallet.ImportKeyPair(id.MSPID(), id.CertificatePEM(), []byte("not a key"), nil)
	require.ErrorIs(t, err, wallet.ErrInvalidIdentity)
	other := newTestIdentity(t, wallet.RolePatient, "p-other")
	_, err = wallet.ImportKeyPair(id.MSPID(), other.CertificatePEM(), keyPEM, nil)
	require.ErrorIs(t, err, wallet.ErrInvalidIdentity, "the key must belong to the certificate")

	require.NoError(t, wallet.RemovePlaintextKey(keyFile))
	require.NoFileExists(t, keyFile)
	require.Error(t, wallet.RemovePlaintextKey(keyFile))
}
