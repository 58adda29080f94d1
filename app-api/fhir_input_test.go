package api_test

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// TestFHIRBadInputIsRefusedAndStoresNothing sends invalid Bundles, resources, parameters and
// media types: each gets its 4xx OperationOutcome (422 naming the element for invalid
// content), and nothing is stored or registered on the ledger.
func TestFHIRBadInputIsRefusedAndStoresNothing(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.fhir(e.patient)
	owner := e.stack.Client(t, e.patient)
	me, err := owner.WhoAmI(ctx)
	require.NoError(t, err)
	other, err := e.stack.Client(t, e.stack.Issue(t, network.PatientsMSP, network.UserSpec{Name: "fhir-bad-other", Role: network.RolePatient})).WhoAmI(ctx)
	require.NoError(t, err)

	obs := func(mut string) string {
		return `{"resourceType":"Observation","status":"final","code":{"text":"Hb"},"subject":{"reference":"Patient/` + me.ID + `"}` + mut + `}`
	}
	tx := func(resources ...string) string {
		var entries []string
		for _, r := range resources {
			var typ struct{ ResourceType string }
			_ = json.Unmarshal([]byte(r), &typ)
			entries = append(entries, `{"request":{"method":"POST","url":"`+typ.ResourceType+`"},"resource":`+r+`}`)
		}
		return `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	}
	cases := []struct {
		name, method, path, body, contentType string
		status                                int
		expression                            string
	}{
		{"bogus status in entry 1", "POST", "/fhir", tx(obs(""), strings.Replace(obs(""), `"final"`, `"bogus-status"`, 1)), "", 422, "Bundle.entry[1].resource.Observation.status"},
		{"missing status", "POST", "/fhir", tx(strings.Replace(obs(""), `"status":"final",`, "", 1)), "", 422, "Bundle.entry[0].resource.Observation.status"},
		{"bad birth date", "POST", "/fhir", tx(`{"resourceType":"Patient","birthDate":"not-a-date"}`), "", 422, "Bundle.entry[0].resource.Patient.birthDate"},
		{"another patient", "POST", "/fhir", tx(obs(""), strings.Replace(obs(""), me.ID, other.ID, 1)), "", 422, "Bundle.entry[1].resource.Observation.subject"},
		{"subject is a group", "POST", "/fhir", tx(strings.Replace(obs(""), "Patient/"+me.ID, "Group/g1", 1)), "", 422, "Bundle.entry[0].resource.Observation.subject"},
		{"collection to /fhir", "POST", "/fhir", strings.Replace(tx(obs("")), "transaction", "collection", 1), "", 422, "Bundle.type"},
		{"batch", "POST", "/fhir", strings.Replace(tx(obs("")), "transaction", "batch", 1), "", 422, "Bundle.type"},
		{"delete entry", "POST", "/fhir", strings.Replace(tx(obs("")), `"POST"`, `"DELETE"`, 1), "", 422, "Bundle.entry[0].request.method"},
		{"wrong request url", "POST", "/fhir", strings.Replace(tx(obs("")), `"url":"Observation"`, `"url":"Condition"`, 1), "", 422, "Bundle.entry[0].request.url"},
		{"no request", "POST", "/fhir", strings.Replace(tx(obs("")), `"request":{"method":"POST","url":"Observation"},`, "", 1), "", 422, "Bundle.entry[0].request"},
		{"empty bundle", "POST", "/fhir", `{"resourceType":"Bundle","type":"transaction","entry":[]}`, "", 422, "Bundle.entry"},
		{"bundle in bundle", "POST", "/fhir", tx(`{"resourceType":"Bundle","type":"collection"}`), "", 422, "Bundle.entry[0].resource.Bundle"},
		{"not a bundle", "POST", "/fhir", obs(""), "", 422, "Bundle"},
		{"number too large", "POST", "/fhir", tx(obs(`,"valueQuantity":{"value":1e999}`)), "", 422, ""},
		{"invalid utf-8", "POST", "/fhir", tx(obs(`,"note":[{"text":"` + "\xff" + `"}]`)), "", 422, ""},
		{"xml", "POST", "/fhir", `<Bundle/>`, "application/fhir+xml", 415, ""},
		{"bad consent purpose", "POST", "/fhir/Consent", strings.Replace(consentFor(other.ID), "TREAT", "marketing", 1), "", 422, "Consent.provision.purpose"},
		{"consent to nobody", "POST", "/fhir/Consent", strings.Replace(consentFor(other.ID), other.ID, "Dr House", 1), "", 422, "Consent.provision.actor[0].reference"},
		{"unknown parameter", "GET", "/fhir/Observation?subject.name=Erika", "", "", 400, "subject.name"},
		{"modifier", "GET", "/fhir/Observation?code:text=sugar", "", "", 400, "code:text"},
		{"bad date", "GET", "/fhir/Observation?date=yesterday", "", "", 400, "date"},
		{"bad prefix", "GET", "/fhir/Observation?date=xx2024", "", "", 400, "date"},
		{"count zero", "GET", "/fhir/Observation?_count=0", "", "", 400, "_count"},
		{"patient by name", "GET", "/fhir/Observation?patient=Erika", "", "", 400, "patient"},
		{"forged cursor", "GET", "/fhir/Observation?_cursor=eyJjIjotMX0", "", "", 400, "_cursor"},
		{"unknown type", "GET", "/fhir/Encounter", "", "", 404, ""},
		{"patient id not a pseudonym", "GET", "/fhir/Patient/erika-mustermann", "", "", 400, ""},
		{"xml only", "GET", "/fhir/metadata?_format=xml", "", "", 406, ""},
		{"delete", "DELETE", "/fhir/Observation/x", "", "", 405, ""},
		{"audit read", "GET", "/fhir/AuditEvent/x", "", "", 405, ""},
		{"vread zero", "GET", "/fhir/Observation/x/_history/0", "", "", 400, ""},
	}
	records := func() int {
		page, err := owner.ListPatientRecords(ctx, me.ID, "", ledger.Page{Size: 200})
		require.NoError(t, err)
		return len(page.Records)
	}
	blobs := func() int {
		n := 0
		_ = filepath.WalkDir(e.stack.BlobDir, func(_ string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		return n
	}
	before, stored := records(), blobs()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			var headers []string
			if tc.body != "" {
				body = []byte(tc.body)
			}
			if tc.contentType != "" {
				headers = []string{"Content-Type", tc.contentType}
			}
			r := patient.do(t, tc.method, tc.path, body, headers...)
			require.Equal(t, tc.status, r.status, "%s", r.raw)
			is := r.issue(t)
			if tc.expression != "" {
				require.Equal(t, []any{tc.expression}, is["expression"], "%s", r.raw)
			}
			require.NotContains(t, string(r.raw), "Erika", "the outcome does not echo content")
		})
	}
	require.Equal(t, before, records(), "nothing registered on the ledger")
	require.Equal(t, stored, blobs(), "nothing stored")

	// Too large, and no certificate.
	big := patient.do(t, "POST", "/fhir", []byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Binary","contentType":"text/plain","data":"`+strings.Repeat("A", 17<<20)+`"}}]}`))
	require.Equal(t, http.StatusRequestEntityTooLarge, big.status)
	anon := e.fhir(nil).do(t, "GET", "/fhir/Observation", nil)
	require.Equal(t, http.StatusUnauthorized, anon.status)
	require.Equal(t, "login", anon.issue(t)["code"])

	// /v1/records takes a collection Bundle too, all or nothing.
	v1 := e.client(t, e.patient)
	col := strings.Replace(tx(obs(""), strings.Replace(obs(""), `"final"`, `"bogus-status"`, 1)), "transaction", "collection", 1)
	col = strings.ReplaceAll(col, `"request":{"method":"POST","url":"Observation"},`, "")
	_, err = v1.Upload(ctx, client.Upload{Data: []byte(col), MediaType: client.FHIRMediaType})
	apiError(t, err, http.StatusUnprocessableEntity, "INVALID_CONTENT")
	require.Equal(t, before, records())
	resp := patient.do(t, "POST", "/v1/records", []byte(strings.Replace(col, "bogus-status", "final", 1)))
	require.Equal(t, http.StatusCreated, resp.status, "%s", resp.raw)
	require.Len(t, resp.json["records"], 2)
	require.Equal(t, before+2, records())
	// Every refusal above is an OperationOutcome that is valid FHIR R4.
	e.served.Check(t)
}
