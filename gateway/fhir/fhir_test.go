package fhir_test

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden summaries in testdata/golden")

const examples = "../../docs/examples/fhir"

// parseFile parses an example or test file: Bundles with ParseBundle, the rest with Parse.
func parseFile(t testing.TB, path string) (any, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	if strings.Contains(filepath.Base(path), "bundle") {
		return fhir.ParseBundle(data)
	}
	return fhir.Parse(data)
}

// TestExamples parses every example in docs/examples/fhir and compares what CareLedger
// understands of it with the golden summary in testdata/golden (go test -update rewrites
// them).
func TestExamples(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(examples, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			got, err := parseFile(t, path)
			require.NoError(t, err)
			out, err := json.MarshalIndent(got, "", "  ")
			require.NoError(t, err)
			out = append(out, '\n')
			golden := filepath.Join("testdata", "golden", name)
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, out, 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to write the golden file")
			require.JSONEq(t, string(want), string(out))
		})
	}
}

// TestExampleBundle checks the facts the clinical views rely on in the example patient's
// Bundle.
func TestExampleBundle(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(examples, "patient-bundle.json"))
	require.NoError(t, err)
	b, err := fhir.ParseBundle(data)
	require.NoError(t, err)
	require.Equal(t, "collection", b.Type)
	require.Equal(t, b.Entries[0].FullURL, b.Patient)

	byID := map[string]*fhir.Resource{}
	categories := map[string]int{}
	for _, e := range b.Entries {
		require.True(t, json.Valid(e.Data))
		again, err := fhir.Parse(e.Data)
		require.NoError(t, err, "each entry is stored, and must validate, on its own")
		require.Equal(t, e.Resource, again)
		byID[e.Resource.ID] = e.Resource
		categories[e.Resource.Category]++
	}
	require.Equal(t, map[string]int{"demographics": 1, "diagnosis": 3, "lab": 8, "vital-signs": 2, "medication": 3, "procedure": 1, "document": 1, "immunization": 1, "allergy": 1}, categories)

	p := byID["erika-mustermann"].Summary.Patient
	require.Equal(t, "Erika Mustermann", p.Name)
	require.Equal(t, "female", p.Sex)
	require.Equal(t, fhir.PrecisionDay, p.BirthDate.Precision)
	require.Equal(t, 1964, p.BirthDate.Time.Year())

	hba1c := byID["lab-1"].Summary.Observation
	require.Equal(t, fhir.FlagHigh, hba1c.Flag)
	require.False(t, hba1c.FlagComputed, "coded as H by the lab")
	glucose := byID["lab-2"].Summary.Observation
	require.Equal(t, fhir.FlagHigh, glucose.Flag)
	require.True(t, glucose.FlagComputed, "no interpretation coded: 142 mg/dL is above 99")
	require.Equal(t, "142 mg/dL", glucose.Value.String())
	require.Equal(t, fhir.FlagNormal, byID["lab-6"].Summary.Observation.Flag)
	require.Equal(t, fhir.FlagLow, byID["lab-7"].Summary.Observation.Flag)

	bp := byID["blood-pressure-1"].Summary.Observation
	require.Len(t, bp.Components, 2)
	require.Equal(t, "148 mmHg", bp.Components[0].Value.String())

	metformin := byID["medication-1"].Summary
	require.Equal(t, "A10BA02", metformin.Code.Code)
	require.Equal(t, "1000 mg, 2 times per day, oral", metformin.Medication.Dose)
	require.Equal(t, "5 mg morgens (1-0-0)", byID["medication-2"].Summary.Medication.Dose)

	letter := byID["discharge-letter-1"].Summary
	require.Equal(t, "Entlassbrief Innere Medizin", letter.Title)
	require.Equal(t, "application/pdf", letter.Document.ContentType)
	require.Equal(t, "18842-5", letter.Document.Type.Code)
	require.Positive(t, letter.Document.Size)
}

