package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/internal/demopop"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// Demo population defaults: enough patients that a k=5 cohort and rounded feasibility counts
// have something to show, few enough to generate in well under a minute.
const (
	defaultDemoPopulation = 200
	defaultDemoSeed       = 1
	// demoGrantPatients is how many of the first patients with a diagnosis grant the demo
	// clinician read access, so the clinician's list and timelines are populated.
	demoGrantPatients = 6
	// demoCohortID names the cohort published once the population is in.
	demoCohortID = "demo-drug-safety"
	demoWorkers  = 4
)

// demoCategories are what demo patients share with the demo clinician.
var demoCategories = []string{"lab", "medication", "diagnosis", model.CategoryDemographics}

// demoMarker is kept in the data directory: which demo patients are on the ledger, so a
// restart (or a start after an interrupted generation) adds none twice.
type demoMarker struct {
	Seed     uint64 `json:"seed"`
	Patients int    `json:"patients"`
	// DoneBelow says every patient with a smaller index is completely in (records, consent,
	// grant); Done lists those above it that are, in the order they finished.
	DoneBelow int   `json:"doneBelow,omitempty"`
	Done      []int `json:"done,omitempty"`
	// Complete is set once every patient is in; Done is then dropped.
	Complete bool `json:"complete"`
	// Cohort is the demo cohort published, or why none was.
	Cohort string `json:"cohort,omitempty"`
}

// finished records that patient i is completely in, keeping the list short: the marker is
// written after every patient.
func (m *demoMarker) finished(i int) {
	m.Done = append(m.Done, i)
	for {
		j := slices.Index(m.Done, m.DoneBelow)
		if j < 0 {
			return
		}
		m.Done = slices.Delete(m.Done, j, j+1)
		m.DoneBelow++
	}
}

func demoMarkerPath(dataDir string) string { return filepath.Join(dataDir, "demo-population.json") }

func readDemoMarker(path string) (*demoMarker, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m demoMarker
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return &m, nil
}

func (m *demoMarker) write(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// demoPopulation is what `up --demo-population` asks for.
type demoPopulation struct {
	Patients int
	Seed     uint64
	Out      io.Writer
}

// ensureDemoPopulation generates the demo population on the ledger, once: every patient gets
// an identity that exists only in memory, uploads their records through the gateway as
// themselves, gives research consent for their purposes, and the first few with a diagnosis
// grant the demo clinician read access. Then one demo cohort is published for drug safety,
// if consent and k allow. A marker in the data directory makes it happen once; a start
// after an interruption adds only the patients still missing.
func (s *stack) ensureDemoPopulation(ctx context.Context, d demoPopulation) error {
	if d.Patients <= 0 {
		return nil
	}
	if s.node == nil {
		fmt.Fprintln(d.Out, "demo population: skipped, it needs the embedded ledger's CA (not --fabric)")
		return nil
	}
	path := demoMarkerPath(s.cfg.DataDir)
	m, err := readDemoMarker(path)
	if err != nil {
		return err
	}
	if m == nil {
		m = &demoMarker{Seed: d.Seed, Patients: d.Patients}
	}
	if m.Complete {
		if m.Seed != d.Seed || m.Patients != d.Patients {
			fmt.Fprintf(d.Out, "demo population: keeping the %d patients of seed %d generated before\n", m.Patients, m.Seed)
		}
		return s.ensureDemoCohort(ctx, d.Out, m, path)
	}
	// An interrupted generation goes on with what it started with.
	d.Patients, d.Seed = m.Patients, m.Seed
	g, err := s.newDemoGenerator(d.Seed)
	if err != nil {
		return err
	}
	var todo []int
	for i := m.DoneBelow; i < d.Patients; i++ {
		if !slices.Contains(m.Done, i) {
			todo = append(todo, i)
		}
	}
	t0 := time.Now()
	tick, finish := demoProgress(d.Out, len(todo))
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(demoWorkers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				err := g.add(ctx, i)
				mu.Lock()
				if err == nil {
					m.finished(i)
					err = m.write(path)
				}
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("demo patient %d: %w", i, err)
				}
				mu.Unlock()
				tick()
			}
		}()
	}
