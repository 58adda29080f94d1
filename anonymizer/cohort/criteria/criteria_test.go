package criteria_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/stretchr/testify/require"
)

// FHIR JSON builders for the test population.
func patientRes(sex, birth string) string {
	return fmt.Sprintf(`{"resourceType":"Patient","gender":%q,"birthDate":%q}`, sex, birth)
}

func condition(code, onset string) string {
	return fmt.Sprintf(`{"resourceType":"Condition","code":{"coding":[{"system":"http://snomed.info/sct","code":"44054006"},{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":%q}]},"onsetDateTime":%q,"subject":{"reference":"Patient/x"}}`, code, onset)
}

func refutedCondition(code, onset string) string {
	return fmt.Sprintf(`{"resourceType":"Condition","verificationStatus":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/condition-ver-status","code":"refuted"}]},"code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":%q}]},"onsetDateTime":%q,"subject":{"reference":"Patient/x"}}`, code, onset)
}

func procedure(code, date string) string {
	return fmt.Sprintf(`{"resourceType":"Procedure","status":"completed","code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/ops","code":%q}]},"performedDateTime":%q,"subject":{"reference":"Patient/x"}}`, code, date)
}

func medication(atc, date string) string {
	return fmt.Sprintf(`{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/atc","code":%q}]},"effectiveDateTime":%q,"subject":{"reference":"Patient/x"}}`, atc, date)
}

func prescription(atc, date string) string {
	return fmt.Sprintf(`{"resourceType":"MedicationRequest","status":"active","intent":"order","medicationCodeableConcept":{"coding":[{"system":"http://www.whocc.no/atc","code":%q}]},"authoredOn":%q,"subject":{"reference":"Patient/x"}}`, atc, date)
}

func lab(loinc, value, unit, date string) string {
	return fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":%q}]},"valueQuantity":{"value":%s,"unit":%q,"system":"http://unitsofmeasure.org","code":%q},"effectiveDateTime":%q,"subject":{"reference":"Patient/x"}}`, loinc, value, unit, unit, date)
}

// population is a small fixed population whose answers are worked out by hand in the test
// table. Reference date 2026-01-01.
func population() map[string]criteria.Patient {
	raw := map[string][]string{
		// T2DM 2020-03-01, metformin after 45 days, HbA1c 7.5 % after 184 days, an OPS procedure.
		"P1": {patientRes("female", "1960-05-10"), condition("E11.9", "2020-03-01"), condition("E11.9", "2021-01-01"),
			medication("A10BA02", "2020-04-15"), lab("4548-4", "7.5", "%", "2020-09-01"), procedure("5-470.11", "2019-01-01")},
		// T2DM, metformin only after 183 days.
		"P2": {patientRes("male", "1950-01-01"), condition("E11.65", "2022-06-01"), medication("A10BA02", "2022-12-01"), lab("4548-4", "8", "%", "2022-07-01")},
		// Type 1 diabetes, insulin the same day, HbA1c in mmol/mol.
		"P3": {patientRes("female", "1990-12-31"), condition("E10.9", "2021-01-01"), prescription("A10AB01", "2021-01-01"), lab("4548-4", "64", "mmol/mol", "2021-06-01")},
		// T2DM, metformin after 10 days, but HbA1c in mmol/mol: not comparable with %.
		"P4": {patientRes("male", "1970-07-01"), condition("I10", "2010-05-05"), condition("E11.9", "2023-01-10"), medication("A10BA02", "2023-01-20"), lab("4548-4", "58", "mmol/mol", "2023-06-01")},
		// T2DM, metformin the same day, HbA1c 7.2 % after 182 days; born on 29 February.
		"P5": {patientRes("female", "1980-02-29"), condition("E11.9", "2024-02-01"), prescription("A10BA02", "2024-02-01"), lab("4548-4", "7.2", "%", "2024-08-01")},
		// A refuted T2DM diagnosis is no diagnosis.
		"P6": {patientRes("male", "2000-01-01"), refutedCondition("E11.9", "2022-01-01"), medication("A10BA02", "2022-01-05"), lab("4548-4", "9", "%", "2022-03-01")},
		// A diagnosis after the reference date does not count; glucose 110 mg/dL.
		"P7": {patientRes("female", "1955-03-15"), condition("E11.9", "2027-01-01"), lab("2345-7", "110", "mg/dL", "2025-01-01")},
		// No Patient resource: sex and age unknown; metformin coded only to the chemical
		// subgroup (A10BA).
		"P8": {condition("E11", "2020-01-01"), medication("A10BA", "2020-01-15"), lab("4548-4", "7.1", "%", "2020-06-01"), `{"not":"fhir"}`, `[]`},
	}
	out := map[string]criteria.Patient{}
	for id, rs := range raw {
		var bs [][]byte
		for _, r := range rs {
			bs = append(bs, []byte(r))
		}
		out[id] = criteria.FromFHIR(bs)
	}
	return out
}

