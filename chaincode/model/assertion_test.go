package model_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func memberCert(t testing.TB) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "member"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return key, cert
}

func TestAssertionRoundTripsThroughItsHeaderForm(t *testing.T) {
	key, cert := memberCert(t)
	at := time.Date(2026, 3, 2, 9, 0, 0, 123456789, time.FixedZone("CET", 3600))
	a := model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: "lab-1", Action: model.ActionRead, Purpose: "TREAT", At: at}
	sa, err := model.SignAssertion(key, a)
	require.NoError(t, err)
	require.NoError(t, sa.VerifySignature(cert))

	got, err := model.ParseAssertion(sa.Encode())
	require.NoError(t, err)
	require.NoError(t, got.VerifySignature(cert), "the decoded assertion verifies: the time survives to the nanosecond")
	require.NoError(t, got.Covers(&model.AccessReport{RecordID: "lab-1", Action: model.ActionRead, Purpose: "TREAT", AccessedAt: at.Add(4 * time.Minute)}, "any-owner"))

	other, _ := memberCert(t)
	require.Error(t, got.VerifySignature(&x509.Certificate{PublicKey: &other.PublicKey}))
}

func TestBadAssertionsAreRefusedClearly(t *testing.T) {
	key, _ := memberCert(t)
	good := model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: "lab-1", Action: model.ActionRead, At: time.Now()}
	encode := func(mut func(*model.AccessAssertion)) string {
		a := good
		mut(&a)
		sa, err := model.SignAssertion(key, a)
		require.NoError(t, err)
		return sa.Encode()
	}
	cases := []struct{ name, in, says string }{
		{"empty", "", "not valid JSON"},
		{"not base64url", "a+b/", "base64url"},
		{"padded", encode(func(*model.AccessAssertion) {}) + "=", "base64url"},
		{"too large", strings.Repeat("A", model.MaxAssertionBytes+1), "larger"},
		{"not JSON", "bm90IGpzb24", "not valid JSON"},
		{"unknown field", "eyJub25jZSI6IngiLCJuYW1lIjoiSmFuZSJ9", "not valid JSON"},
		{"trailing data", "e30ge30", "after"},
		{"short nonce", encode(func(a *model.AccessAssertion) { a.Nonce = "abc" }), "nonce"},
		{"nonce with spaces", encode(func(a *model.AccessAssertion) { a.Nonce = "Jane Doe 1970-05-04 x" }), "nonce"},
		{"no record or patient", encode(func(a *model.AccessAssertion) { a.RecordID = "" }), "exactly one"},
		{"both record and patient", encode(func(a *model.AccessAssertion) { a.Patient = strings.Repeat("0", 32) }), "exactly one"},
		{"bad record", encode(func(a *model.AccessAssertion) { a.RecordID = "../x" }), "recordId"},
		{"bad patient", encode(func(a *model.AccessAssertion) { a.RecordID, a.Patient = "", "Jane" }), "patient"},
		{"unknown action", encode(func(a *model.AccessAssertion) { a.Action = "delete" }), "action"},
		{"free-text purpose", encode(func(a *model.AccessAssertion) { a.Purpose = "curious" }), "purpose"},
		{"no time", encode(func(a *model.AccessAssertion) { a.At = time.Time{} }), "at"},
		{"no signature", "eyJub25jZSI6IjAxMjM0NTY3ODlhYmNkZWYiLCJyZWNvcmRJZCI6ImxhYi0xIiwiYWN0aW9uIjoicmVhZCIsImF0IjoiMjAyNi0wMy0wMlQwOTowMDowMFoifQ", "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := model.ParseAssertion(tc.in)
			require.Error(t, err)
			require.True(t, errorsIsInvalid(err), "%v", err)
			require.Contains(t, err.Error(), tc.says)
		})
	}
}

func errorsIsInvalid(err error) bool {
	e, ok := err.(*model.Error)
	return ok && e.Code == model.CodeInvalidArgument
}

// FuzzParseAssertion feeds arbitrary header values to the assertion parser: it must never
// panic, must answer INVALID_ARGUMENT or an assertion that passes Check, and what it accepts
// must encode back to a value it accepts again.
func FuzzParseAssertion(f *testing.F) {
	key, _ := memberCert(f)
	sa, err := model.SignAssertion(key, model.AccessAssertion{Nonce: "0123456789abcdef", Patient: strings.Repeat("a", 32), Action: "append", At: time.Unix(1_700_000_000, 0)})
	require.NoError(f, err)
	for _, seed := range []string{sa.Encode(), "", "e30", "bnVsbA", "W10", strings.Repeat("A", 100)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := model.ParseAssertion(in)
		if err != nil {
			require.True(t, errorsIsInvalid(err), "%v", err)
			return
		}
		require.NoError(t, got.Check())
		again, err := model.ParseAssertion(got.Encode())
		require.NoError(t, err)
		require.Equal(t, got.Digest(), again.Digest())
	})
}
