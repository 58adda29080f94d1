package fabricca_test

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/fabricca"
	"github.com/stretchr/testify/require"
)

// TestTokenFormat pins the authorization token to the layout fabric-ca-server verifies
// (util.VerifyToken): two base64 parts, the second an ECDSA signature over
// method.b64(uri).b64(body).b64(cert).
func TestTokenFormat(t *testing.T) {
	key, err := wallet.GenerateKey()
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "registrar"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	id, err := wallet.NewIdentity("PatientsMSP", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil)
	require.NoError(t, err)

	body := []byte(`{"id":"x"}`)
	tok, err := fabricca.Token(id, "POST", "/api/v1/register", body)
	require.NoError(t, err)
	parts := strings.Split(tok, ".")
	require.Len(t, parts, 2)
	certPEM, err := base64.StdEncoding.DecodeString(parts[0])
	require.NoError(t, err)
	require.Equal(t, id.CertificatePEM(), certPEM)
	sig, err := base64.StdEncoding.DecodeString(parts[1])
	require.NoError(t, err)

	b64 := base64.StdEncoding.EncodeToString
	digest := sha256.Sum256([]byte("POST." + b64([]byte("/api/v1/register")) + "." + b64(body) + "." + parts[0]))
	require.True(t, ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig))
	other := sha256.Sum256([]byte("POST." + b64([]byte("/api/v1/revoke")) + "." + b64(body) + "." + parts[0]))
	require.False(t, ecdsa.VerifyASN1(&key.PublicKey, other[:], sig), "a token is bound to its endpoint")

	_, err = fabricca.Token(nil, "POST", "/", nil)
	require.ErrorIs(t, err, fabricca.ErrInvalidRequest)
}

func TestNewValidates(t *testing.T) {
	tests := []struct {
		name, url, msp string
		ok             bool
	}{
		{"https", "https://ca.example:7054", "PatientsMSP", true},
		{"http with path", "http://127.0.0.1:7054/prefix/", "PatientsMSP", true},
		{"no scheme", "ca.example:7054", "PatientsMSP", false},
		{"ftp", "ftp://ca.example", "PatientsMSP", false},
		{"no msp", "https://ca.example", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fabricca.New(tt.url, tt.msp)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, fabricca.ErrInvalidRequest)
			}
		})
	}
}

func TestServerErrorMapsToSentinels(t *testing.T) {
	tests := []struct {
		err  *fabricca.ServerError
		want error
	}{
		{&fabricca.ServerError{StatusCode: 401}, fabricca.ErrUnauthorized},
		{&fabricca.ServerError{StatusCode: 400, Errors: []fabricca.Message{{Code: 20}}}, fabricca.ErrUnauthorized},
		{&fabricca.ServerError{StatusCode: 403}, fabricca.ErrForbidden},
		{&fabricca.ServerError{StatusCode: 404}, fabricca.ErrNotFound},
	}
	for _, tt := range tests {
		require.ErrorIs(t, tt.err, tt.want)
	}
	require.NotErrorIs(t, &fabricca.ServerError{StatusCode: 500}, fabricca.ErrUnauthorized)
}
