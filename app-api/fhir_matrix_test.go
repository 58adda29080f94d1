package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	fhirapi "github.com/careledger/careledger/app-api/fhir"
	"github.com/stretchr/testify/require"
)

// withFHIRInteractions replaces the generic /fhir/{type} operations of openapi.yaml by the
// interactions the FHIR interface serves for each type (fhirapi.Interactions, generated from
// the table the router and the CapabilityStatement use), so the matrix tries every type.
func withFHIRInteractions(t *testing.T, ops []string) []string {
	var out []string
	generic := 0
	for _, op := range ops {
		if strings.Contains(op, "/fhir/{type}") {
			generic++
			continue
		}
		out = append(out, op)
	}
	require.Equal(t, 6, generic, "the generic FHIR routes of openapi.yaml")
	for _, op := range fhirapi.Interactions() {
		if !slices.Contains(out, op) {
			out = append(out, op)
		}
	}
	slices.Sort(out)
	return out
}

// matrixFHIRResources are stored for the owner of the matrix, one record of each type the
// interface reads, so every read row has a real target.
var matrixFHIRResources = map[string]string{
	"Patient":                  "patient.json",
	"Condition":                "condition-diabetes.json",
	"Procedure":                "procedure-gastroscopy.json",
	"MedicationStatement":      "medicationstatement-metformin.json",
	"MedicationAdministration": "medicationadministration-insulin.json",
	"AllergyIntolerance":       "allergyintolerance-penicillin.json",
	"Immunization":             "immunization-influenza.json",
	"Binary":                   "binary-discharge-letter.json",
	"DiagnosticReport":         `{"resourceType":"DiagnosticReport","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"LAB"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"58410-2"}]},"subject":{"reference":"Patient/erika-mustermann"}}`,
	"DocumentReference":        `{"resourceType":"DocumentReference","status":"current","subject":{"reference":"Patient/erika-mustermann"},"content":[{"attachment":{"contentType":"application/pdf","url":"Binary/x"}}]}`,
	"List":                     `{"resourceType":"List","status":"current","mode":"working","subject":{"reference":"Patient/erika-mustermann"}}`,
}

// storeFHIRMatrixRecords stores one record per type for the owner and returns the FHIR id
// of each type (the pseudonym for Patient).
func storeFHIRMatrixRecords(t *testing.T, e *env, owner string) map[string]string {
	var types []string
	var resources [][]byte
	for typ, src := range matrixFHIRResources {
		raw := []byte(src)
		if strings.HasSuffix(src, ".json") {
			var err error
			raw, err = os.ReadFile(filepath.Join("..", "docs", "examples", "fhir", src))
			require.NoError(t, err)
		}
		types, resources = append(types, typ), append(resources, raw)
	}
	var entries []map[string]any
	for _, raw := range resources {
		entries = append(entries, map[string]any{"resource": json.RawMessage(raw)})
	}
	bundle, err := json.Marshal(map[string]any{"resourceType": "Bundle", "type": "collection", "entry": entries})
	require.NoError(t, err)
	recs, err := fhirapi.StoreBundle(context.Background(), e.stack.Service, e.stack.Client(t, e.patient), owner, bundle)
	require.NoError(t, err)
	ids := map[string]string{}
	for i, typ := range types {
		ids[typ] = recs[i].ID
	}
	ids["Patient"] = owner
	return ids
}

