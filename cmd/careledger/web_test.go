package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUpServesTheWebUIAndTheAPI(t *testing.T) {
	c := startCLIStack(t)
	caFile, _, _ := apiTLSFiles(c.dataDir)
	caPEM, err := os.ReadFile(caFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	get := func(path string) (int, string, http.Header) {
		resp, err := hc.Get(c.api + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b), resp.Header
	}
	code, body, hdr := get("/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, hdr.Get("Content-Type"), "text/html")
	require.Contains(t, body, "CareLedger")
	require.Contains(t, body, "<label", "the sign-in form has labels")
	code, _, _ = get("/healthz")
	require.Equal(t, http.StatusOK, code)
	code, body, _ = get("/openapi.yaml")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "openapi: 3")
	code, _, _ = get("/v1/me")
	require.Equal(t, http.StatusUnauthorized, code, "the API wants a client certificate")
	code, body, hdr = get("/fhir/metadata")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, hdr.Get("Content-Type"), "application/fhir+json")
	require.Contains(t, body, "CapabilityStatement")
	code, body, _ = get("/fhir/Observation")
	require.Equal(t, http.StatusUnauthorized, code)
	require.Contains(t, body, "OperationOutcome")
}

// TestExportedIdentityReachesFHIR: an identity written out with `admin export-msp` is all an
// external FHIR client needs: its PEM certificate and key, and the API's CA.
func TestExportedIdentityReachesFHIR(t *testing.T) {
	c := startCLIStack(t)
	dir := filepath.Join(t.TempDir(), "patient-msp")
	c.must("admin", "export-msp", "--label", "patient", "--dir", dir)
	certPEM, err := os.ReadFile(filepath.Join(dir, "signcerts", "cert.pem"))
	require.NoError(t, err)
	keys, err := filepath.Glob(filepath.Join(dir, "keystore", "*_sk"))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	keyPEM, err := os.ReadFile(keys[0])
	require.NoError(t, err)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	caFile, _, _ := apiTLSFiles(c.dataDir)
	caPEM, err := os.ReadFile(caFile)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}}}}
	resp, err := hc.Get(c.api + "/fhir/Patient")
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), `"searchset"`)
}