// TestInvalid runs every file in testdata/invalid and checks that the error names the wrong
// element.
func TestInvalid(t *testing.T) {
	cases := map[string]struct{ path, message string }{
		"allergyintolerance-criticality.json":        {"AllergyIntolerance.criticality", `"severe" is not a valid code`},
		"allergyintolerance-snomed-check-digit.json": {"AllergyIntolerance.code.coding[0].code", "SNOMED CT"},
		"binary-data-not-base64.json":                {"Binary.data", "base64Binary"},
		"bloodwork-resource-type.json":               {"resourceType", `"Bloodwork" is not a FHIR R4 resource type`},
		"bundle-collection-with-request.json":        {"Bundle.entry[1].request", "only allowed in a transaction"},
		"bundle-entry4-bogus-status.json":            {"Bundle.entry[4].resource.Observation.status", `"bogus-status" is not a valid code`},
		"bundle-entry5-loinc.json":                   {"Bundle.entry[5].resource.Observation.code.coding[0].code", `"2160-1" is not a LOINC code`},
		"bundle-entry6-other-patient.json":           {"Bundle.entry[6].resource.Observation.subject", "one patient's records"},
		"bundle-fullurl-twice.json":                  {"Bundle.entry[2].fullUrl", "repeats"},
		"bundle-in-bundle.json":                      {"Bundle.entry[0].resource.Bundle", "Bundle inside a Bundle"},
		"bundle-searchset.json":                      {"Bundle.type", `"searchset" is not accepted`},
		"bundle-second-patient.json":                 {"Bundle.entry[21].resource.Patient", "second patient"},
		"bundle-subject-without-reference.json":      {"Bundle.entry[0].resource.Observation.subject", "must refer to the patient"},
		"bundle-transaction-delete.json":             {"Bundle.entry[0].request.method", `"DELETE" is not accepted`},
		"bundle-transaction-without-request.json":    {"Bundle.entry[1].request", "required in a transaction"},
		"bundle-transaction-wrong-url.json":          {"Bundle.entry[2].request.url", "MedicationStatement"},
		"condition-icd10gm-without-dot.json":         {"Condition.code.coding[0].code", `"E119" is not an ICD-10-GM code`},
		"documentreference-without-content.json":     {"DocumentReference.content", "is required"},
		"immunization-german-date.json":              {"Immunization.occurrenceDateTime", `"15.10.2024" is not a valid dateTime`},
		"medicationstatement-atc.json":               {"MedicationStatement.medicationCodeableConcept.coding[0].code", "ATC"},
		"observation-bogus-status.json":              {"Observation.status", `"bogus-status" is not a valid code`},
		"observation-id-with-space.json":             {"Observation.id", `"lab 1" is not a valid id`},
		"observation-loinc-check-digit.json":         {"Observation.code.coding[0].code", "check digit"},
		"observation-missing-status.json":            {"Observation.status", "is required"},
		"observation-misspelt-element.json":          {"Observation.valueQuantiy", "not an element"},
		"observation-range-as-string.json":           {"Observation.referenceRange[0].high.value", "decimal"},
		"observation-subject-practitioner.json":      {"Observation.subject", "Practitioner"},
		"observation-ucum-unit.json":                 {"Observation.valueQuantity.code", `"per cent" is not a UCUM unit`},
		"observation-value-1e999.json":               {"Observation.valueQuantity.value", "1e999 is not a finite number"},
		"patient-birthdate-not-a-date.json":          {"Patient.birthDate", `"not-a-date" is not a valid date`},
		"patient-gender-twice.json":                  {"Patient.gender", "appears twice"},
		"patient-name-invalid-utf8.json":             {"Patient.name[0].family", "not valid UTF-8"},
		"procedure-ops-without-hyphen.json":          {"Procedure.code.coding[0].code", `"5470.11" is not an OPS code`},
	}
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	require.NoError(t, err)
	require.Len(t, files, len(cases), "every invalid file has a case, every case a file")
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want, ok := cases[name]
			require.True(t, ok, "no expectation for %s", name)
			_, err := parseFile(t, path)
			requireInvalid(t, err, want.path, want.message)
		})
	}
}

