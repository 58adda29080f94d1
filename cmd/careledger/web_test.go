package main

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
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
}
