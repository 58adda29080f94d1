package fhir_test

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden summaries in testdata/golden")

const examples = "../../docs/examples/fhir"

// parseFile parses an example or test file.
func parseFile(t testing.TB, path string) (any, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
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

// TestInvalid runs every file in testdata/invalid and checks that the error names the wrong
// element.
func TestInvalid(t *testing.T) {
	cases := map[string]struct{ path, message string }{
		"allergyintolerance-criticality.json":        {"AllergyIntolerance.criticality", `"severe" is not a valid code`},
		"allergyintolerance-snomed-check-digit.json": {"AllergyIntolerance.code.coding[0].code", "SNOMED CT"},
		"binary-data-not-base64.json":                {"Binary.data", "base64Binary"},
		"bloodwork-resource-type.json":               {"resourceType", `"Bloodwork" is not a FHIR R4 resource type`},
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
		`{"resourceType":"Patient"}`: "note",
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
// be a ValidationError, and what Parse accepts must have a type and a category.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(examples, "*.json"))
	invalid, _ := filepath.Glob(filepath.Join("testdata", "invalid", "*.json"))
	for _, path := range append(files, invalid...) {
		if data, err := os.ReadFile(path); err == nil && len(data) < 8<<10 {
			f.Add(data)
		}
	}
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
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
		_, _ = fhir.Describe(data)
	})
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
