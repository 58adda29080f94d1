package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// TestDemoPopulationGivesEveryRoleSomething starts the stack with a small demo population:
// the demo clinician has granted patients with readable histories, a feasibility count over
// the consenting patients is not empty, and a second start adds nothing.
func TestDemoPopulationGivesEveryRoleSomething(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	defer func() { s.Close() }()
	var out bytes.Buffer
	require.NoError(t, s.ensureDemoPopulation(ctx, demoPopulation{Patients: 40, Seed: 3, Out: &out}))
	require.Contains(t, out.String(), "demo population: 40 patients (seed 3)")
	require.Contains(t, out.String(), "demo cohort "+demoCohortID+" published", "40 patients are enough for k=5: %s", out.String())

	doc, err := loadUser(s.users, network.ClinicMSP, model.RoleClinician)
	require.NoError(t, err)
	clinician, err := s.clientFor(network.ClinicMSP, doc.CertificatePEM(), doc.Sign)
	require.NoError(t, err)
	grants, err := clinician.ListGrantsToMe(ctx, true, ledger.Page{Size: 50})
	require.NoError(t, err)
	require.NotEmpty(t, grants.Grants, "demo patients granted the demo clinician access")
	rels, _, err := s.svc.ReadHistory(ctx, clinician, grants.Grants[0].Patient, "", "TREAT", ledger.Page{Size: 100})
	require.NoError(t, err)
	require.NotEmpty(t, rels, "the clinician sees a timeline")

	anonUser, err := loadUser(s.users, s.operator, model.RoleAnonymizer)
	require.NoError(t, err)
	anon, err := s.clientFor(s.operator, anonUser.CertificatePEM(), anonUser.Sign)
	require.NoError(t, err)
	cohorts, err := anon.ListCohorts(ctx, ledger.Page{Size: 10})
	require.NoError(t, err)
	m, err := readDemoMarker(demoMarkerPath(dir))
	require.NoError(t, err)
	require.True(t, m.Complete)
	require.NotEmpty(t, m.Cohort, "the demo cohort was published or its refusal recorded")
	require.Len(t, cohorts.Cohorts, 1)
	co := cohorts.Cohorts[0].Publication
	require.Equal(t, demoCohortID, co.ID)
	require.Len(t, co.QueryHash, 64, "the extract's query hash is on the ledger")
	require.Len(t, co.QuasiIdentifiers, 10)
	rep, err := s.blobs.Get(ctx, "cohorts/"+demoCohortID+"/report.json")
	require.NoError(t, err)
	var report struct {
		Risk    struct{ Marketer float64 }
		Extract struct {
			QueryHash string `json:"query_hash"`
			DateShift string `json:"date_shift"`
		}
	}
	require.NoError(t, json.Unmarshal(rep, &report))
	require.Equal(t, co.QueryHash, report.Extract.QueryHash)
	require.Positive(t, report.Risk.Marketer)
	require.NotEmpty(t, report.Extract.DateShift)

	maker, err := loadUser(s.users, network.PharmaMSP, model.RoleManufacturer)
	require.NoError(t, err)
	// The example up's welcome suggests.
	example, err := os.ReadFile("../../docs/examples/cohort/criteria-hypertension-50plus.json")
	require.NoError(t, err)
	def := mustCriteria(t, string(example))
	zero := 0
	a, err := cohort.NewFeasibility(s.svc, anon).Count(ctx, cohort.FeasibilityRequest{
		Requester: model.Party{MSP: network.PharmaMSP, ID: maker.LedgerID(), Role: model.RoleManufacturer},
		Purpose:   "drug-safety", Definition: def, Rounding: 1, Threshold: &zero,
	})
	require.NoError(t, err)
	require.Positive(t, a.Count, "the manufacturer's feasibility answer is not empty")

	require.NoError(t, s.flusher.Flush(ctx), "the reads above are audited: have that on the ledger first")
	height := s.node.Height()
	require.NoError(t, s.Close())
	s, err = startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, s.ensureDemoPopulation(ctx, demoPopulation{Patients: 40, Seed: 3, Out: &out}))
	require.Equal(t, height, s.node.Height(), "a restart generates nothing again")
}

func mustCriteria(t *testing.T, js string) *criteria.Definition {
	t.Helper()
	def, err := criteria.Parse([]byte(js))
	require.NoError(t, err)
	return def
}

func TestDemoMarkerKeepsItsListShort(t *testing.T) {
	var m demoMarker
	for _, i := range []int{1, 0, 3, 2, 5} {
		m.finished(i)
	}
	require.Equal(t, 4, m.DoneBelow)
	require.Equal(t, []int{5}, m.Done)
}

// TestDemoPopulationResumes: a start after an interrupted generation adds only the patients
// the marker does not have.
func TestDemoPopulationResumes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, (&demoMarker{Seed: 5, Patients: 6, DoneBelow: 2, Done: []int{4}}).write(demoMarkerPath(dir)))
	var out bytes.Buffer
	require.NoError(t, s.ensureDemoPopulation(ctx, demoPopulation{Patients: 50, Seed: 9, Out: &out}))
	require.Contains(t, out.String(), "demo population: 6 patients (seed 5) (this start added the 3 missing)")
	m, err := readDemoMarker(demoMarkerPath(dir))
	require.NoError(t, err)
	require.True(t, m.Complete)
}