feed:
	for _, i := range todo {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	finish()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return firstErr
	}
	m.Complete, m.Done, m.DoneBelow = true, nil, 0
	if err := m.write(path); err != nil {
		return err
	}
	resumed := ""
	if len(todo) < d.Patients {
		resumed = fmt.Sprintf(" (this start added the %d missing)", len(todo))
	}
	fmt.Fprintf(d.Out, "demo population: %d patients (seed %d)%s: %d records, %d with research consent, %d granted the demo clinician access, in %s\n",
		d.Patients, d.Seed, resumed, g.records, g.consenting, g.granted, time.Since(t0).Round(100*time.Millisecond))
	return s.ensureDemoCohort(ctx, d.Out, m, path)
}

// demoGenerator puts demo patients on the ledger.
type demoGenerator struct {
	s         *stack
	seed      uint64
	issuer    *network.Issuer
	clinician string // the demo clinician's pseudonym
	// grantees are the indices of the patients who grant the clinician access.
	grantees []int

	mu                           sync.Mutex
	records, consenting, granted int
}

func (s *stack) newDemoGenerator(seed uint64) (*demoGenerator, error) {
	cons := s.node.Config().Consortium
	o, ok := cons.Org(s.operator)
	if !ok {
		return nil, fmt.Errorf("demo population: no operator organisation")
	}
	is, err := network.NewIssuer(filepath.Join(s.cfg.DataDir, "network"), o)
	if err != nil {
		return nil, err
	}
	g := &demoGenerator{s: s, seed: seed, issuer: is}
	for _, msp := range s.users.orgs() {
		if c, err := loadUser(s.users, msp, model.RoleClinician); err == nil {
			g.clinician = c.LedgerID()
			break
		}
	}
	// The grantees are fixed by the seed alone, so an interrupted run grants the same ones.
	for i := 0; len(g.grantees) < demoGrantPatients && i < 1000; i++ {
		if p := demopop.Generate(seed, i); len(p.Conditions) > 0 {
			g.grantees = append(g.grantees, i)
		}
	}
	return g, nil
}

// add puts patient i on the ledger: identity, records, consent, grant.
func (g *demoGenerator) add(ctx context.Context, i int) error {
	p := demopop.Generate(g.seed, i)
	u, err := g.issuer.IssueEphemeral(network.UserSpec{Name: fmt.Sprintf("demo-%d", i), Role: network.RolePatient})
	if err != nil {
		return err
	}
	sign, err := identity.NewPrivateKeySign(u.Key)
	if err != nil {
		return err
	}
	c, err := g.s.clientFor(u.MSPID, u.CertPEM, sign)
	if err != nil {
		return err
	}
	owner := model.PseudonymFor(u.MSPID, u.EnrollmentID)
	n, err := uploadDemoPatient(ctx, g.s.svc, c, owner, &p)
	if err != nil {
		return err
	}
	consented := len(p.Purposes) > 0
	if consented {
		if _, err := c.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: p.Purposes}); err != nil {
			return fmt.Errorf("research consent: %w", err)
		}
	}
	granted := g.clinician != "" && slices.Contains(g.grantees, i)
	if granted {
		until := time.Now().AddDate(1, 0, 0).UTC()
		if _, err := c.Grant(ctx, model.GrantRequest{
			ID: fmt.Sprintf("demo-grant-%d", i), Grantee: model.Grantee{ID: g.clinician},
			Actions: []string{model.ActionRead}, Categories: demoCategories, Purpose: "TREAT", ValidUntil: &until,
		}); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.records += n
	if consented {
		g.consenting++
	}
	if granted {
		g.granted++
	}
	return nil
}

// uploadDemoPatient uploads the patient's records through the gateway as the patient, one
// resource per record, and returns how many. When the gateway takes a Bundle, the loop
// becomes one upload of p.Bundle(owner), which the demopop tests check the gateway's Bundle
// parser accepts.
func uploadDemoPatient(ctx context.Context, svc *gateway.Service, as *ledger.Client, owner string, p *demopop.Patient) (int, error) {
	rs := p.Resources(owner)
	for _, data := range rs {
		if _, err := svc.Upload(ctx, as, gateway.Upload{Owner: owner, Content: gateway.Content{MediaType: fhir.MediaType, Data: data}}); err != nil {
			return 0, fmt.Errorf("upload: %w", err)
		}
	}
	return len(rs), nil
}

