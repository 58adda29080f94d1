package client_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/careledger/careledger/app-api/client"
	"github.com/stretchr/testify/require"
)

func TestNewValidates(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		url  string
		opts []client.Option
	}{
		"plain http":   {"http://localhost:8443", nil},
		"no host":      {"https://", nil},
		"bad cert":     {"https://localhost:8443", []client.Option{client.WithIdentity("PatientsMSP", []byte("nope"), key)}},
		"cert, no key": {"https://localhost:8443", []client.Option{client.WithIdentity("PatientsMSP", []byte("nope"), nil)}},
	} {
		_, err := client.New(tc.url, tc.opts...)
		require.Error(t, err, name)
	}
	c, err := client.New("https://localhost:8443/")
	require.NoError(t, err)
	c.Close()
}

func TestErrorMatchesByCode(t *testing.T) {
	err := fmt.Errorf("read: %w", &client.Error{Status: 403, Code: "NO_GRANT", Message: "no grant covers this access", RequestID: "r1"})
	require.ErrorIs(t, err, &client.Error{Code: "NO_GRANT"})
	require.ErrorIs(t, err, &client.Error{Code: "NO_GRANT", Status: 403})
	require.NotErrorIs(t, err, &client.Error{Code: "NO_GRANT", Status: 404})
	require.NotErrorIs(t, err, &client.Error{Code: "GRANT_REVOKED"})
	var ae *client.Error
	require.True(t, errors.As(err, &ae))
	require.Contains(t, ae.Error(), "r1")
}
