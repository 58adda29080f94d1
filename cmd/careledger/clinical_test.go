package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

// examples holds the FHIR examples the README's commands upload.
const examples = "../../docs/examples/fhir"

func exampleFile(name string) string { return filepath.Join(examples, name+".json") }

func TestHistoryTable(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, berlin)
	release := func(name string) client.Release {
		data, err := os.ReadFile(exampleFile(name))
		require.NoError(t, err)
		return client.Release{Record: model.Record{ID: name, Category: "x"}, Version: model.Version{Number: 1}, Basis: model.BasisGrant, Media: fhir.MediaType, Resource: data}
	}
	rels := []client.Release{
		release("patient"), release("observation-hba1c"), release("observation-blood-pressure"),
		release("medicationstatement-metformin"), release("allergyintolerance-penicillin"), release("condition-diabetes"),
		{Record: model.Record{ID: "letter"}, Media: "application/pdf", Data: []byte("%PDF-1.7")},
		{Record: model.Record{ID: "broken"}, Media: fhir.MediaType, Resource: []byte(`{"id":"no type"}`)},
	}
	person, rows := historyTable(rels, now)
	require.Equal(t, "Erika Mustermann, born 12 August 1964 (age 62), female", person)
	byRecord := map[string][]string{}
	for _, r := range rows {
		require.Len(t, r, len(historyHeader))
		if r[1] != "" {
			byRecord[r[1]] = r[5:]
		}
	}
	require.Equal(t, []string{"Result: Hemoglobin A1c/Hemoglobin.total in Blood", "7.8 %", "4.0 to 5.6 %", "▲ high", "4 November 2024, 07:45"}, byRecord["observation-hba1c"])
	require.Equal(t, []string{"Medicine: Metformin", "1000 mg, 2 times per day, oral", "", "", "20 March 2015"}, byRecord["medicationstatement-metformin"])
	require.Equal(t, []string{"Allergy: Penicillin", "high risk: a reaction may be life-threatening, Hautausschlag", "", "", "1998"}, byRecord["allergyintolerance-penicillin"])
	require.Equal(t, []string{"Diagnosis: Diabetes mellitus, Typ 2: Ohne Kompl…", "E11.9 (ICD-10-GM)", "", "", "March 2015"}, byRecord["condition-diabetes"])
	require.Equal(t, "Document (application/pdf, 8 bytes)", byRecord["letter"][0])
	require.Equal(t, "Unreadable entry", byRecord["broken"][0], "one bad record degrades its row, not the table")

	var table bytes.Buffer
	s := &session{out: &table}
	require.NoError(t, s.print(nil, historyHeader, rows))
	require.Contains(t, table.String(), "  Systolic blood pressure")
	require.Regexp(t, `Systolic blood pressure\s+148 mmHg\s+▲ high`, table.String(), "a multi-part result has a row per part")
}

// TestCLIHistoryShowsWhatRecordsSay uploads the examples as the README says and reads them
// back as the clinician and as the patient.
func TestCLIHistoryShowsWhatRecordsSay(t *testing.T) {
	c := startCLIStack(t)
	var patient, doctor model.Caller
	c.jsonOf(&patient, "patient", "whoami")
	c.jsonOf(&doctor, "clinician", "whoami")
	for _, name := range []string{"patient", "observation-hba1c", "observation-blood-pressure", "medicationstatement-metformin", "allergyintolerance-penicillin"} {
		c.must("patient", "upload", "--file", exampleFile(name))
	}
	records := c.must("patient", "records")
	require.Contains(t, records, "demographics", "a Patient is filed as the patient's personal details")
	require.Contains(t, records, time.Now().Format("2 January 2006"), "dates in words")

	c.must("patient", "grant", "--to", doctor.ID, "--category", "lab,vital-signs,medication,allergy")
	history := c.must("clinician", "history", patient.ID)
	require.NotContains(t, history, "Mustermann", "personal details were not granted")
	require.NotContains(t, history, "Patient:")
	c.must("patient", "grant", "--to", doctor.ID, "--category", "demographics")

	taken := time.Date(2024, 11, 4, 6, 45, 0, 0, time.UTC).Local().Format("2 January 2006, 15:04")
	for _, args := range [][]string{{"clinician", "history", patient.ID}, {"patient", "history"}} {
		out := c.must(args...)
		require.True(t, strings.HasPrefix(out, "Patient: Erika Mustermann, born 12 August 1964 (age "), out)
		require.Contains(t, out, "female")
		for _, h := range historyHeader {
			require.Contains(t, out, h)
		}
		require.Regexp(t, `Result: Hemoglobin A1c/Hemoglobin.total in Blood\s+7.8 %\s+4.0 to 5.6 %\s+▲ high\s+`+taken, out)
		require.Regexp(t, `Systolic blood pressure\s+148 mmHg\s+▲ high`, out)
		require.Contains(t, out, "1000 mg, 2 times per day, oral")
		require.Contains(t, out, "high risk: a reaction may be life-threatening")
	}

	var page client.ReleasePage
	c.jsonOf(&page, "clinician", "history", patient.ID)
	require.Len(t, page.Releases, 5, "--json is the API's release page, as before")
	require.NotContains(t, c.must("clinician", "history", patient.ID, "--json"), "Patient: Erika")
}
