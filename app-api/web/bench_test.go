package web

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
)

// BenchmarkViewContent measures turning one FHIR resource into readable lines.
func BenchmarkViewContent(b *testing.B) {
	data := []byte(`{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"PROM","item":[` +
		`{"linkId":"1","text":"Pain","answer":[{"valueInteger":3}]},{"linkId":"2","text":"Stairs","answer":[{"valueBoolean":true}]},` +
		`{"linkId":"3","text":"Sleep","item":[{"linkId":"3.1","text":"Hours","answer":[{"valueDecimal":6.5}]}]}]}`)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		viewContent(fhir.MediaType, data, berlinView)
	}
}

// BenchmarkRenderTimeline measures rendering a clinician's timeline page of 50 records, the
// largest page one history call returns by default.
func BenchmarkRenderTimeline(b *testing.B) {
	pages, err := newPageSets()
	if err != nil {
		b.Fatal(err)
	}
	page, err := pages.page("clinician_patient", berlinView.zone)
	if err != nil {
		b.Fatal(err)
	}
	obs := viewContent(fhir.MediaType, []byte(`{"resourceType":"Observation","code":{"text":"Potassium"},"valueQuantity":{"value":4.1,"unit":"mmol/L"},"referenceRange":[{"low":{"value":3.5,"unit":"mmol/L"},"high":{"value":5.1,"unit":"mmol/L"}}],"status":"final"}`), berlinView)
	entries := make([]timelineEntry, 50)
	for i := range entries {
		entries[i] = timelineEntry{Record: model.Record{ID: fmt.Sprintf("rec-%d", i), Category: "lab", Versions: 1}, Version: model.Version{Number: 1}, Author: "a clinician at City Clinic", View: obs}
	}
	pd := pageData{Title: "Patient", Viewer: &viewer{Role: roleClinician}, CSRF: "token", Data: map[string]any{
		"Patient": "0123456789abcdef0123456789abcdef", "Entries": entries, "Access": &patientAccess{Active: true, Read: true},
	}}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := page.ExecuteTemplate(&buf, "layout.html", pd); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(buf.Len()))
}
