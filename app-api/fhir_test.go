package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/offline"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// fhirClient talks to /fhir as one user, as a clinic system would: plain HTTPS with a client
// certificate and FHIR JSON.
type fhirClient struct {
	e *env
	c *http.Client
}

func (e *env) fhir(u *network.User) fhirClient {
	if u == nil {
		return fhirClient{e, e.rawHTTP(nil)}
	}
	return fhirClient{e, e.rawHTTP(tlsCert(u))}
}

// fhirReply is a response: status, headers, body, and the body as JSON when it is JSON.
type fhirReply struct {
	status int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (f fhirClient) do(t testing.TB, method, path string, body []byte, headers ...string) fhirReply {
	t.Helper()
	url := path
	if !strings.HasPrefix(path, "https://") {
		url = f.e.srv.URL + path
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	require.NoError(t, err)
	if body != nil {
		req.Header.Set("Content-Type", "application/fhir+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := f.c.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	out := fhirReply{status: resp.StatusCode, header: resp.Header, raw: raw}
	f.e.served.Add(fmt.Sprintf("%s %s: %d", method, req.URL.Path, resp.StatusCode), raw)
	_ = json.Unmarshal(raw, &out.json)
	return out
}

func (r fhirReply) entries() []map[string]any {
	var out []map[string]any
	list, _ := r.json["entry"].([]any)
	for _, e := range list {
		out = append(out, e.(map[string]any))
	}
	return out
}

func (r fhirReply) resources(typ string) []map[string]any {
	var out []map[string]any
	for _, e := range r.entries() {
		if res, ok := e["resource"].(map[string]any); ok && res["resourceType"] == typ {
			out = append(out, res)
		}
	}
	return out
}

func (r fhirReply) link(rel string) string {
	list, _ := r.json["link"].([]any)
	for _, l := range list {
		if m := l.(map[string]any); m["relation"] == rel {
			return m["url"].(string)
		}
	}
	return ""
}

// issue returns the first OperationOutcome issue of an error reply.
func (r fhirReply) issue(t testing.TB) map[string]any {
	t.Helper()
	require.Equal(t, "OperationOutcome", r.json["resourceType"], "body: %s", r.raw)
	return r.json["issue"].([]any)[0].(map[string]any)
}

// exampleTransaction builds a transaction Bundle from docs/examples/fhir: the example
// patient and the records about her, each entry a POST with a urn:uuid fullUrl.
func exampleTransaction(t testing.TB, files ...string) []byte {
	t.Helper()
	var entries []map[string]any
	for i, name := range files {
		raw, err := os.ReadFile(filepath.Join("..", "docs", "examples", "fhir", name))
		require.NoError(t, err)
		var res map[string]any
		require.NoError(t, json.Unmarshal(raw, &res))
		entries = append(entries, map[string]any{
			"fullUrl":  fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", i+1),
			"resource": json.RawMessage(raw),
			"request":  map[string]any{"method": "POST", "url": res["resourceType"]},
		})
	}
	b, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries})
	require.NoError(t, err)
	return b
}

var exampleRecords = []string{"patient.json", "condition-diabetes.json", "observation-hba1c.json", "observation-blood-pressure.json",
	"medicationstatement-metformin.json", "procedure-gastroscopy.json", "allergyintolerance-penicillin.json", "immunization-influenza.json"}

// TestFHIRClinicSystemStory walks what a clinic system does over /fhir: the patient's app
// uploads her record as a transaction; a clinician she granted searches, pages, reads,
// vreads and pulls $everything; an IHE MHD document round trip; a Consent signed on the
// patient's device; her access trail as AuditEvents. Others get nothing.
func TestFHIRClinicSystemStory(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	st := e.stack
	patient, clinician := e.fhir(e.patient), e.fhir(e.clinician)
	me, err := st.Client(t, e.patient).WhoAmI(ctx)
	require.NoError(t, err)

	// Metadata needs no certificate and lists what is served.
	meta := e.fhir(nil).do(t, "GET", "/fhir/metadata", nil)
	require.Equal(t, http.StatusOK, meta.status, "%s", meta.raw)
	require.Equal(t, "CapabilityStatement", meta.json["resourceType"])
	require.Contains(t, string(meta.raw), `"everything"`)
	require.Contains(t, meta.header.Get("Content-Type"), "application/fhir+json")

	// The patient's app uploads her record in one transaction.
	tx := patient.do(t, "POST", "/fhir", exampleTransaction(t, exampleRecords...))
	require.Equal(t, http.StatusOK, tx.status, "%s", tx.raw)
	require.Equal(t, "transaction-response", tx.json["type"])
	require.Len(t, tx.entries(), len(exampleRecords))
	locations := map[string]string{}
	for _, en := range tx.entries() {
		loc := en["response"].(map[string]any)["location"].(string)
		require.Equal(t, "201 Created", en["response"].(map[string]any)["status"])
		typ, rest, _ := strings.Cut(loc, "/")
		id, _, _ := strings.Cut(rest, "/")
		locations[typ] = id
	}
	require.Equal(t, me.ID, locations["Patient"], "a Patient's FHIR id is the pseudonym")

	pt := patient.do(t, "GET", "/fhir/Patient/"+me.ID, nil)
	require.Equal(t, http.StatusOK, pt.status, "%s", pt.raw)
	require.Equal(t, me.ID, pt.json["id"])
	require.NotEmpty(t, pt.json["name"], "her own name comes back to her")

	// She grants the clinician read on her personal details (her Patient, filed as
	// demographics), lab results, vital signs, notes and diagnoses.
	owner := st.Client(t, e.patient)
	doc, err := st.Client(t, e.clinician).WhoAmI(ctx)
	require.NoError(t, err)
	_, err = owner.Grant(ctx, model.GrantRequest{ID: "g-fhir", Grantee: model.Grantee{ID: doc.ID}, Actions: []string{"read"}, Categories: []string{"demographics", "lab", "vital-signs", "note", "diagnosis"}, Purpose: "TREAT"})
	require.NoError(t, err)

	search := clinician.do(t, "GET", "/fhir/Observation?patient=Patient/"+me.ID, nil)
	require.Equal(t, http.StatusOK, search.status, "%s", search.raw)
	require.Equal(t, "searchset", search.json["type"])
	require.NotContains(t, search.json, "total", "no counts")
	require.Len(t, search.resources("Observation"), 2)
	for _, o := range search.resources("Observation") {
		require.Equal(t, "Patient/"+me.ID, o["subject"].(map[string]any)["reference"])
	}

	// Paging: one at a time, following next links.
	var paged []string
	next := "/fhir/Observation?patient=" + me.ID + "&_count=1"
	for range 5 {
		if next == "" {
			break
		}
		p := clinician.do(t, "GET", next, nil)
		require.Equal(t, http.StatusOK, p.status, "%s", p.raw)
		for _, o := range p.resources("Observation") {
			paged = append(paged, o["id"].(string))
		}
		require.NotEmpty(t, p.link("self"))
		next = p.link("next")
	}
	require.Len(t, paged, 2)
	require.NotEqual(t, paged[0], paged[1])

	// Filters: code, category, date with prefixes.
	for q, want := range map[string]int{
		"code=http://loinc.org|4548-4":                            1,
		"code=4548-4,85354-9":                                     2,
		"code=http://snomed.info/sct|1234":                        0,
		"category=laboratory":                                     1,
		"category=vital-signs":                                    1,
		"date=ge2024-01-01":                                       2,
		"date=lt2000-01-01":                                       0,
		"date=ge2024-01-01&date=lt2030-01-01&category=laboratory": 1,
	} {
		r := clinician.do(t, "GET", "/fhir/Observation?patient="+me.ID+"&"+q, nil)
		require.Equal(t, http.StatusOK, r.status, "%s: %s", q, r.raw)
		require.Len(t, r.resources("Observation"), want, q)
	}
	cond := clinician.do(t, "GET", "/fhir/Condition?patient="+me.ID, nil)
	require.Len(t, cond.resources("Condition"), 1)
	require.Empty(t, clinician.do(t, "GET", "/fhir/MedicationStatement?patient="+me.ID, nil).resources("MedicationStatement"), "medication was not granted")

	// Read, vread, history.
	obsID := search.resources("Observation")[0]["id"].(string)
	read := clinician.do(t, "GET", "/fhir/Observation/"+obsID, nil)
	require.Equal(t, http.StatusOK, read.status)
	require.Equal(t, "1", read.json["meta"].(map[string]any)["versionId"])
	require.Equal(t, `W/"1"`, read.header.Get("ETag"))
	require.Equal(t, http.StatusOK, clinician.do(t, "GET", "/fhir/Observation/"+obsID+"/_history/1", nil).status)
	require.Equal(t, http.StatusNotFound, clinician.do(t, "GET", "/fhir/Observation/"+obsID+"/_history/2", nil).status)
	hist := clinician.do(t, "GET", "/fhir/Observation/"+obsID+"/_history", nil)
	require.Equal(t, "history", hist.json["type"])
	require.Len(t, hist.entries(), 1)
	require.Equal(t, http.StatusNotFound, clinician.do(t, "GET", "/fhir/Condition/"+obsID, nil).status, "an Observation is not a Condition")

	// $everything: the patient gets all of it; the clinician what was granted.
	all := patient.do(t, "GET", "/fhir/Patient/"+me.ID+"/$everything", nil)
	require.Equal(t, http.StatusOK, all.status, "%s", all.raw)
	require.Len(t, all.entries(), len(exampleRecords))
	granted := clinician.do(t, "GET", "/fhir/Patient/"+me.ID+"/$everything", nil)
	require.Len(t, granted.entries(), 4, "Patient, Condition and two Observations")

	// Others get nothing, and a forbidden id answers exactly like a made-up one.
	stranger := e.fhir(st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "fhir-stranger", Role: network.RoleClinician}))
	other := e.fhir(st.Issue(t, network.PatientsMSP, network.UserSpec{Name: "fhir-other", Role: network.RolePatient}))
	for _, who := range []fhirClient{stranger, other} {
		require.Empty(t, who.do(t, "GET", "/fhir/Observation?patient="+me.ID, nil).resources("Observation"))
		forbidden := who.do(t, "GET", "/fhir/Observation/"+obsID, nil)
		madeUp := who.do(t, "GET", "/fhir/Observation/made-up-id", nil)
		require.Equal(t, http.StatusNotFound, forbidden.status)
		require.Equal(t, madeUp.status, forbidden.status)
		require.Equal(t, strings.Replace(madeUp.issue(t)["diagnostics"].(string), "made-up-id", obsID, 1), forbidden.issue(t)["diagnostics"])
		require.Equal(t, http.StatusNotFound, who.do(t, "GET", "/fhir/Patient/"+me.ID, nil).status)
		require.Equal(t, http.StatusNotFound, who.do(t, "GET", "/fhir/Patient/"+me.ID+"/$everything", nil).status)
	}
	maker := e.fhir(e.manufacturer)
	require.Equal(t, http.StatusForbidden, maker.do(t, "GET", "/fhir/Observation?patient="+me.ID, nil).status, "manufacturers are refused whatever the id")
	require.Equal(t, http.StatusForbidden, maker.do(t, "GET", "/fhir/Observation/"+obsID, nil).status)
	require.Equal(t, http.StatusForbidden, maker.do(t, "GET", "/fhir/Observation/made-up-id", nil).status)

	// IHE MHD: ITI-65 Provide Document Bundle, ITI-67 Find, ITI-68 Retrieve.
	pdf, err := os.ReadFile(filepath.Join("..", "docs", "examples", "fhir", "binary-discharge-letter.json"))
	require.NoError(t, err)
	var binary struct{ Data string }
	require.NoError(t, json.Unmarshal(pdf, &binary))
	iti65 := patient.do(t, "POST", "/fhir", []byte(mhdBundle(me.ID, binary.Data)))
	require.Equal(t, http.StatusOK, iti65.status, "%s", iti65.raw)
	_, err = owner.Grant(ctx, model.GrantRequest{ID: "g-docs", Grantee: model.Grantee{ID: doc.ID}, Actions: []string{"read"}, Categories: []string{"document"}, Purpose: "TREAT"})
	require.NoError(t, err)
	iti67 := clinician.do(t, "GET", "/fhir/DocumentReference?patient="+me.ID+"&status=current", nil)
	require.Equal(t, http.StatusOK, iti67.status, "%s", iti67.raw)
	refs := iti67.resources("DocumentReference")
	require.Len(t, refs, 1)
	url := refs[0]["content"].([]any)[0].(map[string]any)["attachment"].(map[string]any)["url"].(string)
	require.True(t, strings.HasPrefix(url, "Binary/"), url)
	iti68 := clinician.do(t, "GET", "/fhir/"+url, nil, "Accept", "application/pdf")
	require.Equal(t, http.StatusOK, iti68.status, "%s", iti68.raw)
	require.Equal(t, "application/pdf", iti68.header.Get("Content-Type"))
	want, _ := base64.StdEncoding.DecodeString(binary.Data)
	require.Equal(t, want, iti68.raw)
	asFHIR := clinician.do(t, "GET", "/fhir/"+url, nil, "Accept", "application/fhir+json")
	require.Equal(t, "Binary", asFHIR.json["resourceType"])

	// A Consent is prepared for the patient to sign on her device, then committed.
	colleague, err := st.Client(t, st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "fhir-colleague", Role: network.RoleClinician})).WhoAmI(ctx)
	require.NoError(t, err)
	prepared := patient.do(t, "POST", "/fhir/Consent", []byte(consentFor(colleague.ID)))
	require.Equal(t, http.StatusAccepted, prepared.status, "%s %s", prepared.raw, e.logs.String())
	grantID := signAndCommit(t, e, e.patient, prepared)
	c := patient.do(t, "GET", "/fhir/Consent/"+grantID, nil)
	require.Equal(t, http.StatusOK, c.status, "%s", c.raw)
	require.Equal(t, "active", c.json["status"])
	require.Len(t, patient.do(t, "GET", "/fhir/Consent", nil).resources("Consent"), 3)
	require.Equal(t, http.StatusNotFound, stranger.do(t, "GET", "/fhir/Consent/"+grantID, nil).status)

	// Update appends the next ledger version; If-Match guards against lost updates.
	put := func(as fhirClient, body, ifMatch string) fhirReply {
		return as.do(t, "PUT", "/fhir/Observation/"+obsID, []byte(body), "If-Match", ifMatch)
	}
	newer := strings.Replace(labResult, "13.2", "13.9", 1)
	upd := put(patient, newer, `W/"1"`)
	require.Equal(t, http.StatusOK, upd.status, "%s", upd.raw)
	require.Equal(t, "2", upd.json["meta"].(map[string]any)["versionId"])
	require.Equal(t, `W/"2"`, upd.header.Get("ETag"))
	require.Equal(t, http.StatusPreconditionFailed, put(patient, newer, `W/"1"`).status, "version 1 is no longer the latest")
	require.Equal(t, http.StatusUnprocessableEntity, put(patient, `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],"code":{"text":"x"}}`, `W/"2"`).status, "a record keeps its category")
	require.Equal(t, http.StatusForbidden, put(clinician, newer, `W/"2"`).status, "a read grant does not allow appending")
	require.Equal(t, http.StatusNotFound, put(stranger, newer, `W/"2"`).status)
	require.Len(t, clinician.do(t, "GET", "/fhir/Observation/"+obsID+"/_history", nil).entries(), 2)

	// Her access trail, as BALP AuditEvents.
	var audit fhirReply
	require.Eventually(t, func() bool {
		_ = st.Flusher.Flush(ctx)
		audit = patient.do(t, "GET", "/fhir/AuditEvent?_count=200", nil)
		return audit.status == http.StatusOK && strings.Contains(string(audit.raw), doc.ID)
	}, 20*time.Second, 50*time.Millisecond, "%s", audit.raw)
	events := audit.resources("AuditEvent")
	require.NotEmpty(t, events)
	require.Contains(t, string(audit.raw), "IHE.BasicAudit.PatientRead")
	require.Contains(t, string(audit.raw), doc.ID, "the clinician's reads are in her trail")
	require.GreaterOrEqual(t, stranger.do(t, "GET", "/fhir/AuditEvent?patient="+me.ID, nil).status, 400)

	// Everything /fhir answered above is valid FHIR R4 by the official JSON schema.
	for _, typ := range []string{"CapabilityStatement", "Bundle", "Patient", "Observation", "OperationOutcome", "Consent", "Parameters"} {
		require.Contains(t, e.served.Types(), typ, "the story has the server answer a %s", typ)
	}
	e.served.Check(t)
}

