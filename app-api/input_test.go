package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/stretchr/testify/require"
)

// TestBadInputIsRefusedAndChangesNothing: malformed or unexpected input gets 400, 413, 415 or
// 422 with a message naming what is wrong, and nothing reaches the ledger or the store.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	e := startEnv(t, withDirectory(t))
	ctx := context.Background()
	patient := e.client(t, e.patient)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	hc := e.rawHTTP(tlsCert(e.patient))
	big := bytes.Repeat([]byte("x"), 2<<20)

	cases := []struct {
		name, method, path, contentType string
		body                            []byte
		status                          int
		code, mentions                  string
	}{
		{"unknown field", "POST", "/v1/grants", "application/json", []byte(`{"grantee":{"msp":"ClinicMSP"},"actions":["read"],"categories":["lab"],"purpose":"TREAT","colour":"red"}`), 400, "INVALID_ARGUMENT", `"colour"`},
		{"unknown nested field", "POST", "/v1/grants", "application/json", []byte(`{"grantee":{"msp":"ClinicMSP","name":"Dr X"},"actions":["read"],"categories":["lab"],"purpose":"TREAT"}`), 400, "INVALID_ARGUMENT", `"name"`},
		{"malformed JSON", "POST", "/v1/grants", "application/json", []byte(`{"grantee":`), 400, "INVALID_ARGUMENT", "malformed JSON"},
		{"wrong type", "POST", "/v1/grants", "application/json", []byte(`{"actions":"read"}`), 400, "INVALID_ARGUMENT", "actions"},
		{"two objects", "POST", "/v1/grants", "application/json", []byte(`{}{}`), 400, "INVALID_ARGUMENT", "exactly one"},
		{"bad purpose", "POST", "/v1/grants", "application/json", []byte(`{"grantee":{"msp":"ClinicMSP"},"actions":["read"],"categories":["lab"],"purpose":"MARKETING"}`), 400, "INVALID_ARGUMENT", "purpose"},
		{"bad grantee", "POST", "/v1/grants", "application/json", []byte(`{"grantee":{"id":"../../etc"},"actions":["read"],"categories":["lab"],"purpose":"TREAT"}`), 400, "INVALID_ARGUMENT", "grantee.id"},
		{"no scope", "POST", "/v1/grants", "application/json", []byte(`{"grantee":{"msp":"ClinicMSP"},"actions":["read"],"purpose":"TREAT"}`), 400, "INVALID_ARGUMENT", "categories"},
		{"wrong content type", "POST", "/v1/grants", "text/plain", []byte(`{}`), 415, api.CodeUnsupportedMedia, "application/json"},
		{"JSON too large", "POST", "/v1/grants", "application/json", append(append([]byte(`{"id":"`), big...), `"}`...), 413, api.CodePayloadTooLarge, "bytes"},
		{"emergency reason", "POST", "/v1/emergency-access", "application/json", []byte(`{"patient":"` + me.ID + `","reason":"felt like it"}`), 400, "INVALID_ARGUMENT", "reason"},
		{"invalid FHIR type", "POST", "/v1/records", "application/fhir+json", []byte(`{"resourceType":"Nonsense"}`), 422, api.CodeInvalidContent, "resourceType"},
		{"FHIR not an object", "POST", "/v1/records", "application/fhir+json", []byte(`[1,2]`), 422, api.CodeInvalidContent, "JSON object"},
		{"FHIR malformed", "POST", "/v1/records", "application/fhir+json", []byte(`{"resourceType":`), 422, api.CodeInvalidContent, "malformed"},
		{"document without category", "POST", "/v1/records", "application/pdf", []byte("%PDF"), 422, api.CodeInvalidContent, "category"},
		{"empty document", "POST", "/v1/records?category=document", "application/pdf", []byte{}, 422, api.CodeInvalidContent, "empty"},
		{"document too large", "POST", "/v1/records?category=document", "application/pdf", bytes.Repeat([]byte("%"), 32<<20+1), 413, api.CodePayloadTooLarge, "bytes"},
		{"no content type", "POST", "/v1/records", "", []byte("x"), 415, api.CodeUnsupportedMedia, "Content-Type"},
		{"FHIR too large", "POST", "/v1/records", "application/fhir+json", bytes.Repeat([]byte(" "), 5<<20), 413, api.CodePayloadTooLarge, "bytes"},
		{"bad category", "POST", "/v1/records?category=gossip", "application/pdf", []byte("%PDF"), 400, "INVALID_ARGUMENT", "category"},
		{"bad owner", "POST", "/v1/records?owner=alice", "application/fhir+json", []byte(labResult), 400, "INVALID_ARGUMENT", "owner"},
		{"unknown query parameter", "GET", "/v1/grants?actve=true", "", nil, 400, "INVALID_ARGUMENT", `"actve"`},
		{"repeated query parameter", "GET", "/v1/grants?active=true&active=false", "", nil, 400, "INVALID_ARGUMENT", "repeated"},
		{"page size", "GET", "/v1/grants?pageSize=100000", "", nil, 400, "INVALID_ARGUMENT", "pageSize"},
		{"bad boolean", "GET", "/v1/grants?active=maybe", "", nil, 400, "INVALID_ARGUMENT", "active"},
		{"bad version", "GET", "/v1/records/" + rec.ID + "/content?version=-1", "", nil, 400, "INVALID_ARGUMENT", "version"},
		{"bad purpose query", "GET", "/v1/records/" + rec.ID + "/content?purpose=SELL", "", nil, 400, "INVALID_ARGUMENT", "purpose"},
		{"record ID with dots", "GET", "/v1/records/..", "", nil, 400, "INVALID_ARGUMENT", "recordID"},
		{"record ID encoded slash", "GET", "/v1/records/a%2F..%2Fb", "", nil, 400, "INVALID_ARGUMENT", "recordID"},
		{"record ID too long", "GET", "/v1/records/" + strings.Repeat("a", 129), "", nil, 400, "INVALID_ARGUMENT", "recordID"},
		{"patient ID", "GET", "/v1/patients/not-a-pseudonym/records", "", nil, 400, "INVALID_ARGUMENT", "patientID"},
		{"verify hash", "GET", "/v1/records/" + rec.ID + "/verify?hash=abc", "", nil, 400, "INVALID_ARGUMENT", "hash"},
		{"unknown route", "GET", "/v1/nothing-here", "", nil, 404, "NOT_FOUND", ""},
		{"wrong method", "PATCH", "/v1/grants", "", nil, 405, api.CodeMethodNotAllowed, ""},
		{"endorse without signature", "POST", "/v1/transactions/endorse", "application/json", []byte(`{"proposal":"AAAA"}`), 400, "INVALID_ARGUMENT", "signature"},
		{"endorse garbage", "POST", "/v1/transactions/endorse", "application/json", []byte(`{"proposal":"AAAA","signature":"AAAA"}`), 400, "INVALID_ARGUMENT", "proposal"},
		{"endorse wrong part", "POST", "/v1/transactions/endorse", "application/json", []byte(`{"commit":"AAAA","signature":"AAAA"}`), 400, "INVALID_ARGUMENT", "commit"},
		{"directory pseudonym", "GET", "/v1/directory/dr-weber", "", nil, 400, "INVALID_ARGUMENT", "pseudonym"},
		{"directory unknown field", "PUT", "/v1/directory/" + me.ID, "application/json", []byte(`{"name":"A","profession":"nurse","patients":["x"]}`), 400, "INVALID_ARGUMENT", `"patients"`},
		{"directory no name", "PUT", "/v1/directory/" + me.ID, "application/json", []byte(`{"profession":"nurse"}`), 400, "INVALID_ARGUMENT", "name is required"},
		{"directory control character", "PUT", "/v1/directory/" + me.ID, "application/json", []byte(`{"name":"A\u202eB","profession":"nurse"}`), 400, "INVALID_ARGUMENT", "invisible"},
		{"directory long name", "PUT", "/v1/directory/" + me.ID, "application/json", []byte(`{"name":"` + strings.Repeat("a", 101) + `","profession":"nurse"}`), 400, "INVALID_ARGUMENT", "at most 100"},
		{"directory enrollment ID", "PUT", "/v1/directory/" + me.ID, "application/json", []byte(`{"name":"A","profession":"nurse","enrollmentId":"` + strings.Repeat("e", 257) + `"}`), 400, "INVALID_ARGUMENT", "enrollmentId"},
		{"directory query parameter", "GET", "/v1/organizations?all=1", "", nil, 400, "INVALID_ARGUMENT", `"all"`},
		{"submit not base64", "POST", "/v1/transactions/submit", "application/json", []byte(`{"transaction":"%%%","signature":"AAAA"}`), 400, "INVALID_ARGUMENT", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != nil {
				body = bytes.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, body)
			require.NoError(t, err)
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var eb api.ErrorBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
			require.Equal(t, tc.status, resp.StatusCode, eb.Error.Message)
			require.Equal(t, tc.code, eb.Error.Code)
			require.Contains(t, eb.Error.Message, tc.mentions)
			if tc.code == api.CodeInvalidContent {
				require.Equal(t, 1, strings.Count(eb.Error.Message, "invalid record content"), "said once: %q", eb.Error.Message)
				require.NotContains(t, eb.Error.Message, "\n")
			}
			require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		})
	}

	// Nothing was written: one record, no grants, no blobs beyond the first upload's.
	list, err := patient.PatientRecords(ctx, me.ID, "", client.Page{})
	require.NoError(t, err)
	require.Len(t, list.Records, 1)
	grants, err := patient.Grants(ctx, "", false, client.Page{})
	require.NoError(t, err)
	require.Empty(t, grants.Grants)
	var blobs int
	require.NoError(t, filepath.WalkDir(e.stack.BlobDir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			blobs++
		}
		return err
	}))
	require.Equal(t, 2, blobs, "the first upload's ciphertext and key envelope only")
}