var t2dm = `{
  "version": 1,
  "referenceDate": "2026-01-01",
  "index": {"condition": "E11"},
  "include": [
    {"medication": "A10BA02", "window": {"fromDays": 0, "toDays": 90}},
    {"lab": {"loinc": "4548-4", "comparator": ">", "value": 7, "unit": "%"}, "window": {"fromDays": 0, "toDays": 365}}
  ]
}`

func TestEvaluateAgainstHandComputedAnswers(t *testing.T) {
	pop := population()
	cases := []struct {
		name  string
		def   string
		want  []string
		notes map[string][]string
	}{
		{"T2DM, metformin within 90 days, HbA1c > 7 % within a year", t2dm, []string{"P1", "P5"}, map[string][]string{"P4": {"mmol/mol→%"}}},
		{"T2DM at 60 or older", `{"version":1,"referenceDate":"2026-01-01","include":[{"condition":"E11"},{"age":{"min":60}}]}`, []string{"P1", "P2"}, nil},
		{"women without T2DM", `{"version":1,"referenceDate":"2026-01-01","include":[{"sex":["female"]}],"exclude":[{"condition":"E11"}]}`, []string{"P3", "P7"}, nil},
		{"glucose at least 1.1 g/L (110 mg/dL)", `{"version":1,"referenceDate":"2026-01-01","include":[{"lab":{"loinc":"2345-7","comparator":">=","value":1.1,"unit":"g/L"}}]}`, []string{"P7"}, nil},
		{"glucose above 1.1 g/L", `{"version":1,"referenceDate":"2026-01-01","include":[{"lab":{"loinc":"2345-7","comparator":">","value":1.1,"unit":"g/L"}}]}`, nil, nil},
		{"OPS prefix", `{"version":1,"include":[{"procedure":"5-47"}]}`, []string{"P1"}, nil},
		{"OPS subcode prefix", `{"version":1,"include":[{"procedure":"5-470.1"}]}`, []string{"P1"}, nil},
		{"OPS other code", `{"version":1,"include":[{"procedure":"5-471"}]}`, nil, nil},
		{"diabetes drug from 30 days before to the day of the first E1x", `{"version":1,"referenceDate":"2026-01-01","index":{"condition":"E1"},"include":[{"medication":"A10","window":{"fromDays":-30,"toDays":0}}]}`, []string{"P3", "P5"}, nil},
		{"T2DM diagnosed at 50 or younger", `{"version":1,"referenceDate":"2026-01-01","index":{"condition":"E11"},"include":[{"age":{"max":50,"at":"index"}}]}`, []string{"P5"}, nil},
		{"any HbA1c, not 70 or older", `{"version":1,"referenceDate":"2026-01-01","include":[{"lab":{"loinc":"4548-4"}}],"exclude":[{"age":{"min":70}}]}`, []string{"P1", "P3", "P4", "P5", "P6", "P8"}, nil},
		{"HbA1c at least 64 mmol/mol", `{"version":1,"referenceDate":"2026-01-01","include":[{"lab":{"loinc":"4548-4","comparator":">=","value":64,"unit":"mmol/mol"}}]}`, []string{"P3"},
			map[string][]string{"P1": {"%→mmol/mol"}, "P2": {"%→mmol/mol"}, "P5": {"%→mmol/mol"}, "P6": {"%→mmol/mol"}, "P8": {"%→mmol/mol"}}},
		{"an earlier reference date hides P2's later diagnosis; P1 is just 60", `{"version":1,"referenceDate":"2020-12-31","include":[{"condition":"E11"},{"age":{"min":60}}]}`, []string{"P1"}, nil},
		{"the day before her 60th birthday P1 is 59", `{"version":1,"referenceDate":"2020-05-09","include":[{"condition":"E11"},{"age":{"min":60}}]}`, nil, nil},
		{"reference date before any T2DM but P8's", `{"version":1,"referenceDate":"2020-01-01","include":[{"condition":"E11"}]}`, []string{"P8"}, nil},
		{"type 1 diabetes or an OPS 5-47 procedure", `{"version":1,"referenceDate":"2026-01-01","include":[{"anyOf":[{"condition":"E10"},{"procedure":"5-47"}]}]}`, []string{"P1", "P3"}, nil},
		{"after T2DM: metformin within 30 days or HbA1c above 7.9 % within 60", `{"version":1,"referenceDate":"2026-01-01","index":{"condition":"E11"},"include":[{"anyOf":[{"medication":"A10BA02","window":{"fromDays":0,"toDays":30}},{"lab":{"loinc":"4548-4","comparator":">","value":7.9,"unit":"%"},"window":{"fromDays":0,"toDays":60}}]}]}`, []string{"P2", "P4", "P5"}, nil},
		{"sex unknown matches no sex", `{"version":1,"include":[{"sex":["female","male","other","unknown"]}]}`, []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := criteria.Parse([]byte(tc.def))
			require.NoError(t, err)
			q, err := criteria.Compile(d, time.Date(2026, 1, 1, 15, 0, 0, 0, time.UTC))
			require.NoError(t, err)
			var got []string
			notes := map[string][]string{}
			for id, p := range pop {
				out := q.Evaluate(&p)
				if out.Match {
					got = append(got, id)
				}
				if len(out.Incomparable) > 0 {
					notes[id] = out.Incomparable
				}
			}
			slices.Sort(got)
			require.Equal(t, tc.want, got)
			if tc.notes == nil {
				tc.notes = map[string][]string{}
			}
			require.Equal(t, tc.notes, notes, "units that could not be compared")
		})
	}
}

