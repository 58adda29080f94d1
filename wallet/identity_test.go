package wallet_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"testing"

	"github.com/careledger/careledger/wallet"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

func TestIdentityAttributes(t *testing.T) {
	ca := newTestCA(t)
	key, err := wallet.GenerateKey()
	require.NoError(t, err)

	tests := []struct {
		name     string
		cn       string
		attrs    map[string]string
		wantRole string
		wantEnr  string
	}{
		{"fabric ca attributes", "ignored-cn", map[string]string{"role": "clinician", "hf.EnrollmentID": "dr-who"}, "clinician", "dr-who"},
		{"no enrollment id attribute falls back to CN", "nurse-1", map[string]string{"role": "clinician"}, "clinician", "nurse-1"},
		{"no attributes at all", "peer0", nil, "", "peer0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := wallet.NewIdentity("ClinicMSP", ca.issue(t, tt.cn, &key.PublicKey, tt.attrs), key, nil)
			require.NoError(t, err)
			require.Equal(t, "ClinicMSP", id.MSPID())
			require.Equal(t, tt.wantRole, id.Role())
			require.Equal(t, tt.wantEnr, id.EnrollmentID())
			sum := sha256.Sum256([]byte("careledger/id/v1\x00ClinicMSP\x00" + tt.wantEnr))
			require.Equal(t, hex.EncodeToString(sum[:16]), id.LedgerID())
			require.Len(t, id.LedgerID(), 32)
			require.Equal(t, id.Certificate().NotAfter, id.NotAfter())
		})
	}
}

func TestLedgerIDSeparatesFields(t *testing.T) {
	// Without the separator "AB"+"C" and "A"+"BC" would collide.
	require.NotEqual(t, wallet.LedgerID("AB", "C"), wallet.LedgerID("A", "BC"))
}

func TestNewIdentityRejectsBadInput(t *testing.T) {
	ca := newTestCA(t)
	key, err := wallet.GenerateKey()
	require.NoError(t, err)
	other, err := wallet.GenerateKey()
	require.NoError(t, err)
	certPEM := ca.issue(t, "a", &key.PublicKey, nil)

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	rsaDER, err := x509.CreateCertificate(rand.Reader, ca.cert, ca.cert, &rsaKey.PublicKey, ca.key)
	require.NoError(t, err)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: rsaDER})

	tests := []struct {
		name    string
		msp     string
		cert    []byte
		key     *ecdsa.PrivateKey
		chain   []byte
		wantErr error
	}{
		{"key of another certificate", "M", certPEM, other, nil, wallet.ErrInvalidIdentity},
		{"no key", "M", certPEM, nil, nil, wallet.ErrInvalidIdentity},
		{"no msp", "", certPEM, key, nil, wallet.ErrInvalidIdentity},
		{"not PEM", "M", []byte("hello"), key, nil, wallet.ErrInvalidIdentity},
		{"two certificates", "M", append(bytes.Clone(certPEM), certPEM...), key, nil, wallet.ErrInvalidIdentity},
		{"RSA certificate", "M", rsaPEM, key, nil, wallet.ErrInvalidIdentity},
		{"garbage chain", "M", certPEM, key, []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), wallet.ErrInvalidIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wallet.NewIdentity(tt.msp, tt.cert, tt.key, tt.chain)
			require.ErrorIs(t, err, tt.wantErr)
		})
	}
}

func TestSignatureIsLowSAndVerifies(t *testing.T) {
	id := newTestIdentity(t, wallet.RoleClinician, "dr-1")
	pub := id.Certificate().PublicKey.(*ecdsa.PublicKey)
	halfN := new(big.Int).Rsh(elliptic.P256().Params().N, 1)

	var _ identity.Sign = id.Sign // must fit fabric-gateway's client.WithSign
	signers := map[string]func([]byte) ([]byte, error){
		"crypto.Signer": func(d []byte) ([]byte, error) { return id.Signer().Sign(rand.Reader, d, crypto.SHA256) },
		"identity.Sign": id.Sign,
	}
	for name, signFn := range signers {
		t.Run(name, func(t *testing.T) {
			// A random key gives high S half of the time; 64 signatures make a miss negligible.
			for i := range 64 {
				digest := sha256.Sum256([]byte(fmt.Sprint(i)))
				sig, err := signFn(digest[:])
				require.NoError(t, err)
				require.True(t, ecdsa.VerifyASN1(pub, digest[:], sig))
				var rs struct{ R, S *big.Int }
				_, err = asn1.Unmarshal(sig, &rs)
				require.NoError(t, err)
				require.LessOrEqual(t, rs.S.Cmp(halfN), 0, "S must be low")
			}
		})
	}
	require.True(t, pub.Equal(id.Signer().Public()))

	gid, err := id.GatewayIdentity()
	require.NoError(t, err)
	require.Equal(t, "PatientsMSP", gid.MspID())
	require.Equal(t, id.CertificatePEM(), gid.Credentials())
}

func TestIdentityNeverPrintsSecrets(t *testing.T) {
	id := newTestIdentity(t, wallet.RolePatient, "3f9a0c1e-pseudonym")
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("enrolled", "identity", id, "signer", id.Signer())
	fmt.Fprintf(&buf, "%v %+v %#v %s %v %+v %#v", id, id, id, id, id.Signer(), id.Signer(), id.Signer())

	// The only way to see the private scalar is an explicit export.
	_, keyPEM := exportedKey(t, id)
	block, _ := pem.Decode(keyPEM)
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	require.NoError(t, err)
	d, err := k.(*ecdsa.PrivateKey).Bytes()
	require.NoError(t, err)

	out := buf.String()
	require.Contains(t, out, "PatientsMSP")
	require.Contains(t, out, "redacted")
	require.NotContains(t, out, "3f9a0c1e-pseudonym", "patient pseudonyms are personal data")
	require.NotContains(t, out, "PRIVATE KEY")
	require.NotContains(t, out, hex.EncodeToString(d))
	require.NotContains(t, out, new(big.Int).SetBytes(d).String())
	require.NotContains(t, out, fmt.Sprint(d))
}

func TestWipeLeavesNoUsableKey(t *testing.T) {
	id := newTestIdentity(t, "patient", "p1")
	digest := sha256.Sum256([]byte("consent"))
	_, err := id.Sign(digest[:])
	require.NoError(t, err)
	id.Wipe()
	_, err = id.Sign(digest[:])
	require.Error(t, err, "a wiped key cannot sign")
}
