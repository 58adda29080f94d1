package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// FuzzAccessAssertionHeader feeds arbitrary values of the access assertion header to the API's
// reader: it never panics, and either accepts an assertion of valid shape or refuses with a
// 400 INVALID_ARGUMENT naming the header.
func FuzzAccessAssertionHeader(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	sa, err := model.SignAssertion(key, model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: "lab-1", Action: model.ActionRead, Purpose: "TREAT", At: time.Unix(1_770_000_000, 0)})
	require.NoError(f, err)
	for _, seed := range []string{sa.Encode(), "", "%%%", "e30", "bnVsbA", sa.Encode()[:40]} {
		f.Add(seed)
	}
	c := &caller{MSPID: "ClinicMSP", CertPEM: []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")}
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/records/lab-1/content", nil)
		req.Header.Set(model.AssertionHeader, value)
		opts, err := accessAssertion(req, c)
		if err != nil {
			status, code, message, internal := classify(err)
			require.False(t, internal, "%v", err)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, string(model.CodeInvalidArgument), code)
			require.Contains(t, message, model.AssertionHeader)
			return
		}
		require.Len(t, opts, 1)
	})
}
