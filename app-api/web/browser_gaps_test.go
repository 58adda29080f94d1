package web_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserPatientAndClinicianTools clicks through what the web UI lacked: a patient
// uploads a record, shares one record, sees a clinician's new version in their trail, names
// and removes a delegate, and after erasure is told that and when; a clinician adds a new
// version of a record.
func TestBrowserPatientAndClinicianTools(t *testing.T) {
	browser := chromium(t)
	e := newEnv(t)
	dir := artefactDir(t)
	e.inDirectory(t, e.clinician, weber)
	pid, cid := ledgerID(e.patient), ledgerID(e.clinician)
	e.upload(t, e.patient, medication)
	files := t.TempDir()
	labFile := filepath.Join(files, "hba1c.json")
	require.NoError(t, os.WriteFile(labFile, []byte(labResult), 0o600))
	corrected := filepath.Join(files, "hba1c-corrected.json")
	require.NoError(t, os.WriteFile(corrected, []byte(strings.Replace(labResult, `"value":6.8`, `"value":6.9`, 1)), 0o600))

	patient := e.person(t, browser, dir)
	clinician := e.person(t, browser, dir)

	t.Run("the patient uploads a record", func(t *testing.T) {
		patient.t = t
		patient.signIn("patient1")
		patient.open("/patient/records")
		patient.do(
			chromedp.SetUploadFiles(chromedp.ID("file"), []string{labFile}),
			chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		patient.checkAccessible()
		require.Contains(t, patient.text("main table"), "lab results")
		require.Contains(t, patient.text("main table"), "medicines")
		patient.screenshot("tools-0-patient-uploads")
	})

	var labID string
	t.Run("the patient shares one record with the clinician", func(t *testing.T) {
		patient.t = t
		labID = patient.eval(`Array.from(document.querySelectorAll("main table tr")).find(r => r.textContent.includes("lab results")).querySelector("a").getAttribute("href").split("/").pop()`).(string)
		patient.open("/patient/records/" + labID)
		patient.do(
			chromedp.SendKeys(chromedp.ID("grantee_id"), cid),
			chromedp.Click(chromedp.CSS(`#record-grant-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		patient.checkAccessible()
		grants := patient.text("ul.grants.current")
		require.Contains(t, grants, "Dr Anna Weber")
		require.Contains(t, grants, "one of your lab results (added ")
		patient.screenshot("tools-1-patient-shares-one-record")
	})

	t.Run("the clinician adds a new version", func(t *testing.T) {
		clinician.t = t
		_, err := e.stack.Client(t, e.patient).Grant(context.Background(), model.GrantRequest{
			ID: "g-append", Grantee: model.Grantee{ID: cid}, Actions: []string{model.ActionRead, model.ActionAppend}, Categories: []string{"lab"}, Purpose: "CAREMGT",
		})
		require.NoError(t, err)
		clinician.signIn("clinician1")
		clinician.open("/clinician/patients/" + pid)
		clinician.do(
			chromedp.Click(chromedp.CSS(`details.version summary`)),
			chromedp.SetUploadFiles(chromedp.ID("file-"+labID), []string{corrected}),
			chromedp.Click(chromedp.CSS(`details.version button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		clinician.checkAccessible()
		require.Contains(t, clinician.text("ol.timeline"), "version 2 of 2")
		require.Contains(t, clinician.text("ol.timeline"), "6.9 %")
		clinician.screenshot("tools-2-clinician-adds-a-version")
	})

	t.Run("the patient's trail shows the addition, the reads and a refused attempt", func(t *testing.T) {
		patient.t = t
		// The clinician tries the medicines record, which was never shared.
		recs, err := e.stack.Client(t, e.patient).ListPatientRecords(context.Background(), pid, "medication", ledger.Page{})
		require.NoError(t, err)
		require.Len(t, recs.Records, 1)
		clinician.open("/records/" + recs.Records[0].ID + "/content")
		require.NoError(t, e.stack.Flusher.Flush(context.Background()))
		patient.open("/patient/access")
		trail := patient.text("table.trail")
		require.Contains(t, trail, "added lab results, version 2")
		require.Contains(t, trail, "opened lab results")
		require.Contains(t, trail, "Dr Anna Weber (internist, Cardiology) at City Clinic")
		require.Contains(t, patient.text("#refused-summary"), "refused 1 time(s)")
		require.Contains(t, patient.text("table.trail tr.refused"), "tried to open medicines and was refused")
		require.Contains(t, patient.text("table.trail tr.refused"), "you had not given them access")
		patient.screenshot("tools-3-patient-trail-with-additions-and-refusals")
		patient.screenshotPhone("tools-3-patient-trail-with-additions-and-refusals")
	})

	t.Run("the patient names and removes a delegate", func(t *testing.T) {
		patient.t = t
		relative := strings.Repeat("cd", 16)
		patient.open("/patient/delegates")
		require.Contains(t, patient.text("main"), "Nobody acts for you")
		patient.do(
			chromedp.SendKeys(chromedp.ID("delegate"), relative),
			chromedp.Click(chromedp.CSS(`#delegate-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		patient.checkAccessible()
		require.Contains(t, patient.text("ul.grants"), relative)
		patient.screenshot("tools-4-patient-delegate")
		patient.do(chromedp.Click(chromedp.CSS(`ul.grants button.danger`)))
		patient.waitFor(`(document.querySelector("main") || {innerText: ""}).innerText.includes("Nobody acts for you")`)
	})

	t.Run("every patient page reflows and passes axe", func(t *testing.T) {
		patient.t = t
		for _, page := range []string{"/patient", "/patient/records", "/patient/sharing", "/patient/access", "/patient/delegates", "/patient/research", "/patient/erase", "/no-such-page"} {
			patient.open(page) // open checks every page at desktop and phone size
		}
		clinician.t = t
		for _, page := range []string{"/clinician", "/clinician/patients/" + pid, "/clinician/invite", "/clinician/profile", "/patient/invite?c=" + cid + "&cat=lab&a=read&p=TREAT&d=7"} {
			clinician.open(page)
		}
	})

	t.Run("an erased patient is told that, and when", func(t *testing.T) {
		patient.t = t
		patient.open("/patient/erase")
		patient.do(
			chromedp.SendKeys(chromedp.ID("confirm"), "delete my data"),
			chromedp.Click(chromedp.CSS(`form[action="/patient/erase"] button[type=submit]`)),
		)
		// The page is replaced when the erasure is done; wait for its title.
		patient.waitFor(`document.title.startsWith("Your data is deleted")`)
		patient.signIn("patient1")
		patient.open("/patient/records")
		erased := patient.text("#erased")
		require.Contains(t, erased, "Your data was deleted at your request on ")
		require.NotContains(t, patient.text("main"), "You have no records yet")
		patient.screenshot("tools-5-patient-erased")
	})
}

// waitFor waits until js is true on the page, across the navigation a form post causes.
func (p *person) waitFor(js string) {
	p.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("waited 30 s for %s (last error: %v)", js, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