// mhdBundle is an IHE MHD ITI-65 Provide Document Bundle: a SubmissionSet List, a
// DocumentReference and the Binary it points at, all about the patient.
func mhdBundle(patient, pdf string) string {
	return `{"resourceType":"Bundle","type":"transaction","meta":{"profile":["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]},"entry":[
{"fullUrl":"urn:uuid:11111111-1111-4111-8111-111111111111","resource":{"resourceType":"List","status":"current","mode":"working",
 "code":{"coding":[{"system":"https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes","code":"submissionset"}]},
 "subject":{"reference":"Patient/` + patient + `"},"date":"2024-11-05T10:00:00+01:00",
 "entry":[{"item":{"reference":"urn:uuid:22222222-2222-4222-8222-222222222222"}}]},"request":{"method":"POST","url":"List"}},
{"fullUrl":"urn:uuid:22222222-2222-4222-8222-222222222222","resource":{"resourceType":"DocumentReference","status":"current",
 "type":{"coding":[{"system":"http://loinc.org","code":"18842-5","display":"Discharge summary"}]},
 "subject":{"reference":"Patient/` + patient + `"},"date":"2024-11-05T10:00:00+01:00",
 "content":[{"attachment":{"contentType":"application/pdf","url":"urn:uuid:33333333-3333-4333-8333-333333333333","title":"Entlassbrief"}}]},
 "request":{"method":"POST","url":"DocumentReference"}},
{"fullUrl":"urn:uuid:33333333-3333-4333-8333-333333333333","resource":{"resourceType":"Binary","contentType":"application/pdf","data":"` + pdf + `"},
 "request":{"method":"POST","url":"Binary"}}]}`
}

