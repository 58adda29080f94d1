package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// grantedLabRecord has the patient upload a lab record and grant the clinician read on lab
// records; it returns the patient's client, the patient, the clinician and the record.
func grantedLabRecord(t *testing.T, e *env) (*client.Client, *model.Caller, *model.Caller, *model.Record) {
	t.Helper()
	ctx := context.Background()
	patient := e.client(t, e.patient)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	doc, err := e.client(t, e.clinician).Me(ctx)
	require.NoError(t, err)
	_, _, err = patient.Grant(ctx, model.GrantRequest{Grantee: model.Grantee{ID: doc.ID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)
	return patient, me, doc, rec
}

// TestReadsAreMemberSignedByDefaultAndShownSoInTheAudit: the Go client (and so the CLI) signs
// an access assertion for every content read, and the patient's trail says which reads the
// clinician signed for and which rest on the gateway's word.
func TestReadsAreMemberSignedByDefaultAndShownSoInTheAudit(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient, me, _, rec := grantedLabRecord(t, e)

	signing := e.client(t, e.clinician)
	unsigned, err := client.New(e.srv.URL, client.WithIdentity(e.clinician.MSPID, e.clinician.CertPEM, e.clinician.Key), client.WithRootCAs(e.pool), client.WithoutAccessAssertions())
	require.NoError(t, err)
	defer unsigned.Close()

	_, err = signing.Content(ctx, rec.ID, 0, "TREAT")
	require.NoError(t, err)
	_, err = unsigned.Content(ctx, rec.ID, 0, "")
	require.NoError(t, err)
	page, err := signing.PatientContent(ctx, me.ID, "", "", client.Page{})
	require.NoError(t, err)
	require.Len(t, page.Releases, 1)

	got := map[string]int{}
	for _, entry := range e.auditTrail(t, patient, 3) {
		got[entry.Assurance]++
	}
	require.Equal(t, map[string]int{model.AssuranceMemberSigned: 2, model.AssuranceGatewayAsserted: 1}, got)
}

// TestBadAccessAssertionsAreRefusedAndReleaseNothing: a malformed header is a 400 naming it;
// one that is forged, for another access or replayed is a 403 ASSERTION_REFUSED; none of them
// releases content or adds to the audit trail.
func TestBadAccessAssertionsAreRefusedAndReleaseNothing(t *testing.T) {
	e := startEnv(t)
	patient, me, doc, rec := grantedLabRecord(t, e)
	other, err := patient.Upload(context.Background(), client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)

	sign := func(key *network.User, mut func(*model.AccessAssertion)) string {
		a := model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: rec.ID, Action: model.ActionRead, At: time.Now()}
		mut(&a)
		sa, err := model.SignAssertion(key.Key, a)
		require.NoError(t, err)
		return sa.Encode()
	}
	same := func(*model.AccessAssertion) {}
	used := sign(e.clinician, same)
	hc := e.rawHTTP(tlsCert(e.clinician))
	read := func(path string, headers ...string) (int, api.ErrorBody) {
		req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		require.NoError(t, err)
		for _, h := range headers {
			req.Header.Add(model.AssertionHeader, h)
		}
		resp, err := hc.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var eb api.ErrorBody
		if resp.StatusCode >= 300 {
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
		} else {
			_, _ = io.Copy(io.Discard, resp.Body)
		}
		return resp.StatusCode, eb
	}
	content := "/v1/records/" + rec.ID + "/content"
	status, _ := read(content, used)
	require.Equal(t, http.StatusOK, status)

	cases := []struct {
		name, path string
		headers    []string
		status     int
		code, says string
	}{
		{"not base64url", content, []string{"%%%"}, 400, "INVALID_ARGUMENT", model.AssertionHeader},
		{"not JSON", content, []string{"bm90IGpzb24"}, 400, "INVALID_ARGUMENT", "JSON"},
		{"too large", content, []string{strings.Repeat("A", 3000)}, 400, "INVALID_ARGUMENT", "larger"},
		{"repeated header", content, []string{used, used}, 400, "INVALID_ARGUMENT", "repeated"},
		{"short nonce", content, []string{sign(e.clinician, func(a *model.AccessAssertion) { a.Nonce = "n" })}, 400, "INVALID_ARGUMENT", "nonce"},
		{"free-text purpose", content, []string{sign(e.clinician, func(a *model.AccessAssertion) { a.Purpose = "nosy" })}, 400, "INVALID_ARGUMENT", "purpose"},
		{"replayed", content, []string{used}, 403, api.CodeAssertionRefused, "already used"},
		{"signed by the patient's key", content, []string{sign(e.patient, same)}, 403, api.CodeAssertionRefused, "does not verify"},
		{"for another record", content, []string{sign(e.clinician, func(a *model.AccessAssertion) { a.RecordID = other.ID })}, 403, api.CodeAssertionRefused, "another record"},
		{"for appending", content, []string{sign(e.clinician, func(a *model.AccessAssertion) { a.Action = model.ActionAppend })}, 403, api.CodeAssertionRefused, "another action"},
		{"an hour old", content, []string{sign(e.clinician, func(a *model.AccessAssertion) { a.At = time.Now().Add(-time.Hour) })}, 403, api.CodeAssertionRefused, "more than"},
		{"history for another patient", "/v1/patients/" + me.ID + "/content", []string{sign(e.clinician, func(a *model.AccessAssertion) { a.RecordID, a.Patient = "", doc.ID })}, 403, api.CodeAssertionRefused, "another record"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, eb := read(tc.path, tc.headers...)
			require.Equal(t, tc.status, status, eb.Error.Message)
			require.Equal(t, tc.code, eb.Error.Code)
			require.Contains(t, eb.Error.Message, tc.says)
		})
	}
	trail := e.auditTrail(t, patient, 1)
	require.Equal(t, model.AssuranceMemberSigned, trail[0].Assurance, "only the first read was released")
}
