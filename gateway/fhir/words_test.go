package fhir_test

import (
	"testing"
	"time"
	_ "time/tzdata" // the zones tests name exist on any machine

	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

func TestDateWords(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	kiritimati, err := time.LoadLocation("Pacific/Kiritimati")
	require.NoError(t, err)
	for in, want := range map[string]string{
		"2026-03-12T08:30:00Z": "12 March 2026, 09:30", "2024-11-04T07:45:00+01:00": "4 November 2024, 07:45",
		"1964-08-12": "12 August 1964", "2015-03": "March 2015", "1998": "1998",
	} {
		d, err := fhir.ParseDate(in)
		require.NoError(t, err)
		require.Equal(t, want, d.Words(berlin), in)
	}
	d, _ := fhir.ParseDate("1964-08-12")
	require.Equal(t, "12 August 1964", d.Words(kiritimati), "a calendar date does not move with the reader")
	require.Empty(t, (*fhir.Date)(nil).Words(berlin))
}

func TestAge(t *testing.T) {
	now := time.Date(2026, 8, 11, 12, 0, 0, 0, time.UTC)
	for born, want := range map[string]string{
		"1964-08-12": "61", "1964-08-11": "62", "1964-08": "62", "1964-09": "61", "1964": "about 62", "2027-01-01": "",
	} {
		d, err := fhir.ParseDate(born)
		require.NoError(t, err)
		require.Equal(t, want, d.Age(now), born)
	}
}

func TestWords(t *testing.T) {
	r, err := fhir.Describe([]byte(`{"resourceType":"Patient","name":[{"given":["Erika"],"family":"Mustermann"}],"gender":"female","birthDate":"1964-08-12"}`))
	require.NoError(t, err)
	require.Equal(t, "born 12 August 1964 (age 62), female", r.Summary.Patient.Line(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)))

	q := func(v, unit string) *fhir.Quantity { return &fhir.Quantity{Value: v, Unit: unit} }
	require.Equal(t, "4.0 to 5.6 %", (&fhir.ObservationSummary{Low: q("4.0", "%"), High: q("5.6", "%")}).Range())
	require.Equal(t, "60 mL/min or more", (&fhir.ObservationSummary{Low: q("60", "mL/min")}).Range())
	require.Equal(t, "up to 115 mg/dL (fasting)", (&fhir.ObservationSummary{High: q("115", "mg/dL"), RangeText: "fasting"}).Range())
	require.Equal(t, "negative", (&fhir.ObservationSummary{RangeText: "negative"}).Range())

	require.Equal(t, "▲", fhir.FlagHigh.Symbol())
	require.Equal(t, "critically low", fhir.FlagCriticalLow.Words())
	require.Empty(t, fhir.FlagNormal.Symbol())
	require.Equal(t, "E11.9 (ICD-10-GM)", (&fhir.Coding{System: fhir.SystemICD10GM, Code: "E11.9"}).Label())
	require.Equal(t, "x1", (&fhir.Coding{System: "urn:other", Code: "x1"}).Label())
	require.Equal(t, "PDF, 857 bytes", (&fhir.DocumentSummary{ContentType: "application/pdf", Size: 857}).File())
	require.Equal(t, "image/png, 3 KB", (&fhir.DocumentSummary{ContentType: "image/png", Size: 2100}).File())
	require.Equal(t, "high risk: a reaction may be life-threatening", (&fhir.AllergySummary{Criticality: "high"}).Risk())
}
