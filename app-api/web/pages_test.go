package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// signedIn returns a browser signed in with the wallet label.
func (e *env) signedIn(t *testing.T, label string) *browser {
	t.Helper()
	b := e.browser(t, nil)
	status, _, body := b.signIn(label, passphrase)
	require.Equal(t, http.StatusSeeOther, status, body)
	return b
}

func TestPagesAreLockedDown(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn(t, "patient1")
	resp, err := b.c.Get(b.base + "/patient/records")
	require.NoError(t, err)
	resp.Body.Close()
	h := resp.Header
	require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
	require.Contains(t, h.Get("Content-Security-Policy"), "script-src 'self'")
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, "no-store", h.Get("Cache-Control"), "pages with health data are never cached")
	require.Equal(t, "DENY", h.Get("X-Frame-Options"))
	require.Equal(t, "max-age=31536000", h.Get("Strict-Transport-Security"), "never over plain HTTP")

	for _, asset := range []string{"/static/style.css", "/static/app.js", "/signin", "/nowhere"} {
		resp, err := b.c.Get(b.base + asset)
		require.NoError(t, err)
		resp.Body.Close()
		require.NotEmpty(t, resp.Header.Get("Strict-Transport-Security"), asset)
	}
	for _, asset := range []string{"/static/style.css", "/static/app.js"} {
		status, _, body := b.get(asset)
		require.Equal(t, http.StatusOK, status, asset)
		require.NotContains(t, body, "http://", "no asset from the internet")
		require.NotContains(t, body, "https://", "no asset from the internet")
	}
}

func TestDownloadIsDecidedByTheLedger(t *testing.T) {
	e := newEnv(t)
	id := e.upload(t, e.patient, labResult)
	patient := e.signedIn(t, "patient1")
	resp, err := patient.c.Get(patient.base + "/records/" + id + "/content")
	require.NoError(t, err)
	status, _, body := read(t, resp)
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, labResult, body)
	require.Equal(t, "application/fhir+json", resp.Header.Get("Content-Type"))
	require.Equal(t, `attachment; filename="`+id+`-v1.fhir.json"`, resp.Header.Get("Content-Disposition"))
	require.Contains(t, resp.Header.Get("Content-Security-Policy"), "sandbox")

	status, _, body = patient.get("/patient/records/" + id)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Haemoglobin A1c")
	require.Contains(t, body, "/records/"+id+"/content?v=1")
	status, _, _ = patient.get("/records/" + id + "/content?v=2")
	require.Equal(t, http.StatusNotFound, status)
	status, _, _ = patient.get("/records/" + id + "/content?v=-1")
	require.Equal(t, http.StatusBadRequest, status)

	clinician := e.signedIn(t, "clinician1")
	status, _, body = clinician.get("/records/" + id + "/content")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "You have no access")
	require.NotContains(t, body, "Haemoglobin")

	status, _, body = clinician.get("/clinician/patients/" + ledgerID(e.patient))
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "You have no access: this patient has not given you access")
}

func TestClinicianAddsAResultWithAnAppendGrant(t *testing.T) {
	e := newEnv(t)
	pid := ledgerID(e.patient)
	patient := e.signedIn(t, "patient1")
	status, _, body := patient.post("/patient/grants", url.Values{
		"csrf": {patient.csrf("/patient/sharing")}, "grantee_kind": {"org"}, "grantee_org": {"ClinicMSP"},
		"actions": {"read", "append"}, "categories": {"lab"}, "purpose": {"CAREMGT"},
	})
	require.Equal(t, http.StatusSeeOther, status, body)

	clinician := e.signedIn(t, "clinician1")
	page := "/clinician/patients/" + pid
	status, loc, body := clinician.post(page+"/entries", url.Values{
		"csrf": {clinician.csrf(page)}, "kind": {"result"}, "test": {"Potassium"}, "value": {"4.1"}, "unit": {"mmol/L"},
	})
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, page+"?done=added", loc)
	status, _, body = clinician.get(page)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Potassium")
	require.Contains(t, body, "4.1 mmol/L")
	require.Contains(t, body, "added by you")

	// A note is category "note", which the grant does not cover: the ledger refuses it and
	// the page says so.
	status, _, body = clinician.post(page+"/entries", url.Values{"csrf": {clinician.csrf(page)}, "kind": {"note"}, "note": {"Seen today."}})
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "The ledger refused this")

	status, _, body = patient.get("/patient/records")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "a clinician at City Clinic")
}

