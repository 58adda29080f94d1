package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/careledger/careledger/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// chromium starts Debian's Chromium headless with a fresh profile and returns a context for
// the browser. Name resolution is mapped so that nothing but loopback can be reached.
func chromium(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("browser tests are skipped in -short mode")
	}
	path := os.Getenv("CARELEDGER_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := exec.LookPath(path); err != nil {
		t.Skipf("browser tests need Chromium at %s (apt-get install -y chromium, or set CARELEDGER_CHROMIUM): %v", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		// The test server's certificate is made up by httptest for 127.0.0.1.
		chromedp.Flag("ignore-certificate-errors", true),
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "start chromium")
	return ctx
}

// person is one browser profile (its own cookies) driving the web interface.
type person struct {
	t    *testing.T
	ctx  context.Context
	base string
	dir  string
}

func (e *env) person(t *testing.T, browser context.Context, artefacts string) *person {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first run opens the tab, which lives as long as that run's context: give it one
	// without a deadline.
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")))
	return &person{t: t, ctx: ctx, base: e.srv.URL, dir: artefacts}
}

// do runs steps with a deadline, so a page that never shows what a step waits for fails the
// test instead of hanging it.
func (p *person) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	require.NoError(p.t, chromedp.Do(ctx, steps...))
}

func (p *person) text(sel string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(p.t, err)
	return s
}

func (p *person) eval(js string) any {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
	require.NoError(p.t, err)
	return v
}

func (p *person) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
	p.checkAccessible()
}

// signIn fills in the sign-in form as a person would.
func (p *person) signIn(label string) {
	p.t.Helper()
	p.open("/signin")
	p.do(
		chromedp.SendKeys(chromedp.ID("label"), label),
		chromedp.SendKeys(chromedp.ID("passphrase"), passphrase),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)),
	)
}

// checkAccessible checks what every page owes its readers: a label for every input, a large
// base font, a language, reflow at phone width and no axe-core WCAG 2.1 A/AA violation.
func (p *person) checkAccessible() {
	p.t.Helper()
	unlabelled := p.eval(`Array.from(document.querySelectorAll("input:not([type=hidden]),select,textarea")).filter(e => !e.labels || e.labels.length === 0).map(e => e.id || e.name)`)
	require.Empty(p.t, unlabelled, "inputs without a label")
	size := p.eval(`parseFloat(getComputedStyle(document.body).fontSize)`)
	require.GreaterOrEqual(p.t, size.(float64), 18.0, "base font size")
	require.Equal(p.t, "en", p.eval(`document.documentElement.lang`))
	p.checkPhoneAndAxe()
}

// screenshot saves the whole page as a PNG artefact.
func (p *person) screenshot(name string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(p.t, err)
	require.True(p.t, bytes.HasPrefix(png, []byte("\x89PNG")), "screenshot is not a PNG")
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, name+".png"), png, 0o644))
}

func artefactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CARELEDGER_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	dir = filepath.Join(dir, "web")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	return dir
}

// weber is the clinician's directory entry in the browser tests.
var weber = directory.Profile{Name: "Dr Anna Weber", Profession: "internist", Department: "Cardiology"}

