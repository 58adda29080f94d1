package web

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // the zones tests name exist on any machine

	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "rewrite the golden views in testdata/views")

// examples holds the FHIR examples the README's commands upload.
const examples = "../../docs/examples/fhir"

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// berlinView reads in Europe/Berlin (the default zone) on 23 November 2026.
var berlinView = viewing{zone: mustZone("Europe/Berlin"), now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}

func TestViewContent(t *testing.T) {
	cases := []struct {
		name, mediaType, data string
		kind, title           string
		facts                 []fact
		results               []resultView
	}{
		{"observation with components", fhir.MediaType,
			`{"resourceType":"Observation","status":"final","code":{"text":"Blood pressure"},"component":[{"code":{"coding":[{"display":"Systolic"}]},"valueQuantity":{"value":128,"unit":"mmHg"}},{"code":{"text":"Diastolic"},"valueQuantity":{"value":82,"code":"mm[Hg]"}}]}`,
			"Result", "Blood pressure", []fact{{"Status", "final"}},
			[]resultView{{Label: "Systolic", Value: "128 mmHg"}, {Label: "Diastolic", Value: "82 mm[Hg]"}}},
		{"observation with a comparator is not judged", fhir.MediaType,
			`{"resourceType":"Observation","code":{"coding":[{"code":"2345-7"}]},"valueQuantity":{"value":0.1,"comparator":"<","unit":"mg/L"},"referenceRange":[{"high":{"value":5,"unit":"mg/L"}}]}`,
			"Result", "2345-7", nil, []resultView{{Label: "2345-7", Value: "<0.1 mg/L", Range: "up to 5 mg/L"}}},
		{"a low value against the range", fhir.MediaType,
			`{"resourceType":"Observation","status":"final","code":{"text":"Potassium"},"valueQuantity":{"value":3.2,"unit":"mmol/L"},"referenceRange":[{"low":{"value":3.5,"unit":"mmol/L"},"high":{"value":5.1,"unit":"mmol/L"}}]}`,
			"Result", "Potassium", nil,
			[]resultView{{Label: "Potassium", Value: "3.2 mmol/L", Range: "3.5 to 5.1 mmol/L", Flag: flagView{Class: "low", Symbol: "▼", Word: "low", Computed: true}}}},
		{"a critical value coded by the sender", fhir.MediaType,
			`{"resourceType":"Observation","status":"final","code":{"text":"Glucose"},"valueQuantity":{"value":450,"unit":"mg/dL"},"interpretation":[{"coding":[{"code":"HH"}]}],"referenceRange":[{"text":"fasting"}]}`,
			"Result", "Glucose", nil,
			[]resultView{{Label: "Glucose", Value: "450 mg/dL", Range: "fasting", Flag: flagView{Class: "critical-high", Symbol: "▲▲", Word: "critically high"}}}},
		{"condition", fhir.MediaType, `{"resourceType":"Condition","code":{"text":"Asthma"},"onsetDateTime":"2001"}`,
			"Diagnosis", "Asthma", []fact{{"Since", "2001"}}, nil},
		{"nested questionnaire", fhir.MediaType,
			`{"resourceType":"QuestionnaireResponse","item":[{"linkId":"a","text":"Sleep","item":[{"linkId":"a1","text":"Hours","answer":[{"valueDecimal":6.5}]}]},{"linkId":"b","answer":[{"valueCoding":{"code":"y","display":"Yes"}}]}]}`,
			"Questionnaire", "Answers", []fact{{"Sleep › Hours", "6.5"}, {"b", "Yes"}}, nil},
		{"clinician's note", fhir.MediaType,
			`{"resourceType":"Communication","status":"completed","sent":"2026-11-23T10:00:00Z","payload":[{"contentString":"Seen today."}]}`,
			"Note", "Note", []fact{{"Text", "Seen today."}, {"Written", "23 November 2026, 11:00"}}, nil},
		{"narrative is never rendered", fhir.MediaType,
			`{"resourceType":"Observation","text":{"div":"<div><script>alert(1)</script></div>"},"code":{"text":"<b>X</b>"}}`,
			"Result", "<b>X</b>", nil, nil},
		{"wrong types read as absent", fhir.MediaType,
			`{"resourceType":"Condition","code":"Asthma","onsetDateTime":{"x":1}}`, "Diagnosis", "Diagnosis", nil, nil},
		{"stored before validation was strict", fhir.MediaType,
			`{"resourceType":"Observation","status":"bogus-status","valueQuantity":{"value":"13.2","unit":"g/dL"},"effectiveDateTime":"not-a-date"}`,
			"Result", "Result", []fact{{"Status", "bogus-status"}}, []resultView{{Label: "Value", Value: "13.2 g/dL"}}},
		{"a resource type views do not know", fhir.MediaType, `{"resourceType":"Basic","code":{"text":"Something else"}}`,
			"Basic", "Something else", nil, nil},
		{"document", "application/pdf", "%PDF-1.7", "Document", "A document (application/pdf)", nil, nil},
		{"not JSON", fhir.MediaType, "{", "Unreadable entry", "This entry could not be read.", nil, nil},
		{"no resource type", fhir.MediaType, `{"id":"x"}`, "Unreadable entry", "This entry could not be read.", nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := viewContent(tc.mediaType, []byte(tc.data), berlinView)
			require.Equal(t, tc.kind, v.Kind)
			require.Equal(t, tc.title, v.Title)
			for _, f := range tc.facts {
				require.Contains(t, v.Facts, f)
			}
			require.Equal(t, tc.results, v.Results)
		})
	}
}