// consentFor is a Consent granting a clinician read on lab results for treatment.
func consentFor(clinician string) string {
	return `{"resourceType":"Consent","status":"active",
 "scope":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentscope","code":"patient-privacy"}]},
 "category":[{"coding":[{"system":"http://loinc.org","code":"59284-0"}]}],
 "policyRule":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"OPTIN"}]},
 "provision":{"type":"permit",
  "actor":[{"role":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ParticipationType","code":"IRCP"}]},
            "reference":{"identifier":{"system":"urn:careledger:pseudonym","value":"` + clinician + `"}}}],
  "action":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/consentaction","code":"access"}]}],
  "purpose":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ActReason","code":"TREAT"}],
  "code":[{"coding":[{"system":"urn:careledger:category","code":"lab"}]}]}}`
}

// signAndCommit signs a prepared Consent's proposal as u, as the patient's device does, and
// takes it through /v1/transactions/endorse, /submit and /commit. It returns the grant ID.
func signAndCommit(t testing.TB, e *env, u *network.User, prepared fhirReply) string {
	t.Helper()
	params := map[string]any{}
	for _, p := range prepared.json["parameter"].([]any) {
		m := p.(map[string]any)
		for k, v := range m {
			if k != "name" {
				params[m["name"].(string)] = v
			}
		}
	}
	b64 := func(name string) []byte {
		b, err := base64.StdEncoding.DecodeString(params[name].(string))
		require.NoError(t, err)
		return b
	}
	c := e.rawHTTP(tlsCert(u))
	step := func(path string, body map[string]any) map[string]any {
		raw, err := json.Marshal(body)
		require.NoError(t, err)
		resp, err := c.Post(e.srv.URL+path, "application/json", bytes.NewReader(raw))
		require.NoError(t, err)
		defer resp.Body.Close()
		out := map[string]any{}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s: %v", path, out)
		return out
	}
	sign := func(digest any) []byte {
		d, err := base64.StdEncoding.DecodeString(digest.(string))
		require.NoError(t, err)
		sig, err := offline.Sign(u.Key, d)
		require.NoError(t, err)
		return sig
	}
	endorsed := step("/v1/transactions/endorse", map[string]any{"proposal": b64("proposal"), "signature": sign(params["digest"])})
	submitted := step("/v1/transactions/submit", map[string]any{"transaction": endorsed["transaction"], "signature": sign(endorsed["digest"])})
	committed := step("/v1/transactions/commit", map[string]any{"commit": submitted["commit"], "signature": sign(submitted["digest"])})
	require.Equal(t, "VALID", committed["status"])
	return params["consent"].(string)
}
