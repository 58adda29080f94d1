package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

// issue signs a client certificate for a fresh key with the given CA.
func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, notBefore, notAfter time.Time) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: notBefore, NotAfter: notAfter, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	leaf, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// foreignCA is a CA no consortium member trusts, made up for the test.
func foreignCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.elsewhere.example"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return ca, key
}

// orgCA loads an organisation's generated CA certificate and key from the network's material.
func orgCA(t *testing.T, e *env, mspID string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	org, ok := e.stack.Node.Config().Consortium.Org(mspID)
	require.True(t, ok)
	dir := filepath.Join(network.OrgDir(e.stack.Dir, org), "ca")
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca."+org.Domain+"-cert.pem"))
	require.NoError(t, err)
	ca, err := identity.CertificateFromPEM(certPEM)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(filepath.Join(dir, "priv_sk"))
	require.NoError(t, err)
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	require.NoError(t, err)
	return ca, key.(*ecdsa.PrivateKey)
}

func getStatus(t *testing.T, hc *http.Client, url string) (int, api.ErrorBody, http.Header) {
	t.Helper()
	resp, err := hc.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body api.ErrorBody
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	_ = json.Unmarshal(raw, &body)
	return resp.StatusCode, body, resp.Header
}

// TestAuthentication: the operational endpoints need no certificate, /v1 needs one from a
// consortium CA that is valid and not revoked.
func TestAuthentication(t *testing.T) {
	var revokedSerial *big.Int
	e := startEnv(t, func(c *api.Config) {
		c.Revoked = func(cert *x509.Certificate) bool {
			return revokedSerial != nil && cert.SerialNumber.Cmp(revokedSerial) == 0
		}
	})
	// A second listener on the same handler that lets every certificate through the handshake,
	// as a deployment wanting JSON errors would, so the API's own checks answer.
	lenient := httptest.NewUnstartedServer(e.srv.Config.Handler)
	var err error
	lenient.TLS, err = api.ServerTLSConfig(e.cfg)
	require.NoError(t, err)
	lenient.TLS.ClientAuth = tls.RequestClientCert
	lenient.StartTLS()
	t.Cleanup(lenient.Close)
	lenientPool := x509.NewCertPool()
	lenientPool.AddCert(lenient.Certificate())
	lenientClient := func(cert *tls.Certificate) *http.Client {
		tc := &tls.Config{RootCAs: lenientPool}
		if cert != nil {
			// Send the certificate even when its issuer is not among the CAs the server names.
			tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}

	anon := e.rawHTTP(nil)
	for _, path := range []string{"/healthz", "/readyz", "/openapi.yaml"} {
		st, _, _ := getStatus(t, anon, e.srv.URL+path)
		require.Equal(t, http.StatusOK, st, path)
	}
	st, body, _ := getStatus(t, anon, e.srv.URL+"/v1/me")
	require.Equal(t, http.StatusUnauthorized, st)
	require.Equal(t, "UNAUTHENTICATED", body.Error.Code)
	require.Contains(t, body.Error.Message, "certificate")
	require.NotEmpty(t, body.Error.RequestID)

	fca, fkey := foreignCA(t)
	foreign := issue(t, fca, fkey, "mallory", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	pca, pkey := orgCA(t, e, network.PatientsMSP)
	expired := issue(t, pca, pkey, "old-patient", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))

	// The strict listener refuses both: the expired one during the handshake; the foreign one
	// the client does not even send, because the server names the CAs it accepts.
	_, err = e.rawHTTP(expired).Get(e.srv.URL + "/v1/me")
	require.Error(t, err)
	st, body, _ = getStatus(t, e.rawHTTP(foreign), e.srv.URL+"/v1/me")
	require.Equal(t, http.StatusUnauthorized, st)
	require.Equal(t, "UNAUTHENTICATED", body.Error.Code)
	// The API itself refuses them with 401 and says why.
	for _, tc := range []struct {
		name string
		cert *tls.Certificate
		msg  string
	}{
		{"none", nil, "required"},
		{"foreign", foreign, "not issued by a consortium CA"},
		{"expired", expired, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, body, _ := getStatus(t, lenientClient(tc.cert), lenient.URL+"/v1/me")
			require.Equal(t, http.StatusUnauthorized, st)
			require.Equal(t, "UNAUTHENTICATED", body.Error.Code)
			require.Contains(t, body.Error.Message, tc.msg)
		})
	}
	// A valid member's certificate passes both listeners.
	st, _, _ = getStatus(t, lenientClient(tlsCert(e.patient)), lenient.URL+"/v1/me")
	require.Equal(t, http.StatusOK, st)

	// Revocation is checked on every request.
	clinician := e.client(t, e.clinician)
	_, err = clinician.Me(context.Background())
	require.NoError(t, err)
	revokedSerial = e.clinician.Cert.SerialNumber
	_, err = e.client(t, e.clinician).Me(context.Background())
	ae := apiError(t, err, http.StatusUnauthorized, "UNAUTHENTICATED")
	require.Contains(t, ae.Message, "revoked")
}

// TestCertificatePEMHelpers: ParseCertificates reads bundles and refuses non-certificates.
func TestCertificatePEMHelpers(t *testing.T) {
	ca, _ := foreignCA(t)
	one := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	certs, err := api.ParseCertificates(append(append([]byte{}, one...), one...))
	require.NoError(t, err)
	require.Len(t, certs, 2)
	_, err = api.ParseCertificates([]byte("not pem"))
	require.Error(t, err)
	_, err = api.ServerTLSConfig(api.Config{})
	require.Error(t, err)
	_, err = api.New(api.Config{})
	require.Error(t, err)
}