// exampleResources returns the single-resource examples by name (without .json).
func exampleResources(t *testing.T) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(examples, "*.json"))
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, f := range files {
		if name := strings.TrimSuffix(filepath.Base(f), ".json"); !strings.Contains(name, "bundle") {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			out[name] = data
		}
	}
	require.Contains(t, out, "documentreference-discharge-letter")
	return out
}

// TestViewExamples renders each example as a timeline entry and compares the HTML with the
// golden file in testdata/views (go test -update rewrites them), then checks what a clinician
// must be able to read in it.
func TestViewExamples(t *testing.T) {
	pages, err := newPageSets()
	require.NoError(t, err)
	page, err := pages.page("clinician_patient", berlinView.zone)
	require.NoError(t, err)
	must := map[string][]string{
		"patient":                            {"Personal details:</span> Erika Mustermann", "<dt>Born</dt><dd>12 August 1964</dd>", "<dt>Age</dt><dd>62</dd>", "<dt>Sex</dt><dd>female</dd>"},
		"observation-hba1c":                  {"<td class=\"value\">7.8 %</td>", "<td>4.0 to 5.6 %</td>", `<span aria-hidden="true">▲</span> high`, "<dt>Taken</dt><dd>4 November 2024, 07:45</dd>", "<dt>Reported</dt><dd>4 November 2024, 11:20</dd>", "Zielwert unter 7 % nicht erreicht.", "4548-4 (LOINC)"},
		"observation-blood-pressure":         {"Systolic blood pressure</th><td class=\"value\">148 mmHg</td>", `<span aria-hidden="true">▲</span> high`, "Diastolic blood pressure</th><td class=\"value\">88 mmHg</td>"},
		"condition-diabetes":                 {"Diagnosis:</span> Diabetes mellitus, Typ 2: Ohne Komplikationen", "E11.9 (ICD-10-GM)", "<dt>Since</dt><dd>March 2015</dd>", "<dt>Status</dt><dd>active</dd>"},
		"medicationstatement-metformin":      {"Medicine:</span> Metformin", "<dt>Dose</dt><dd>1000 mg, 2 times per day, oral</dd>", "A10BA02 (ATC)", "<dt>From</dt><dd>20 March 2015</dd>"},
		"medicationadministration-insulin":   {"Medicine given:</span> Insulin aspart", "<dt>Dose</dt><dd>6 IE, subkutan</dd>", "<dt>Given</dt><dd>5 November 2024, 12:05</dd>"},
		"allergyintolerance-penicillin":      {"Allergy:</span> Penicillin", "high risk: a reaction may be life-threatening", "<dt>Reactions</dt><dd>Hautausschlag</dd>", "<dt>Since</dt><dd>1998</dd>"},
		"documentreference-discharge-letter": {"Document:</span> Entlassbrief Innere Medizin", "<dt>Type</dt><dd>Discharge summary</dd>", "<dt>File</dt><dd>PDF, 857 bytes</dd>", "<dt>Written</dt><dd>8 November 2024, 13:30</dd>"},
		"binary-discharge-letter":            {"Document:</span> A document", "<dt>File</dt><dd>PDF, 857 bytes</dd>"},
		"procedure-gastroscopy":              {"Procedure:</span> Diagnostische Ösophagogastroduodenoskopie", "1-632.0 (OPS)", "<dt>Done</dt><dd>17 May 2023, 10:00</dd>"},
		"immunization-influenza":             {"Vaccination:</span> Grippeschutzimpfung 2024/25", "<dt>Given</dt><dd>15 October 2024</dd>"},
		"consent-broad-consent":              {"Consent:</span>", "<dt>Signed</dt><dd>4 November 2024, 09:00</dd>"},
	}
	for name, data := range exampleResources(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			require.NoError(t, page.ExecuteTemplate(&buf, "entry", viewContent(fhir.MediaType, data, berlinView)))
			html := buf.String()
			golden := filepath.Join("testdata", "views", name+".html")
			if *update {
				require.NoError(t, os.MkdirAll(filepath.Dir(golden), 0o755))
				require.NoError(t, os.WriteFile(golden, buf.Bytes(), 0o644))
			}
			want, err := os.ReadFile(golden)
			require.NoError(t, err, "run go test -update to write the golden file")
			require.Equal(t, string(want), html)
			for _, s := range must[name] {
				require.Contains(t, html, s)
			}
			require.NotContains(t, html, "<script", "record content never becomes markup")
		})
	}
}

