package web_test

import (
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserClinicalViews reads the example patient's records in Chromium as the clinician
// and as the patient: who the patient is, results with range and flag, medicines, documents,
// allergies, and times in the browser's own time zone, which the page script tells the server.
func TestBrowserClinicalViews(t *testing.T) {
	browser := chromium(t)
	e := newEnv(t)
	dir := artefactDir(t)
	ids := uploadExamples(t, e)
	pid := ledgerID(e.patient)
	grantTo(t, e, "g-views", "lab", "vital-signs", "medication", "allergy", "diagnosis", "document", "note", model.CategoryDemographics)

	clinician := e.person(t, browser, dir)
	clinician.signIn("clinician1")
	zone := clinician.eval(`Intl.DateTimeFormat().resolvedOptions().timeZone`).(string)
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err, "the browser's zone %q", zone)
	inBrowserZone := func(t time.Time) string { return t.In(loc).Format("2 January 2006, 15:04") }

	t.Run("the patient list names the patient", func(t *testing.T) {
		clinician.t = t
		list := clinician.text("main table")
		require.Contains(t, list, "Erika Mustermann")
		require.Contains(t, list, "born 12 August 1964 (age ")
		require.Contains(t, list, "female")
		require.Contains(t, clinician.text("footer"), "Times are shown in the "+zone+" time zone.")
		clinician.screenshot("clinical-1-clinician-patient-list")
	})

	t.Run("the patient page shows who and what, in words", func(t *testing.T) {
		clinician.t = t
		clinician.do(
			chromedp.Click(chromedp.CSS(`a[href="/clinician/patients/`+pid+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("ol.timeline")),
		)
		clinician.checkAccessible()
		require.Equal(t, "Erika Mustermann", clinician.text("main h1"))
		person := clinician.text("dl.person")
		require.Contains(t, person, "12 August 1964 (age ")
		require.Contains(t, person, "female")
		timeline := clinician.text("ol.timeline")
		for _, want := range []string{
			"Result: Hemoglobin A1c/Hemoglobin.total in Blood", "7.8 %", "4.0 to 5.6 %", "▲ high",
			"Taken\n" + inBrowserZone(time.Date(2024, 11, 4, 6, 45, 0, 0, time.UTC)),
			"Zielwert unter 7 % nicht erreicht.",
			"Systolic blood pressure", "148 mmHg",
			"Medicine: Metformin", "1000 mg, 2 times per day, oral",
			"Diagnosis: Diabetes mellitus, Typ 2", "E11.9 (ICD-10-GM)", "March 2015",
			"Document: Entlassbrief Innere Medizin", "Discharge summary", "PDF, 857 bytes",
			"Allergy: Penicillin", "high risk: a reaction may be life-threatening", "Hautausschlag",
			"Basic: Home visit planned",
		} {
			require.Contains(t, timeline, want)
		}
		// A flag is a word, not a colour; its symbol is hidden from screen readers, and the
		// results tables have headers for every column and row.
		require.Equal(t, true, clinician.eval(`Array.from(document.querySelectorAll(".flag")).every(f => /\b(high|low|normal|abnormal|critical)\b/.test(f.textContent) && Array.from(f.querySelectorAll("[aria-hidden]")).every(s => !/[a-z]/.test(s.textContent)))`))
		require.Positive(t, clinician.eval(`document.querySelectorAll("table.results").length`))
		require.Equal(t, true, clinician.eval(`Array.from(document.querySelectorAll("table.results tbody tr")).every(r => r.querySelector("th[scope=row]"))`))
		require.Equal(t, 4.0, clinician.eval(`document.querySelector("table.results thead").querySelectorAll("th[scope=col]").length`))
		clinician.screenshot("clinical-2-clinician-patient-page")
	})

	patient := e.person(t, browser, dir)
	t.Run("the patient reads their own result", func(t *testing.T) {
		patient.t = t
		patient.signIn("patient1")
		patient.open("/patient/records/" + ids["observation-hba1c"])
		record := patient.text("article.card")
		require.Contains(t, record, "7.8 %")
		require.Contains(t, record, "4.0 to 5.6 %")
		require.Contains(t, record, "▲ high")
		require.Contains(t, record, inBrowserZone(time.Date(2024, 11, 4, 10, 20, 0, 0, time.UTC)))
		patient.screenshot("clinical-3-patient-reads-a-result")
	})

	t.Run("the grant form says what personal details share", func(t *testing.T) {
		patient.t = t
		patient.open("/patient/sharing")
		require.Contains(t, patient.text("#hint-demographics"), "your name, date of birth, sex and address")
		require.Equal(t, "hint-demographics", patient.eval(`document.getElementById("cat-demographics").getAttribute("aria-describedby")`))
		patient.screenshot("clinical-4-patient-grant-form")
	})
}