// requireInvalid checks that err is a ValidationError at path whose message contains msg.
func requireInvalid(t *testing.T, err error, path, msg string) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, fhir.ErrInvalid)
	var ve *fhir.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, path, ve.Path, "error: %v", err)
	require.Contains(t, ve.Message, msg)
}

func TestParseInline(t *testing.T) {
	cases := []struct {
		name, in, path, msg string
	}{
		{"empty", ``, "", "empty"},
		{"blank", " \n", "", "empty"},
		{"malformed", `{`, "", "malformed JSON"},
		{"array", `[]`, "", "JSON object"},
		{"string", `"Observation"`, "", "JSON object"},
		{"no resourceType", `{"status":"final"}`, "resourceType", "is required"},
		{"empty resourceType", `{"resourceType":""}`, "resourceType", "resource type name"},
		{"resourceType a number", `{"resourceType":7}`, "resourceType", "resource type name"},
		{"lower-case type", `{"resourceType":"observation"}`, "resourceType", "not a FHIR R4 resource type"},
		{"data after", `{"resourceType":"Basic","code":{"text":"x"}} {}`, "", "data after"},
		{"key twice at top", `{"resourceType":"Basic","code":{"text":"x"},"code":{"text":"y"}}`, "Basic.code", "appears twice"},
		{"key twice in a contained resource", `{"resourceType":"Basic","code":{"text":"x"},"contained":[{"id":"a","id":"b","resourceType":"Basic","code":{"text":"y"}}]}`, "Basic.contained[0].Basic.id", "appears twice"},
		{"invalid UTF-8 in a key", "{\"resourceType\":\"Basic\",\"code\":{\"te\xffxt\":\"x\"}}", "Basic.code.te\ufffdxt", "not valid UTF-8"},
		{"too deep", `{"resourceType":"Basic","code":` + strings.Repeat(`{"extension":[`, 40) + strings.Repeat(`]}`, 40) + `}`, "", "nested deeper"},
		{"null", `{"resourceType":"Patient","gender":null}`, "Patient.gender", ""},
		{"null in a list", `{"resourceType":"Basic","code":{"text":"x"},"extension":[null]}`, "Basic.extension[0]", "not a valid value"},
		{"empty string", `{"resourceType":"Patient","gender":""}`, "Patient.gender", "empty string"},
		{"blank string", `{"resourceType":"Patient","name":[{"family":"  "}]}`, "Patient.name[0].family", "empty string"},
		{"empty array", `{"resourceType":"Patient","name":[]}`, "Patient.name", "empty array"},
		{"empty object", `{"resourceType":"Patient","name":[{}]}`, "Patient.name[0]", "empty object"},
		{"contained without status", `{"resourceType":"Observation","status":"final","code":{"text":"x"},"contained":[{"resourceType":"Observation","code":{"text":"y"}}]}`, "Observation.contained[0].Observation.status", "is required"},
		{"contained in a Bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Basic","code":{"text":"x"},"contained":[{"resourceType":"Patient","gender":"x"}]}}]}`, "Bundle.entry[0].resource.Basic.contained[0].Patient.gender", "not a valid code"},
		{"required in a Bundle entry", `{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"MedicationStatement","status":"active","subject":{"reference":"Patient/p"}}}]}`, "Bundle.entry[0].resource.MedicationStatement.medication", "is required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := fhir.Parse([]byte(c.in))
			requireInvalid(t, err, c.path, c.msg)
		})
	}
	_, err := fhir.Parse(make([]byte, fhir.MaxResourceBytes+1))
	requireInvalid(t, err, "", "larger than")
}

// TestSeveralErrors checks that several wrong elements are all reported, in path order.
func TestSeveralErrors(t *testing.T) {
	_, err := fhir.Parse([]byte(`{"resourceType":"Patient","gender":"mann","birthDate":"gestern","active":"yes"}`))
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	require.Equal(t, []string{
		`Patient.active: "yes" is not a valid boolean`,
		`Patient.birthDate: "gestern" is not a valid date`,
		`Patient.gender: "mann" is not a valid code`,
	}, lines)
	var ve *fhir.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Patient.active", ve.Path)

	wrapped := fmt.Errorf("upload: %w", err)
	var paths []string
	for _, is := range fhir.Issues(wrapped) {
		paths = append(paths, is.Path)
	}
	require.Equal(t, []string{"Patient.active", "Patient.birthDate", "Patient.gender"}, paths)
	require.Empty(t, fhir.Issues(errors.New("not about content")))
}

// TestUnknownSystemsKept checks that codes of systems CareLedger does not know are kept.
func TestUnknownSystemsKept(t *testing.T) {
	r, err := fhir.Parse([]byte(`{"resourceType":"Condition","subject":{"reference":"Patient/p"},
		"code":{"coding":[{"system":"urn:oid:1.2.276.0.76.5.999","code":"anything at all"},
		{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":"C50.9","display":"Brust"}]}}`))
	require.NoError(t, err)
	require.Equal(t, "C50.9", r.Summary.Code.Code, "the ICD-10-GM coding is preferred")
	require.Equal(t, "diagnosis", r.Category)
	require.Equal(t, "Patient/p", r.Subject)
}

func TestCategories(t *testing.T) {
	cases := map[string]string{
		`{"resourceType":"Observation","status":"final","code":{"text":"Hb"}}`: "lab",
		`{"resourceType":"Observation","status":"final","code":{"text":"BP"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}]}`: "vital-signs",
		`{"resourceType":"Observation","status":"final","code":{"text":"Q"},"category":[{"coding":[{"code":"survey"}]}]}`:                                                                             "questionnaire",
		`{"resourceType":"DiagnosticReport","status":"final","code":{"text":"CT"},"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0074","code":"RAD"}]}]}`:                 "imaging",
		`{"resourceType":"DiagnosticReport","status":"final","code":{"text":"Labor"}}`:                                                                                                                "lab",
		`{"resourceType":"MedicationStatement","status":"active","subject":{"reference":"Patient/p"},"medicationCodeableConcept":{"text":"x"}}`:                                                       "medication",
		`{"resourceType":"QuestionnaireResponse","status":"completed"}`:                                                                                                                               "questionnaire",
		`{"resourceType":"Encounter","status":"finished","class":{"code":"AMB"}}`:                                                                                                                     "note",
		`{"resourceType":"Patient"}`: "demographics",
		`{"resourceType":"Consent","status":"active","scope":{"coding":[{"code":"research"}]},"category":[{"coding":[{"code":"57016-8"}]}]}`: "consent",
	}
	for in, want := range cases {
		r, err := fhir.Parse([]byte(in))
		require.NoError(t, err, in)
		require.Equal(t, want, r.Category, in)
	}
}

// TestDescribe reads records stored before validation was strict: best effort, no error.
func TestDescribe(t *testing.T) {
	r, err := fhir.Describe([]byte(`{"resourceType":"Observation","code":{"text":"Hb"},"valueQuantity":{"value":"13.2","unit":"g/dL"},"referenceRange":[{"low":{"value":12,"unit":"g/dL"}}]}`))
	require.NoError(t, err)
	require.Equal(t, "Hb", r.Summary.Title)
	require.Equal(t, "lab", r.Category)
	require.Equal(t, "12", r.Summary.Observation.Low.Value)
	_, err = fhir.Describe([]byte(`[1]`))
	require.ErrorIs(t, err, fhir.ErrInvalid)
}

// TestBundlePatients checks how entries' patient references are matched.
func TestBundlePatients(t *testing.T) {
	obs := func(ref string) string {
		return `{"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"` + ref + `"}}}`
	}
	bundle := func(entries ...string) []byte {
		return []byte(`{"resourceType":"Bundle","type":"collection","entry":[` + strings.Join(entries, ",") + `]}`)
	}
	patient := `{"fullUrl":"urn:uuid:1","resource":{"resourceType":"Patient","id":"p1"}}`

	b, err := fhir.ParseBundle(bundle(patient, obs("urn:uuid:1"), obs("Patient/p1"), obs("https://ehr.example/fhir/Patient/p1")))
	require.NoError(t, err, "fullUrl, type/id and absolute URL all name the Bundle's patient")
	require.Equal(t, "urn:uuid:1", b.Patient)

	require.Equal(t, "p1", b.PatientID)
	require.Equal(t, "p1", b.Entries[2].Resource.SubjectID())
	require.Equal(t, "p1", b.Entries[3].Resource.SubjectID())
	require.Empty(t, b.Entries[1].Resource.SubjectID(), "a urn:uuid names no id")

	b, err = fhir.ParseBundle(bundle(obs("Patient/p9"), obs("Patient/p9")))
	require.NoError(t, err, "without a Patient entry, one shared reference")
	require.Equal(t, "Patient/p9", b.Patient)
	require.Equal(t, "p9", b.PatientID)

	_, err = fhir.ParseBundle(bundle(`{"resource":{"resourceType":"Patient"}}`, obs("Patient/p9")))
	requireInvalid(t, err, "Bundle.entry[0].resource.Patient.id", "is required")

	_, err = fhir.ParseBundle(bundle(obs("Patient/p9"), obs("Patient/p8")))
	requireInvalid(t, err, "Bundle.entry[1].resource.Observation.subject", `refers to "Patient/p8"`)

	_, err = fhir.ParseBundle(bundle(obs("Group/g")))
	requireInvalid(t, err, "Bundle.entry[0].resource.Observation.subject", "refers to a Group")

	_, err = fhir.ParseBundle([]byte(`{"resourceType":"Patient"}`))
	requireInvalid(t, err, "Patient", "not a Bundle")

	_, err = fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection"}`))
	requireInvalid(t, err, "Bundle.entry", "empty")

	_, err = fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"fullUrl":"urn:uuid:2"}]}`))
	requireInvalid(t, err, "Bundle.entry[0].resource", "is required")

	b, err = fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"p1"},"request":{"method":"PUT","url":"Patient/p1"}}]}`))
	require.NoError(t, err)
	require.Equal(t, &fhir.Request{Method: "PUT", URL: "Patient/p1"}, b.Entries[0].Request)
}