func TestUnitsConvertOnlyWhenTriviallyCompatible(t *testing.T) {
	def := func(value float64, unit string) string {
		return fmt.Sprintf(`{"version":1,"include":[{"lab":{"loinc":"2345-7","comparator":"=","value":%v,"unit":%q}}]}`, value, unit)
	}
	cases := []struct {
		result, resultUnit string
		value              float64
		unit               string
		match              bool
	}{
		{"110", "mg/dL", 1.1, "g/L", true},
		{"110", "mg/dL", 1100, "mg/L", true},
		{"6.1", "mmol/L", 6100, "umol/L", true},
		{"5.2", "10*9/L", 5200, "10*6/L", true},
		{"5.2", "10*9/L", 5.2, "10*3/uL", true},
		{"120", "mm[Hg]", 120, "mm[Hg]", true},
		{"120", "mm[Hg]", 16, "kPa", false},
		{"6.1", "mmol/L", 110, "mg/dL", false}, // needs the molar mass
		{"48", "mmol/mol", 6.5, "%", false},
		{"30", "min", 0.5, "h", false},
	}
	for _, tc := range cases {
		t.Run(tc.result+" "+tc.resultUnit+" = "+fmt.Sprint(tc.value)+" "+tc.unit, func(t *testing.T) {
			d, err := criteria.Parse([]byte(def(tc.value, tc.unit)))
			require.NoError(t, err)
			q, err := criteria.Compile(d, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			require.NoError(t, err)
			p := criteria.FromFHIR([][]byte{[]byte(lab("2345-7", tc.result, tc.resultUnit, "2025-01-01"))})
			out := q.Evaluate(&p)
			require.Equal(t, tc.match, out.Match)
			require.Equal(t, !tc.match, len(out.Incomparable) == 1, "an incomparable unit is said so: %v", out.Incomparable)
		})
	}
}

func TestBadDefinitionsAreRefusedNamingTheElement(t *testing.T) {
	cases := []struct {
		name, def, path string
	}{
		{"not JSON", `{`, ""},
		{"trailing data", `{"version":1,"include":[{"sex":["male"]}]}{}`, ""},
		{"unknown member", `{"version":1,"include":[{"sex":["male"]}],"name":"Jane"}`, ""},
		{"wrong type", `{"version":"1"}`, "version"},
		{"no version", `{"include":[{"sex":["male"]}]}`, "version"},
		{"future version", `{"version":2,"include":[{"sex":["male"]}]}`, "version"},
		{"bad reference date", `{"version":1,"referenceDate":"01.01.2026","include":[{"sex":["male"]}]}`, "referenceDate"},
		{"nothing asked", `{"version":1}`, "include"},
		{"two kinds in one criterion", `{"version":1,"include":[{"condition":"E11","medication":"A10"}]}`, "include[0]"},
		{"empty criterion", `{"version":1,"include":[{}]}`, "include[0]"},
		{"ICD lower case", `{"version":1,"include":[{"condition":"e11"}]}`, "include[0].condition"},
		{"ICD with a dot too early", `{"version":1,"include":[{"condition":"E1.1"}]}`, "include[0].condition"},
		{"ICD wildcard", `{"version":1,"include":[{"condition":"E11*"}]}`, "include[0].condition"},
		{"OPS malformed", `{"version":1,"exclude":[{"procedure":"5470"}],"include":[{"sex":["male"]}]}`, "exclude[0].procedure"},
		{"ATC malformed", `{"version":1,"include":[{"medication":"A10B02"}]}`, "include[0].medication"},
		{"LOINC check digit", `{"version":1,"include":[{"lab":{"loinc":"4548-5"}}]}`, "include[0].lab.loinc"},
		{"lab without unit", `{"version":1,"include":[{"lab":{"loinc":"4548-4","comparator":">","value":7}}]}`, "include[0].lab"},
		{"lab comparator unknown", `{"version":1,"include":[{"lab":{"loinc":"4548-4","comparator":"!=","value":7,"unit":"%"}}]}`, "include[0].lab.comparator"},
		{"lab unit with space", `{"version":1,"include":[{"lab":{"loinc":"4548-4","comparator":">","value":7,"unit":"mg dl"}}]}`, "include[0].lab.unit"},
		{"lab value huge", `{"version":1,"include":[{"lab":{"loinc":"4548-4","comparator":">","value":1e999,"unit":"%"}}]}`, "include.lab.value"},
		{"age empty", `{"version":1,"include":[{"age":{}}]}`, "include[0].age"},
		{"age inverted", `{"version":1,"include":[{"age":{"min":80,"max":40}}]}`, "include[0].age"},
		{"age negative", `{"version":1,"include":[{"age":{"min":-1}}]}`, "include[0].age"},
		{"age at index without index", `{"version":1,"include":[{"age":{"min":40,"at":"index"}}]}`, "include[0].age.at"},
		{"age at elsewhere", `{"version":1,"include":[{"age":{"min":40,"at":"birth"}}]}`, "include[0].age.at"},
		{"sex empty", `{"version":1,"include":[{"sex":[]}]}`, "include[0].sex"},
		{"sex unknown word", `{"version":1,"include":[{"sex":["f"]}]}`, "include[0].sex[0]"},
		{"sex twice", `{"version":1,"include":[{"sex":["male","male"]}]}`, "include[0].sex[1]"},
		{"window without index", `{"version":1,"include":[{"condition":"E11","window":{"fromDays":0,"toDays":9}}]}`, "include[0].window"},
		{"window on sex", `{"version":1,"index":{"condition":"E11"},"include":[{"sex":["male"],"window":{"fromDays":0,"toDays":9}}]}`, "include[0].window"},
		{"window inverted", `{"version":1,"index":{"condition":"E11"},"include":[{"condition":"E11","window":{"fromDays":9,"toDays":0}}]}`, "include[0].window"},
		{"window too long", `{"version":1,"index":{"condition":"E11"},"include":[{"condition":"E11","window":{"fromDays":0,"toDays":99999}}]}`, "include[0].window"},
		{"anyOf of one", `{"version":1,"include":[{"anyOf":[{"condition":"E11"}]}]}`, "include[0].anyOf"},
		{"anyOf in anyOf", `{"version":1,"include":[{"anyOf":[{"condition":"E11"},{"anyOf":[{"condition":"E10"},{"condition":"E12"}]}]}]}`, "include[0].anyOf[1]"},
		{"anyOf with a window", `{"version":1,"index":{"condition":"E11"},"include":[{"anyOf":[{"condition":"E11"},{"condition":"E10"}],"window":{"fromDays":0,"toDays":1}}]}`, "include[0].window"},
		{"anyOf member wrong", `{"version":1,"exclude":[{"anyOf":[{"condition":"E11"},{"condition":"sugar"}]}],"include":[{"sex":["male"]}]}`, "exclude[0].anyOf[1].condition"},
		{"anyOf member window without index", `{"version":1,"include":[{"anyOf":[{"condition":"E11","window":{"fromDays":0,"toDays":1}},{"condition":"E10"}]}]}`, "include[0].anyOf[0].window"},
		{"index is anyOf", `{"version":1,"index":{"anyOf":[{"condition":"E11"},{"condition":"E10"}]}}`, "index"},
		{"index is sex", `{"version":1,"index":{"sex":["male"]}}`, "index"},
		{"index with window", `{"version":1,"index":{"condition":"E11","window":{"fromDays":0,"toDays":1}}}`, "index.window"},
		{"too many criteria", `{"version":1,"include":[` + strings.TrimSuffix(strings.Repeat(`{"sex":["male"]},`, 51), ",") + `]}`, ""},
		{"too large", `{"version":1,"include":[{"condition":"E11"}],"referenceDate":"` + strings.Repeat("x", criteria.MaxBytes) + `"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := criteria.Parse([]byte(tc.def))
			require.ErrorIs(t, err, criteria.ErrInvalid)
			var e *criteria.Error
			require.True(t, errors.As(err, &e))
			require.Equal(t, tc.path, e.Path, "%v", err)
		})
	}
}

func TestHashIgnoresSpacing(t *testing.T) {
	a, err := criteria.Parse([]byte(t2dm))
	require.NoError(t, err)
	var compact bytes.Buffer
	require.NoError(t, json.Compact(&compact, []byte(t2dm)))
	b, err := criteria.Parse([]byte(compact.String()))
	require.NoError(t, err)
	require.Equal(t, a.Hash(), b.Hash())
	require.Len(t, a.Hash(), 64)
	c, err := criteria.Parse([]byte(strings.Replace(t2dm, `"toDays": 90`, `"toDays": 91`, 1)))
	require.NoError(t, err)
	require.NotEqual(t, a.Hash(), c.Hash())
}

// FuzzParse: whatever arrives, Parse either returns a definition that compiles and
// evaluates, or an error naming an element; it never panics.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		t2dm, `{"version":1,"include":[{"sex":["male"]}]}`, `{"version":1,"include":[{"age":{"min":1,"max":2,"at":"index"}}],"index":{"lab":{"loinc":"4548-4"}}}`,
		`{"version":1,"include":[{"lab":{"loinc":"2345-7","comparator":"<=","value":-0,"unit":"10*3/uL"}}]}`, `null`, `[]`, "\xff", `{"version":1,"include":[{"condition":"E"}]}`,
		`{"version":1,"index":{"condition":"E11"},"include":[{"anyOf":[{"medication":"A10BA02","window":{"fromDays":0,"toDays":30}},{"age":{"max":50,"at":"index"}}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	pop := population()
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := criteria.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, criteria.ErrInvalid)
			return
		}
		q, err := criteria.Compile(d, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		require.NoError(t, err)
		for _, p := range pop {
			q.Evaluate(&p)
		}
		again, err := json.Marshal(d)
		require.NoError(t, err)
		d2, err := criteria.Parse(again)
		require.NoError(t, err, "a valid definition round-trips: %s", again)
		require.Equal(t, d.Hash(), d2.Hash())
	})
}

func TestDrugsGivenByReferenceTakeTheMedicationsCode(t *testing.T) {
	d, err := criteria.Parse([]byte(`{"version":1,"include":[{"medication":"A10BA02"}]}`))
	require.NoError(t, err)
	q, err := criteria.Compile(d, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	statement := func(ref string) []byte {
		return []byte(`{"resourceType":"MedicationStatement","status":"active","medicationReference":{"reference":"` + ref + `"},"effectiveDateTime":"2024-01-01","subject":{"reference":"Patient/x"}}`)
	}
	metformin := []byte(`{"resourceType":"Medication","id":"met1","code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/atc","code":"A10BA02"}]}}`)
	for name, tc := range map[string]struct {
		resources [][]byte
		match     bool
	}{
		"relative reference":           {[][]byte{statement("Medication/met1"), metformin}, true},
		"absolute reference":           {[][]byte{metformin, statement("https://clinic.example/fhir/Medication/met1")}, true},
		"medication missing":           {[][]byte{statement("Medication/met1")}, false},
		"another medication":           {[][]byte{statement("Medication/other"), metformin}, false},
		"bundle-internal reference":    {[][]byte{statement("urn:uuid:0f2c0d4e-2f61-4f0c-9d7a-1b1c1d1e1f10"), metformin}, false},
		"coded in place wins":          {[][]byte{[]byte(medication("A10BA02", "2024-01-01")), metformin}, true},
		"entered in error is not read": {[][]byte{[]byte(strings.Replace(string(statement("Medication/met1")), `"active"`, `"entered-in-error"`, 1)), metformin}, false},
	} {
		t.Run(name, func(t *testing.T) {
			p := criteria.FromFHIR(tc.resources)
			require.Equal(t, tc.match, q.Evaluate(&p).Match)
		})
	}
}