func TestResearchConsentIsSelfSigned(t *testing.T) {
	e := newEnv(t)
	b := e.signedIn(t, "patient1")
	status, _, body := b.get("/patient/research")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "<strong>No</strong>")
	status, _, body = b.post("/patient/research", url.Values{"csrf": {b.csrf("/patient/research")}, "choice": {"yes"}, "purposes": {"drug-safety"}})
	require.Equal(t, http.StatusSeeOther, status, body)
	rc, err := e.stack.Client(t, e.patient).GetResearchConsent(context.Background(), "")
	require.NoError(t, err)
	require.True(t, rc.OptIn)
	require.Equal(t, []string{"drug-safety"}, rc.Purposes)
	_, _, body = b.get("/patient/research")
	require.Contains(t, body, "checking that medicines are safe")
	require.Contains(t, body, "<strong>Yes</strong>")
}

func TestErasureNeedsTheTypedPhrase(t *testing.T) {
	e := newEnv(t)
	e.upload(t, e.patient, labResult)
	pid := ledgerID(e.patient)
	b := e.signedIn(t, "patient1")
	for _, phrase := range []string{"", "delete", "yes"} {
		status, _, body := b.post("/patient/erase", url.Values{"csrf": {b.csrf("/patient/erase")}, "confirm": {phrase}})
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body, "Nothing was deleted")
	}
	_, err := e.stack.Client(t, e.clinician).GetErasure(context.Background(), pid)
	require.ErrorIs(t, err, &model.Error{Code: model.CodeNotFound}, "nothing erased yet")

	status, _, body := b.post("/patient/erase", url.Values{"csrf": {b.csrf("/patient/erase")}, "confirm": {" Delete my data "}})
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, "Your data has been deleted")
	_, err = e.stack.Client(t, e.clinician).GetErasure(context.Background(), pid)
	require.NoError(t, err)
	status, loc, _ := b.get("/patient")
	require.Equal(t, http.StatusSeeOther, status, "signed out after erasure")
	require.Equal(t, "/signin", loc)
}

func TestCohortQueriesWithoutAnAggregatorSayNotAvailable(t *testing.T) {
	e := newEnv(t)
	publishCohort(t, e)
	b := e.signedIn(t, "manufacturer1")
	status, _, body := b.get("/manufacturer")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Downloads are not available")
	status, _, body = b.get("/manufacturer/cohorts/diabetes-2026/query")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Queries are not available")
	status, _, body = b.post("/manufacturer/cohorts/diabetes-2026/query", url.Values{"csrf": {b.csrf("/manufacturer")}, "group1": {"sex"}, "statistic": {"count"}})
	require.Equal(t, http.StatusNotImplemented, status)
	require.Contains(t, body, "Queries are not available")
	status, _, _ = b.get("/manufacturer/cohorts/diabetes-2026/files/cohort.csv")
	require.Equal(t, http.StatusNotImplemented, status)
	status, _, _ = b.get("/manufacturer/cohorts/no-such-cohort/query")
	require.Equal(t, http.StatusNotFound, status)
}

func TestCohortFilesAndRefusedQueries(t *testing.T) {
	e := newEnv(t, withCohortServices)
	publishCohort(t, e)
	b := e.signedIn(t, "manufacturer1")
	resp, err := b.c.Get(b.base + "/manufacturer/cohorts/diabetes-2026/files/cohort.csv")
	require.NoError(t, err)
	status, _, body := read(t, resp)
	require.Equal(t, http.StatusOK, status)
	require.True(t, strings.HasPrefix(body, "ageBand,sex"))
	require.Equal(t, "text/csv", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	status, _, _ = b.get("/manufacturer/cohorts/diabetes-2026/files/secrets.csv")
	require.Equal(t, http.StatusNotFound, status)

	status, _, body = b.post("/manufacturer/cohorts/diabetes-2026/query", url.Values{
		"csrf": {b.csrf("/manufacturer")}, "group1": {"sex"}, "statistic": {"mean"}, "attribute": {"age"},
	})
	require.Equal(t, http.StatusUnprocessableEntity, status)
	require.Contains(t, body, "only counts are released")

	// The patient pages are not the manufacturer's.
	status, _, _ = b.get("/patient/records")
	require.Equal(t, http.StatusForbidden, status)
}