// TestBundleMedicationReference checks that a MedicationStatement that refers to a
// Medication in the same Bundle, as the MII medication module has it, is named and coded.
func TestBundleMedicationReference(t *testing.T) {
	b, err := fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection","entry":[
		{"fullUrl":"urn:uuid:m1","resource":{"resourceType":"Medication","code":{"coding":[
			{"system":"http://fhir.de/CodeSystem/bfarm/atc","code":"A10BA02","display":"Metformin"}]}}},
		{"resource":{"resourceType":"MedicationStatement","status":"active","subject":{"reference":"Patient/p1"},
			"medicationReference":{"reference":"urn:uuid:m1"},"dosage":[{"text":"1-0-1"}]}}]}`))
	require.NoError(t, err)
	require.Equal(t, "medication", b.Entries[0].Resource.Category)
	s := b.Entries[1].Resource.Summary
	require.Equal(t, "Metformin", s.Title)
	require.Equal(t, "A10BA02", s.Code.Code)
	require.Equal(t, "urn:uuid:m1", s.Medication.Reference)
	require.Equal(t, "1-0-1", s.Medication.Dose)
}

func TestValidationErrorLogValue(t *testing.T) {
	ve := &fhir.ValidationError{Path: "Patient.name[0].family", Message: `"Mustermann" is not valid`}
	require.NotContains(t, ve.LogValue().String(), "Mustermann", "record content never reaches a log")
	require.True(t, errors.Is(ve, fhir.ErrInvalid))
}

func TestValidateDocument(t *testing.T) {
	require.NoError(t, fhir.ValidateDocument("application/pdf", []byte("%PDF-1.7")))
	require.NoError(t, fhir.ValidateDocument("image/dicom+jpeg", []byte{1}))
	for _, mt := range []string{"", "pdf", "application/pdf; charset=x", "APPLICATION/PDF", "a/b/c"} {
		require.ErrorIs(t, fhir.ValidateDocument(mt, []byte("x")), fhir.ErrInvalid, mt)
	}
	require.ErrorIs(t, fhir.ValidateDocument("application/pdf", nil), fhir.ErrInvalid)
	// Callers join these under their own "invalid record content" (gateway.ErrInvalidContent):
	// the detail must not say it a second time.
	for _, err := range []error{fhir.ValidateDocument("application/pdf", nil), fhir.ValidateDocument("pdf", []byte("x"))} {
		require.NotContains(t, err.Error(), "invalid record content")
	}
}

func TestParseDate(t *testing.T) {
	cases := map[string]fhir.Precision{
		"2024": fhir.PrecisionYear, "2024-11": fhir.PrecisionMonth, "2024-11-04": fhir.PrecisionDay,
		"2024-11-04T07:45:00+01:00": fhir.PrecisionTime, "2024-11-04T07:45:00.123Z": fhir.PrecisionTime,
	}
	for in, p := range cases {
		d, err := fhir.ParseDate(in)
		require.NoError(t, err, in)
		require.Equal(t, p, d.Precision, in)
		require.Equal(t, in, d.String())
	}
	d, err := fhir.ParseDate("2024-11-04T07:45:00+01:00")
	require.NoError(t, err)
	require.Equal(t, "2024-11-04T06:45:00Z", d.Time.UTC().Format("2006-01-02T15:04:05Z07:00"))
	for _, in := range []string{"", "04.11.2024", "2024-13-01", "2024-02-30", "2024-11-04T25:00:00Z"} {
		_, err := fhir.ParseDate(in)
		require.Error(t, err, in)
	}
}

// FuzzParse feeds arbitrary bytes to the parsers: they must never panic, every refusal must
// be a ValidationError, and what they accept must have a type and a category.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examples, "*.json"))
	invalid, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	for _, path := range append(files, invalid...) {
		if data, err := os.ReadFile(path); err == nil && len(data) < 8<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
	f.Add([]byte(`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Patient"}}]}`))
	f.Add([]byte(`{"resourceType":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(typ, category string, err error) {
			if err != nil {
				var ve *fhir.ValidationError
				require.ErrorAs(t, err, &ve)
				require.ErrorIs(t, err, fhir.ErrInvalid)
				return
			}
			require.NotEmpty(t, typ)
			require.NotEmpty(t, category)
		}
		r, err := fhir.Parse(data)
		if err == nil {
			check(r.Type, r.Category, nil)
		} else {
			check("", "", err)
		}
		b, err := fhir.ParseBundle(data)
		if err == nil {
			for _, e := range b.Entries {
				check(e.Resource.Type, e.Resource.Category, nil)
			}
		} else {
			check("", "", err)
		}
		_, _ = fhir.Describe(data)
	})
}

// BenchmarkParseBundle validates and splits the example patient's Bundle, as an upload does.
func BenchmarkParseBundle(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(examples, "patient-bundle.json"))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := fhir.ParseBundle(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDescribe reads the summary of one result, as a view does for every record shown.
func BenchmarkDescribe(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(examples, "observation-hba1c.json"))
	require.NoError(b, err)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := fhir.Describe(data); err != nil {
			b.Fatal(err)
		}
	}
}
