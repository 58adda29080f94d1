package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// TestBrowserInvitation walks the invitation end to end in Chromium: the clinician says how
// patients see them, makes an invitation with a QR code, the patient opens its link signed
// out, signs in, sees who asks and what, and gives exactly that in one step; the clinician
// then reads the records, and an emergency access shows beside the grant with its own window.
func TestBrowserInvitation(t *testing.T) {
	browser := chromium(t)
	e := newEnv(t)
	dir := artefactDir(t)
	pid := ledgerID(e.patient)
	cid := ledgerID(e.clinician)
	e.upload(t, e.patient, labResult)
	e.upload(t, e.patient, medication)
	e.upload(t, e.patient, survey)

	clinician := e.person(t, browser, dir)
	patient := e.person(t, browser, dir)
	var link string

	t.Run("the clinician says how patients see them", func(t *testing.T) {
		clinician.t = t
		clinician.signIn("clinician1")
		clinician.open("/clinician/invite")
		require.Contains(t, clinician.text(".warning"), "not in City Clinic's directory")
		clinician.open("/clinician/profile")
		clinician.do(
			chromedp.SendKeys(chromedp.ID("name"), weber.Name),
			chromedp.SendKeys(chromedp.ID("profession"), weber.Profession),
			chromedp.SendKeys(chromedp.ID("department"), weber.Department),
			chromedp.Click(chromedp.CSS(`#profile-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		clinician.checkAccessible()
		require.Equal(t, weber.Name, clinician.eval(`document.getElementById("name").value`))
		clinician.screenshot("invite-0-clinician-profile")
	})

	t.Run("the clinician makes an invitation with a QR code", func(t *testing.T) {
		clinician.t = t
		clinician.open("/clinician/invite")
		clinician.do(
			chromedp.Click(chromedp.ID("inv-note")), // untick notes: lab results, medicines, diagnoses remain
			chromedp.SetValue(chromedp.ID("inv-days"), "30"),
			chromedp.Click(chromedp.CSS(`#invite-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("svg.qr")),
		)
		clinician.checkAccessible()
		require.Positive(t, clinician.eval(`document.querySelector("svg.qr path").getAttribute("d").split("M").length`).(float64), 100.0)
		require.Contains(t, clinician.text(".invitation"), "look at their lab results, medicines, diagnoses, for treatment, for 30 days")
		link = clinician.eval(`document.getElementById("invite-link").href`).(string)
		u, err := url.Parse(link)
		require.NoError(t, err)
		require.Equal(t, "/patient/invite", u.Path)
		require.Equal(t, cid, u.Query().Get("c"))
		require.Equal(t, weber.Name, u.Query().Get("n"))
		require.Equal(t, "lab,medication,diagnosis", u.Query().Get("cat"))
		clinician.screenshot("invite-1-clinician-qr-code")
		clinician.screenshotPhone("invite-1-clinician-qr-code")
	})

	t.Run("the patient opens the link, signs in and sees who asks for what", func(t *testing.T) {
		patient.t = t
		patient.do(chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("label")))
		require.Contains(t, patient.eval(`location.pathname`), "/signin", "signed out: sign in first")
		patient.do(
			chromedp.SendKeys(chromedp.ID("label"), "patient1"),
			chromedp.SendKeys(chromedp.ID("passphrase"), passphrase),
			chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.ID("invite-grant-form")),
		)
		patient.checkAccessible()
		require.Equal(t, "Dr Anna Weber", patient.text("#invite-who"))
		who := patient.text(".invitation")
		require.Contains(t, who, "internist, Cardiology, at City Clinic")
		require.Contains(t, who, cid)
		scope := patient.text("#invite-scope")
		require.Contains(t, scope, "look at")
		require.Contains(t, scope, "lab results, medicines, diagnoses")
		require.Contains(t, scope, "treatment")
		require.Contains(t, scope, "(30 days)")
		require.Zero(t, patient.eval(`document.querySelectorAll(".warning").length`), "the link's name matches the directory")
		patient.screenshot("invite-2-patient-sees-the-invitation")
		patient.screenshotPhone("invite-2-patient-sees-the-invitation")
	})

	t.Run("the patient gives access in one step", func(t *testing.T) {
		patient.t = t
		patient.do(
			chromedp.Click(chromedp.CSS(`#invite-grant-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		patient.checkAccessible()
		grants := patient.text("ul.grants.current")
		require.Contains(t, grants, "Dr Anna Weber (internist, Cardiology) at City Clinic")
		require.Contains(t, grants, "diagnoses, lab results, medicines")
		require.NotContains(t, grants, "until you take it back", "the invitation's 30 days")
		patient.screenshot("invite-3-patient-gave-access")
		patient.screenshotPhone("invite-3-patient-gave-access")
	})

	t.Run("the clinician reads what was given, and an emergency shows with its own window", func(t *testing.T) {
		clinician.t = t
		clinician.open("/clinician")
		row := clinician.text("main table")
		require.Contains(t, row, "in force: look")
		require.Contains(t, row, "access you were given, until")
		require.NotContains(t, row, "emergency")
		clinician.do(
			chromedp.SendKeys(chromedp.ID("em-patient"), pid),
			chromedp.SetValue(chromedp.ID("em-reason"), "life-threatening"),
			chromedp.SetValue(chromedp.ID("em-minutes"), "60"),
			chromedp.Click(chromedp.CSS(`form[action="/clinician/emergency"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("ol.timeline")),
		)
		clinician.checkAccessible()
		windows := clinician.text("p.windows")
		require.Contains(t, windows, "access you were given, until")
		require.Contains(t, windows, "⚠ emergency access until")
		grantUntil := clinician.text("p.windows .basis:not(.emergency)")
		emergencyUntil := clinician.text("p.windows .basis.emergency")
		require.NotEqual(t, strings.TrimPrefix(grantUntil, "access you were given, "), strings.TrimPrefix(emergencyUntil, "⚠ emergency access "), "each basis its own end")
		require.Contains(t, clinician.text("ol.timeline"), "How is your pain today", "the emergency opens what the grant did not")
		clinician.screenshot("invite-4-clinician-grant-and-emergency")
		clinician.open("/clinician")
		require.Contains(t, clinician.text("main table"), "⚠ emergency access until")
		clinician.screenshot("invite-5-clinician-patient-list")
		clinician.screenshotPhone("invite-5-clinician-patient-list")
	})

	t.Run("an altered or unknown invitation is shown as such", func(t *testing.T) {
		patient.t = t
		u, _ := url.Parse(link)
		q := u.Query()
		q.Set("n", "Prof Mallory")
		q.Set("cat", "lab,medication,diagnosis,demographics")
		patient.open("/patient/invite?" + q.Encode())
		require.Contains(t, patient.text(".warning"), `The link calls this person "Prof Mallory", but City Clinic's directory says "Dr Anna Weber"`)
		require.Contains(t, patient.text("#invite-scope"), "personal details", "what is asked is shown in full")
		q.Set("c", strings.Repeat("ab", 16))
		patient.open("/patient/invite?" + q.Encode())
		require.Contains(t, patient.text("#invite-unknown"), "not in any organisation's directory")
		patient.screenshot("invite-6-patient-unknown-clinician")
		q.Set("d", "100000")
		patient.do(chromedp.Navigate(patient.base+"/patient/invite?"+q.Encode()), chromedp.WaitVisible(chromedp.ID("problem")))
		require.Contains(t, patient.text("#problem"), "between 1 and 3650 days")
	})

	page, err := e.stack.Client(t, e.patient).ListGrants(context.Background(), "", false, ledger.Page{})
	require.NoError(t, err)
	var given []model.Grant
	for _, g := range page.Grants {
		if !g.Emergency {
			given = append(given, g)
		}
	}
	require.Len(t, given, 1, "the altered invitations granted nothing")
	require.ElementsMatch(t, []string{"lab", "medication", "diagnosis"}, given[0].Categories)
	require.Equal(t, []string{model.ActionRead}, given[0].Actions)
	require.Equal(t, cid, given[0].Grantee.ID)
}