// ensureDemoCohort publishes the demo cohort once, as the anonymiser, if consent and k allow.
func (s *stack) ensureDemoCohort(ctx context.Context, out io.Writer, m *demoMarker, path string) error {
	if m.Cohort != "" {
		return nil
	}
	anonUser, err := loadUser(s.users, s.operator, model.RoleAnonymizer)
	if err != nil {
		return fmt.Errorf("load anonymiser: %w", err)
	}
	anon, err := s.clientFor(s.operator, anonUser.CertificatePEM(), anonUser.Sign)
	if err != nil {
		return err
	}
	spec, err := demoCohortSpec()
	if err != nil {
		return err
	}
	t0 := time.Now()
	res, err := cohort.NewPublisher(s.svc, anon, s.blobs, s.log.With("component", "cohort")).Publish(ctx, spec)
	switch {
	case errors.Is(err, cohort.ErrNoCohort):
		m.Cohort = "none: " + err.Error()
		fmt.Fprintf(out, "demo cohort: not published (%v); publish one with: careledger anonymizer publish --purpose drug-safety --k 5 --definition docs/examples/cohort/extract-t2dm.json\n", err)
	case err != nil:
		return fmt.Errorf("demo cohort: %w", err)
	default:
		m.Cohort = res.Cohort.Publication.ID
		fmt.Fprintf(out, "demo cohort %s published: %d rows (%d suppressed), in %s\n", m.Cohort,
			res.Cohort.Publication.RowCount, res.Cohort.Publication.SuppressedRows, time.Since(t0).Round(100*time.Millisecond))
	}
	if err := m.write(path); err != nil {
		return err
	}
	// The cohort's reads are audited: have them on the ledger before up says it is ready.
	return s.flusher.Flush(ctx)
}

// demoExtract is the demo cohort's definition: every consenting adult, with the variables a
// drug-safety question about diabetes and cardiovascular drugs needs.
const demoExtract = `{"version":1,
"cohort":{"version":1,"include":[{"age":{"min":18}}]},
"variables":[
 {"name":"age","age":{"bands":[5,10,20]}},
 {"name":"sex","sex":{}},
 {"name":"postal_code","postalCode":{}},
 {"name":"type2_diabetes","condition":{"codes":["E11"]}},
 {"name":"hypertension","condition":{"codes":["I10"]}},
 {"name":"ischaemic_heart","condition":{"codes":["I20-I25"]}},
 {"name":"metformin","medication":{"codes":["A10BA"]}},
 {"name":"statin","medication":{"codes":["C10AA"]}},
 {"name":"ace_inhibitor","medication":{"codes":["C09AA"]}},
 {"name":"hba1c_pct","lab":{"loinc":"4548-4","unit":"%","bottom":5,"top":10}},
 {"name":"ldl_mg_dl","role":"sensitive","lab":{"loinc":"13457-7","unit":"mg/dL","decimals":0,"microaggregate":5}},
 {"name":"diabetes_diagnosed","role":"insensitive","date":{"condition":"E11","treatment":"shift","shiftDays":90}}
]}`

// demoCohortSpec is the cohort published at start-up.
func demoCohortSpec() (cohort.Spec, error) {
	x, err := cohort.ParseExtract([]byte(demoExtract))
	if err != nil {
		return cohort.Spec{}, err
	}
	return cohort.Spec{ID: demoCohortID, Purpose: "drug-safety", K: 5, SuppressionLimit: 0.1, Extract: x}, nil
}

// demoProgress shows generation progress: a progress bar on a terminal, a line per tenth
// otherwise.
func demoProgress(w io.Writer, total int) (tick, finish func()) {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("demo patients"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowElapsedTimeOnFinish(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionSetWidth(30),
		)
		var mu sync.Mutex
		return func() { mu.Lock(); bar.Add(1); mu.Unlock() }, func() { bar.Finish(); fmt.Fprintln(w) }
	}
	var mu sync.Mutex
	done := 0
	fmt.Fprintf(w, "demo population: generating %d patients\n", total)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		done++
		if step := max(total/10, 1); done%step == 0 || done == total {
			fmt.Fprintf(w, "demo population: %d of %d patients\n", done, total)
		}
	}, func() {}
}

// printDemoPopulation says, in up's welcome, what demo population the data directory holds.
func printDemoPopulation(w io.Writer, dataDir string) {
	m, err := readDemoMarker(demoMarkerPath(dataDir))
	if err != nil || m == nil || !m.Complete {
		return
	}
	fmt.Fprintf(w, "  demo       %d synthetic patients (seed %d); %d granted the demo clinician access", m.Patients, m.Seed, demoGrantPatients)
	if m.Cohort == demoCohortID {
		fmt.Fprintf(w, "; cohort %s published", m.Cohort)
	}
	fmt.Fprintln(w)
}
