package web_test

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/stretchr/testify/require"
)

// example returns an example resource by file name (without .json).
func example(t *testing.T, name string) string {
	t.Helper()
	data, ok := web.ExampleResources(t)[name]
	require.True(t, ok, "no example %s", name)
	return string(data)
}

// uploadExamples stores the patient's details, results, medicines, an allergy, a diagnosis, a
// document and a resource of a type the views do not know, and returns their record IDs.
func uploadExamples(t *testing.T, e *env) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, name := range []string{"patient", "observation-hba1c", "observation-blood-pressure", "medicationstatement-metformin",
		"allergyintolerance-penicillin", "condition-diabetes", "documentreference-discharge-letter"} {
		ids[name] = e.upload(t, e.patient, example(t, name))
	}
	ids["unknown"] = e.upload(t, e.patient, `{"resourceType":"Basic","code":{"text":"Home visit planned"}}`)
	return ids
}

// grantTo lets the clinician read the categories.
func grantTo(t *testing.T, e *env, id string, categories ...string) {
	t.Helper()
	_, err := e.stack.Client(t, e.patient).Grant(context.Background(), model.GrantRequest{
		ID: id, Grantee: model.Grantee{ID: ledgerID(e.clinician)}, Actions: []string{model.ActionRead}, Categories: categories, Purpose: "TREAT",
	})
	require.NoError(t, err)
}

// setZone makes the browser say its time zone, as the page script does.
func (b *browser) setZone(zone string) {
	u, _ := url.Parse(b.base)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "__Host-careledger-tz", Value: zone, Path: "/", Secure: true}})
}

func TestClinicianReadsClinicalContent(t *testing.T) {
	e := newEnv(t)
	ids := uploadExamples(t, e)
	pid := ledgerID(e.patient)
	page := "/clinician/patients/" + pid
	grantTo(t, e, "g-clinical", "lab", "vital-signs", "medication", "allergy", "diagnosis", "document", "note")
	clinician := e.signedIn(t, "clinician1")

	t.Run("without demographics the patient stays a CareLedger ID", func(t *testing.T) {
		status, _, body := clinician.get("/clinician")
		require.Equal(t, http.StatusOK, status)
		require.NotContains(t, body, "Erika")
		status, _, body = clinician.get(page)
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "<h1>Patient "+pid[:8]+"…</h1>")
		require.Contains(t, body, "has not shared their personal details")
		require.NotContains(t, body, "Mustermann")
		require.Contains(t, body, "7.8 %", "the results are there")
	})

	grantTo(t, e, "g-who", model.CategoryDemographics)

	t.Run("the patient list names the patient", func(t *testing.T) {
		status, _, body := clinician.get("/clinician")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, ">Erika Mustermann <span class=\"id\">")
		require.Contains(t, body, "born 12 August 1964 (age ")
		require.Contains(t, body, "), female")
		require.Contains(t, body, "written to the patient's access trail")
	})

	t.Run("the patient page shows who, results with flags, medicines, documents and allergies", func(t *testing.T) {
		status, _, body := clinician.get(page)
		require.Equal(t, http.StatusOK, status)
		for _, want := range []string{
			"<h1>Erika Mustermann</h1>",
			"<dt>Born</dt><dd>12 August 1964 (age ",
			"<dt>Sex</dt><dd>female</dd>",
			`<td class="value">7.8 %</td><td>4.0 to 5.6 %</td><td><span class="flag flag-high"><span aria-hidden="true">▲</span> high</span></td>`,
			"Zielwert unter 7 % nicht erreicht.",
			"<dt>Taken</dt><dd>4 November 2024, 07:45</dd>",
			`Systolic blood pressure</th><td class="value">148 mmHg</td>`,
			"<dt>Dose</dt><dd>1000 mg, 2 times per day, oral</dd>",
			"E11.9 (ICD-10-GM)",
			"Document:</span> Entlassbrief Innere Medizin",
			"<dt>Type</dt><dd>Discharge summary</dd>",
			"Allergy:</span> Penicillin",
			"high risk: a reaction may be life-threatening",
			"Basic:</span> Home visit planned",
			"Times are shown in the Europe/Berlin time zone.",
		} {
			require.Contains(t, body, want)
		}
		require.NotContains(t, body, "UTC")
	})

	t.Run("times follow the browser's zone, birth dates do not", func(t *testing.T) {
		clinician.setZone("America/New_York")
		defer clinician.setZone("Europe/Berlin")
		_, _, body := clinician.get(page)
		require.Contains(t, body, "<dt>Taken</dt><dd>4 November 2024, 01:45</dd>")
		require.Contains(t, body, "<dt>Born</dt><dd>12 August 1964")
		require.Contains(t, body, "Times are shown in the America/New_York time zone.")
		clinician.setZone("Mars/Olympus_Mons")
		_, _, body = clinician.get(page)
		require.Contains(t, body, "<dt>Taken</dt><dd>4 November 2024, 07:45</dd>", "an unknown zone falls back to the default")
	})

	t.Run("reading who the patient is is in the patient's access trail", func(t *testing.T) {
		require.NoError(t, e.stack.Flusher.Flush(context.Background()))
		trail, err := e.stack.Client(t, e.patient).ListAccessLog(context.Background(), "", ledger.Page{Size: 200})
		require.NoError(t, err)
		found := false
		for _, a := range trail.Entries {
			found = found || (a.RecordID == ids["patient"] && a.Accessor.ID == ledgerID(e.clinician))
		}
		require.True(t, found, "the clinician's read of the personal details is audited")
	})

	t.Run("the patient's own record page shows the same", func(t *testing.T) {
		patient := e.signedIn(t, "patient1")
		status, _, body := patient.get("/patient/records/" + ids["observation-hba1c"])
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, `<td class="value">7.8 %</td><td>4.0 to 5.6 %</td>`)
		require.Contains(t, body, `<span aria-hidden="true">▲</span> high`)
		status, _, body = patient.get("/patient/sharing")
		require.Equal(t, http.StatusOK, status)
		require.Contains(t, body, "personal details (name, date of birth, sex, address)")
		require.Contains(t, body, `aria-describedby="hint-demographics"`)
		require.Contains(t, body, "This tells them who you are")
	})

	t.Run("after erasure the pages say so and name nobody", func(t *testing.T) {
		require.NoError(t, e.stack.Service.Erase(context.Background(), e.stack.Client(t, e.patient)))
		status, _, body := clinician.get("/clinician")
		require.Equal(t, http.StatusOK, status, "the list still loads")
		require.NotContains(t, body, "Mustermann")
		status, _, body = clinician.get(page)
		require.NotEqual(t, http.StatusOK, status)
		require.NotContains(t, body, "Mustermann")
		require.NotContains(t, body, "7.8 %")
	})
}

func TestPatientPageWithoutPersonalDetails(t *testing.T) {
	e := newEnv(t)
	e.upload(t, e.patient, example(t, "observation-hba1c"))
	grantTo(t, e, "g-lab", "lab", model.CategoryDemographics)
	status, _, body := e.signedIn(t, "clinician1").get("/clinician/patients/" + ledgerID(e.patient))
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "There is no record of this patient's personal details")
	require.Contains(t, body, "7.8 %")
}