const (
	labResult  = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],"code":{"coding":[{"system":"http://loinc.org","code":"4548-4","display":"Haemoglobin A1c"}]},"valueQuantity":{"value":6.8,"unit":"%"},"effectiveDateTime":"2026-10-01T09:30:00Z"}`
	medication = `{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"Metformin 500 mg"},"dosage":[{"text":"one tablet twice a day"}],"subject":{"display":"not shown"}}`
	condition  = `{"resourceType":"Condition","code":{"text":"Type 2 diabetes"},"clinicalStatus":{"coding":[{"code":"active"}]},"onsetDateTime":"2019-04-02","subject":{"display":"not shown"}}`
	survey     = `{"resourceType":"QuestionnaireResponse","status":"completed","questionnaire":"Quality of life after surgery","authored":"2026-10-03","item":[{"linkId":"1","text":"How is your pain today (0-10)?","answer":[{"valueInteger":3}]},{"linkId":"2","text":"Can you climb stairs?","answer":[{"valueBoolean":true}]}]}`
)

// TestBrowserStories clicks through each role's main story in Chromium.
func TestBrowserStories(t *testing.T) {
	browser := chromium(t)
	e := newEnv(t, withCohortServices)
	dir := artefactDir(t)
	pid := ledgerID(e.patient)
	cid := ledgerID(e.clinician)
	e.inDirectory(t, e.clinician, weber)
	labID := e.upload(t, e.patient, labResult)
	e.upload(t, e.patient, medication)
	e.upload(t, e.patient, condition)
	e.upload(t, e.patient, survey)

	patient := e.person(t, browser, dir)
	clinician := e.person(t, browser, dir)

	t.Run("patient grants a clinician read access to lab results", func(t *testing.T) {
		patient.t = t
		patient.signIn("patient1")
		require.Contains(t, patient.text("main"), pid)
		// Keyboard first: Tab lands on the skip link, and focus is visible.
		patient.do(chromedp.KeyEvent("\t"))
		require.Equal(t, "skip", patient.eval(`document.activeElement.className`))
		require.Equal(t, "solid", patient.eval(`getComputedStyle(document.activeElement).outlineStyle`))

		patient.open("/patient/records")
		records := patient.text("table")
		require.Contains(t, records, "lab results")
		require.Contains(t, records, "medicines")
		require.Contains(t, records, "you")
		patient.do(
			chromedp.Click(chromedp.CSS(`a[href="/patient/records/`+labID+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("article.card")),
		)
		record := patient.text("main")
		require.Contains(t, record, "Result: Haemoglobin A1c")
		require.Contains(t, record, "6.8 %")
		require.Contains(t, record, "Version 1")
		patient.screenshot("0-patient-reads-a-record")

		patient.open("/patient/sharing")
		require.Contains(t, patient.text("main"), "Nobody but you can see your records.")
		patient.do(
			chromedp.Click(chromedp.ID("kind-person")),
			chromedp.SendKeys(chromedp.ID("grantee_id"), cid),
			chromedp.Click(chromedp.ID("cat-lab")),
			chromedp.Click(chromedp.CSS(`#grant-form button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		grants := patient.text("ul.grants")
		require.Contains(t, grants, "Dr Anna Weber (internist, Cardiology) at City Clinic")
		require.Contains(t, grants, "CareLedger ID "+cid)
		require.Contains(t, grants, "look at")
		require.Contains(t, grants, "lab results")
		require.Contains(t, grants, "treatment")
		require.Contains(t, grants, "until you take it back")
		require.Contains(t, grants, "in force")
		patient.screenshot("1-patient-grants-access")
	})

	t.Run("clinician sees the patient's timeline", func(t *testing.T) {
		clinician.t = t
		clinician.signIn("clinician1")
		list := clinician.text("main table")
		require.Contains(t, list, "in force: look")
		require.Contains(t, list, "lab results")
		clinician.do(
			chromedp.Click(chromedp.CSS(`a[href="/clinician/patients/`+pid+`"]`)),
			chromedp.WaitVisible(chromedp.CSS("ol.timeline")),
		)
		clinician.checkAccessible()
		timeline := clinician.text("ol.timeline")
		require.Contains(t, timeline, "Result: Haemoglobin A1c")
		require.Contains(t, timeline, "6.8 %")
		require.NotContains(t, timeline, "Metformin", "only lab results were granted")
		require.NotContains(t, timeline, "diabetes")
		clinician.screenshot("2-clinician-timeline")
	})

	t.Run("patient sees who read what, when and under which grant", func(t *testing.T) {
		patient.t = t
		require.NoError(t, e.stack.Flusher.Flush(context.Background()))
		patient.open("/patient/access")
		trail := patient.text("table.trail")
		require.Contains(t, trail, "Dr Anna Weber (internist, Cardiology) at City Clinic")
		require.Contains(t, trail, "opened lab results, version 1")
		require.Contains(t, trail, "access you gave")
		require.NotContains(t, patient.text("main"), "emergency access", "no emergency yet")
		patient.screenshot("3-patient-access-trail")
	})

	t.Run("patient revokes the access", func(t *testing.T) {
		patient.t = t
		patient.open("/patient/sharing")
		patient.do(
			chromedp.Click(chromedp.CSS(`ul.grants button.danger`)),
			chromedp.WaitVisible(chromedp.CSS(".notice")),
		)
		require.Contains(t, patient.text(".notice"), "taken back")
		require.Contains(t, patient.text("main"), "Nobody but you can see your records.")
		// What ended folds into the history, which opens on a click.
		patient.do(chromedp.Click(chromedp.CSS(`details.history summary`)), chromedp.WaitVisible(chromedp.CSS(`ul.grants.past`)))
		require.Contains(t, patient.text("ul.grants.past"), "taken back on")
		require.Zero(t, patient.eval(`document.querySelectorAll("ul.grants button.danger").length`))
		patient.screenshot("4-patient-revokes")
	})

	t.Run("the revoked clinician's page shows the refusal", func(t *testing.T) {
		clinician.t = t
		clinician.open("/clinician/patients/" + pid)
		require.Contains(t, clinician.text("#refusal"), "Access was revoked")
		require.Zero(t, clinician.eval(`document.querySelectorAll("ol.timeline").length`))
		require.NotContains(t, clinician.text("main"), "Haemoglobin")
		clinician.screenshot("5-clinician-access-revoked")
	})

	t.Run("clinician opens emergency access with a reason; the patient sees it highlighted", func(t *testing.T) {
		clinician.t = t
		clinician.open("/clinician")
		clinician.do(
			chromedp.SendKeys(chromedp.ID("em-patient"), pid),
			chromedp.SetValue(chromedp.ID("em-reason"), "patient-unconscious"),
			chromedp.Click(chromedp.CSS(`form[action="/clinician/emergency"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("ol.timeline")),
		)
		timeline := clinician.text("ol.timeline")
		require.Contains(t, timeline, "Medicine: Metformin 500 mg")
		require.Contains(t, timeline, "one tablet twice a day")
		require.Contains(t, timeline, "Diagnosis: Type 2 diabetes")
		require.Contains(t, timeline, "How is your pain today (0-10)?")
		require.Contains(t, timeline, "Can you climb stairs?")
		clinician.screenshot("6-clinician-emergency-access")

		patient.t = t
		require.NoError(t, e.stack.Flusher.Flush(context.Background()))
		patient.open("/patient/access")
		require.Contains(t, patient.text(".warning"), "emergency access")
		require.Positive(t, patient.eval(`document.querySelectorAll("table.trail tr.emergency").length`))
		require.Contains(t, patient.text("table.trail tr.emergency"), "EMERGENCY")
		patient.open("/patient/sharing")
		require.Contains(t, patient.text("li.grant.emergency"), "the patient is unconscious")
		require.Contains(t, patient.text("li.grant.emergency"), "Dr Anna Weber (internist, Cardiology) at City Clinic", "the emergency names the clinician")
		patient.screenshot("7-patient-sees-emergency")
	})

	t.Run("manufacturer sees cohorts and a query with suppressed cells", func(t *testing.T) {
		publishCohort(t, e)
		m := e.person(t, browser, dir)
		m.signIn("manufacturer1")
		card := m.text("section.cohort")
		require.Contains(t, card, "Cohort diabetes-2026")
		require.Contains(t, card, "1200 (37 withheld)")
		require.Contains(t, card, "k-anonymity")
		require.Contains(t, card, "each person hides among at least k")
		require.Contains(t, card, "Download cohort.csv")
		require.Contains(t, card, "Download cohort.parquet")
		m.screenshot("8-manufacturer-cohorts")

		m.do(
			chromedp.Click(chromedp.CSS(`a[href="/manufacturer/cohorts/diabetes-2026/query"]`)),
			chromedp.WaitVisible(chromedp.ID("group1")),
			chromedp.SetValue(chromedp.ID("group1"), "ageBand"),
			chromedp.SetValue(chromedp.ID("group2"), "sex"),
			chromedp.Click(chromedp.CSS(`form[action$="/query"] button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS("table.result")),
		)
		m.checkAccessible()
		require.Contains(t, m.text("table.result"), "withheld (too few people)")
		require.Equal(t, 1.0, m.eval(`document.querySelectorAll("table.result tr.suppressed").length`))
		require.Equal(t, 4.0, m.eval(`document.querySelectorAll("svg.chart rect").length - 1`), "one bar per group (plus the hatch pattern)")
		require.Contains(t, m.eval(`document.querySelector("svg.chart").textContent`), "suppressed")
		m.screenshot("9-manufacturer-query")
	})
}

// withCohortServices plugs in a file service and an aggregator for the manufacturer story.
func withCohortServices(c *web.Config) {
	files := map[string][]byte{
		"cohort.csv":     []byte("ageBand,sex,diagnosisGroup\n40-49,F,E11\n"),
		"cohort.parquet": []byte("PAR1 test PAR1"),
	}
	c.CohortFiles = memFiles(files)
	c.Aggregator = minCellAggregator{min: 10, rows: []web.AggregateRow{
		{Values: []string{"40-49", "F"}, Value: 212},
		{Values: []string{"40-49", "M"}, Value: 198},
		{Values: []string{"50-59", "F"}, Value: 7},
		{Values: []string{"50-59", "M"}, Value: 305},
	}}
}

// publishCohort publishes a cohort as the anonymiser.
func publishCohort(t *testing.T, e *env) {
	t.Helper()
	anon := e.stack.User(t, network.PatientsMSP, "anonymizer")
	sum := sha256.Sum256([]byte("ageBand,sex,diagnosisGroup\n40-49,F,E11\n"))
	snap := sha256.Sum256([]byte("consent snapshot"))
	_, err := e.stack.Client(t, anon).PublishCohort(context.Background(), model.CohortPublication{
		ID: "diabetes-2026", DatasetHash: hex.EncodeToString(sum[:]), RowCount: 1200, SuppressedRows: 37,
		Purpose: "drug-development", Models: []string{"k-anonymity"}, Parameters: model.PrivacyParameters{K: 10, SuppressionLimit: 0.05},
		QuasiIdentifiers: []string{"ageBand", "sex", "diagnosisGroup"}, ConsentSnapshotHash: hex.EncodeToString(snap[:]),
	})
	require.NoError(t, err)
}

// memFiles serves cohort files from memory.
type memFiles map[string][]byte

func (m memFiles) Files(_ context.Context, _ model.Cohort) ([]web.CohortFile, error) {
	var out []web.CohortFile
	for _, n := range []string{"cohort.csv", "cohort.parquet"} {
		sum := sha256.Sum256(m[n])
		mt := "text/csv"
		if strings.HasSuffix(n, ".parquet") {
			mt = "application/vnd.apache.parquet"
		}
		out = append(out, web.CohortFile{Name: n, MediaType: mt, Size: int64(len(m[n])), SHA256: hex.EncodeToString(sum[:])})
	}
	return out, nil
}

func (m memFiles) Open(ctx context.Context, c model.Cohort, name string) (io.ReadCloser, web.CohortFile, error) {
	b, ok := m[name]
	if !ok {
		return nil, web.CohortFile{}, fmt.Errorf("open %s: %w", name, web.ErrNoSuchFile)
	}
	files, _ := m.Files(ctx, c)
	for _, f := range files {
		if f.Name == name {
			return io.NopCloser(bytes.NewReader(b)), f, nil
		}
	}
	return nil, web.CohortFile{}, web.ErrNoSuchFile
}

// minCellAggregator releases fixed counts, withholding cells below a minimum size, the way
// the anonymiser's disclosure control does.
type minCellAggregator struct {
	min  float64
	rows []web.AggregateRow
}

func (a minCellAggregator) Aggregate(_ context.Context, _ model.Cohort, q web.AggregateQuery) (*web.AggregateResult, error) {
	if q.Statistic != "count" {
		return nil, fmt.Errorf("%w: only counts are released for this cohort", web.ErrQueryRefused)
	}
	res := &web.AggregateResult{Columns: q.GroupBy, Mechanism: "min-cell-size"}
	for _, r := range a.rows {
		if r.Value < a.min {
			r = web.AggregateRow{Values: r.Values, Suppressed: true}
		}
		res.Rows = append(res.Rows, r)
	}
	return res, nil
}