// TestViewDatesFollowTheViewer: a moment is written in the reader's zone, a calendar date is
// the date it names wherever the reader is.
func TestViewDatesFollowTheViewer(t *testing.T) {
	ex := exampleResources(t)
	ny := viewing{zone: mustZone("America/New_York"), now: berlinView.now}
	lab := viewContent(fhir.MediaType, ex["observation-hba1c"], ny)
	require.Contains(t, lab.Facts, fact{"Taken", "4 November 2024, 01:45"})
	p := viewContent(fhir.MediaType, ex["patient"], viewing{zone: mustZone("Pacific/Kiritimati"), now: berlinView.now})
	require.Equal(t, "12 August 1964", p.Patient.Born, "a birth date never moves a day")
	require.Equal(t, "born 12 August 1964 (age 62), female", p.Patient.Line)
}

func TestZoneOfRequest(t *testing.T) {
	z := newZones(mustZone("Europe/Berlin"))
	for cookie, want := range map[string]string{
		"": "Europe/Berlin", "America/New_York": "America/New_York", "Asia/Kolkata": "Asia/Kolkata",
		"Not/AZone": "Europe/Berlin", "../../etc/passwd": "Europe/Berlin", "Local": "Europe/Berlin", "UTC": "UTC",
	} {
		r, err := newRequestWithCookie(cookie)
		require.NoError(t, err)
		require.Equal(t, want, z.of(r).String(), cookie)
	}
	for i := range maxZones {
		r, _ := newRequestWithCookie(fmt.Sprintf("Nowhere/Zone%d", i))
		z.of(r)
	}
	r, _ := newRequestWithCookie("Europe/Paris")
	require.Equal(t, "Europe/Berlin", z.of(r).String(), "beyond the bound, new names get the default")
	r, _ = newRequestWithCookie("America/New_York")
	require.Equal(t, "America/New_York", z.of(r).String(), "names seen before still work")
	require.Equal(t, "12 March 2026, 09:30", moment(time.Date(2026, 3, 12, 8, 30, 0, 0, time.UTC), mustZone("Europe/Berlin")))
}

func newRequestWithCookie(zone string) (*http.Request, error) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if zone != "" {
		r.AddCookie(&http.Cookie{Name: zoneCookie, Value: zone})
	}
	return r, nil
}