// fhirMatrixRoutes are the rows of the FHIR interactions. The grantee has read on lab only, the
// emergency clinician reads everything; other patients and clinicians see nothing, and a
// search answers them with an empty searchset; manufacturers and the anonymiser are refused.
func fhirMatrixRoutes(t *testing.T, owner, other string, ids map[string]string) map[string]matrixRoute {
	readers := func(typ string) string {
		if typ == "Observation" || typ == "DiagnosticReport" {
			return "oge"
		}
		return "oe"
	}
	rows := map[string]matrixRoute{
		"GET /fhir/metadata":                 {allowed: "opgrxecmanfdv", why: "FHIR clients read it before they authenticate"},
		"POST /fhir":                         {body: matrixTransaction(owner), mediaType: "application/fhir+json", allowed: "o", why: "a read grant does not allow writing"},
		"GET /fhir/Patient/{id}/$everything": {fill: map[string]string{"{id}": owner}, allowed: "oge", sees: "oge"},
		"POST /fhir/Consent":                 {body: consentFor(other), mediaType: "application/fhir+json", allowed: "opgrxec", why: "a prepared transaction is only bytes to sign"},
		"GET /fhir/Consent":                  {query: "patient={owner}", allowed: "o", why: "each patient their own grants"},
		"GET /fhir/Consent/{id}":             {fill: map[string]string{"{id}": "g-matrix"}, allowed: "og", why: "the patient and the grantee"},
		"GET /fhir/AuditEvent":               {query: "patient={owner}", allowed: "o", why: "each patient their own trail"},
	}
	for _, op := range fhirapi.Interactions() {
		if _, ok := rows[op]; ok {
			continue
		}
		_, path, _ := strings.Cut(op, " ")
		typ := strings.Split(path, "/")[2]
		id := ids[typ]
		if typ == "Observation" {
			id = "{recordID}" // the matrix's lab result
		}
		method, _, _ := strings.Cut(op, " ")
		switch {
		case method == "PUT":
			rows[op] = matrixRoute{fill: map[string]string{"{id}": id}, body: matrixUpdate(t, typ), mediaType: "application/fhir+json", allowed: "o", why: "only the owner appends here: the grantee may read, not append"}
		case strings.Contains(path, "{id}"):
			rows[op] = matrixRoute{fill: map[string]string{"{id}": id, "{vid}": "1"}, allowed: readers(typ), sees: readers(typ)}
		case typ == "Patient":
			rows[op] = matrixRoute{query: "_id={owner}", allowed: "opgrxec", sees: readers(typ), why: "an empty searchset for whoever may not read the Patient"}
		default:
			rows[op] = matrixRoute{query: "patient={owner}", allowed: "opgrxec", sees: readers(typ), why: "an empty searchset for whoever may not read these records"}
		}
	}
	return rows
}

// matrixTransaction is a transaction Bundle with one lab result for the owner.
func matrixTransaction(owner string) string {
	return `{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:44444444-4444-4444-8444-444444444444","request":{"method":"POST","url":"Observation"},
"resource":{"resourceType":"Observation","status":"final","code":{"text":"Haemoglobin"},"subject":{"reference":"Patient/` + owner + `"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}}]}`
}

// fhirRecordsIn lists the resources in a FHIR Bundle other than OperationOutcomes (and, in a
// single resource answer, the resource itself).
func fhirRecordsIn(t *testing.T, raw []byte) []string {
	var b struct {
		ResourceType string `json:"resourceType"`
		Entry        []struct {
			Resource struct {
				ResourceType string `json:"resourceType"`
			} `json:"resource"`
		} `json:"entry"`
	}
	if json.Unmarshal(raw, &b) != nil {
		return []string{"not FHIR JSON"}
	}
	if b.ResourceType != "Bundle" {
		return []string{b.ResourceType}
	}
	var out []string
	for _, e := range b.Entry {
		if e.Resource.ResourceType != "OperationOutcome" {
			out = append(out, e.Resource.ResourceType)
		}
	}
	return out
}

// matrixUpdate is a valid new version of the matrix record of type typ: the stored example
// without its id (the URL names the record).
func matrixUpdate(t *testing.T, typ string) string {
	src, ok := matrixFHIRResources[typ]
	if typ == "Observation" {
		return labResult
	}
	require.True(t, ok, typ)
	raw := []byte(src)
	if strings.HasSuffix(src, ".json") {
		var err error
		raw, err = os.ReadFile(filepath.Join("..", "docs", "examples", "fhir", src))
		require.NoError(t, err)
	}
	var v map[string]any
	require.NoError(t, json.Unmarshal(raw, &v))
	delete(v, "id")
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return string(out)
}
