package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/spf13/cobra"
)

// benchCriteria is the issue's example question: first T2DM diagnosis, metformin within 90
// days after it, HbA1c above 7 % in the year after it, aged 40 to 80.
const benchCriteria = `{"version":1,"referenceDate":"2026-01-01","index":{"condition":"E11"},
"include":[{"medication":"A10BA02","window":{"fromDays":0,"toDays":90}},
{"lab":{"loinc":"4548-4","comparator":">","value":7,"unit":"%"},"window":{"fromDays":0,"toDays":365}},
{"age":{"min":40,"max":80}}]}`

func newBenchResearchCmd() *cobra.Command {
	var patients, queries, stackPatients, extractPatients int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "research",
		Short: "Feasibility queries: criteria over a synthetic population in memory, and through the whole stack",
		Long: `Generates a synthetic population deterministically from --seed (FHIR R4 JSON: a Patient, chronic
conditions, medications and an HbA1c series, about 20 resources each), reads it into the
criteria evaluator's form (criteria.FromFHIR, as the feasibility service does after reading),
and times --queries runs of the issue's example question over all of it. Then, unless
--stack-patients is 0, it runs the whole embedded stack: that many patients upload their
records and consent, and one feasibility query reads them through the policy enforcement
point (consent check, hash check, decryption, audit) and records its answer on the ledger.
Unless --extract-patients is 0, it then times a cohort extract with 12 quasi-identifiers of
that many demo patients (internal/demopop) held in memory.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := benchResearch(cmd.Context(), cmd.OutOrStdout(), patients, queries, stackPatients, seed); err != nil {
				return err
			}
			if extractPatients > 0 {
				return benchExtract(cmd.Context(), cmd.OutOrStdout(), extractPatients, seed)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&patients, "patients", 100_000, "synthetic patients evaluated in memory")
	cmd.Flags().IntVar(&queries, "queries", 20, "queries timed over the in-memory population")
	cmd.Flags().IntVar(&stackPatients, "stack-patients", 100, "patients for the whole-stack query (0: skip)")
	cmd.Flags().IntVar(&extractPatients, "extract-patients", 100_000, "demo patients in the in-memory cohort extract (0: skip)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic population")
	return cmd
}

func benchResearch(ctx context.Context, out io.Writer, patients, queries, stackPatients int, seed uint64) error {
	machineLine(out)
	def, err := criteria.Parse([]byte(benchCriteria))
	if err != nil {
		return err
	}
	q, err := criteria.Compile(def, time.Now())
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	pop := make([]criteria.Patient, patients)
	resources := 0
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for i := range pop {
		rs := synthPatient(r, "")
		resources += len(rs)
		pop[i] = criteria.FromFHIR(rs)
	}
	parse := time.Since(t0)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	fmt.Fprintf(out, "population: %d patients, %d FHIR resources, read into criteria form in %.1fs (%.0f resources/s, one core), %.0f MiB held\n",
		patients, resources, parse.Seconds(), float64(resources)/parse.Seconds(), float64(after.HeapAlloc-min(after.HeapAlloc, before.HeapAlloc))/(1<<20))
	lat := make([]time.Duration, 0, queries)
	matched := 0
	for range queries {
		t := time.Now()
		matched = 0
		for i := range pop {
			if q.Evaluate(&pop[i]).Match {
				matched++
			}
		}
		lat = append(lat, time.Since(t))
	}
	fmt.Fprintf(out, "feasibility query in memory (%d runs over %d patients): p50 %s p99 %s, %d matched (aim: p99 < 500 ms at 100,000)\n",
		queries, patients, pct(lat, 50), pct(lat, 99), matched)
	if stackPatients > 0 {
		return benchResearchStack(ctx, out, stackPatients, def, seed)
	}
	return nil
}

// benchResearchStack times one feasibility query through the whole embedded stack.
func benchResearchStack(ctx context.Context, out io.Writer, n int, def *criteria.Definition, seed uint64) error {
	dir, err := os.MkdirTemp("", "careledger-bench-research-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := startStack(ctx, stackConfig{DataDir: dir, LedgerAddr: "127.0.0.1:0", KeyPassphrase: []byte("bench"), WalletPassword: []byte("bench")})
	if err != nil {
		return err
	}
	defer s.Close()
	cons := s.node.Config().Consortium
	netDir := filepath.Join(dir, "network")
	patientsOrg, _ := cons.Org(network.PatientsMSP)
	r := rand.New(rand.NewPCG(seed, seed^0x5eed))
	records := 0
	t0 := time.Now()
	for i := range n {
		u, err := network.IssueUser(netDir, patientsOrg, network.UserSpec{Name: fmt.Sprintf("bench-p%06d", i), Role: network.RolePatient})
		if err != nil {
			return err
		}
		sign, err := identity.NewPrivateKeySign(u.Key)
		if err != nil {
			return err
		}
		c, err := s.clientFor(u.MSPID, u.CertPEM, sign)
		if err != nil {
			return err
		}
		owner := model.PseudonymFor(u.MSPID, u.EnrollmentID)
		for _, res := range synthPatient(r, owner) {
			if _, err := s.svc.Upload(ctx, c, gateway.Upload{Owner: owner, Content: gateway.Content{MediaType: fhir.MediaType, Data: res}}); err != nil {
				return fmt.Errorf("upload: %w", err)
			}
			records++
		}
		if _, err := c.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}}); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "whole stack: %d patients uploaded %d records and consented in %.1fs\n", n, records, time.Since(t0).Seconds())
	anonUser, err := loadUser(s.users, s.operator, model.RoleAnonymizer)
	if err != nil {
		return err
	}
	anon, err := s.clientFor(s.operator, anonUser.CertificatePEM(), anonUser.Sign)
	if err != nil {
		return err
	}
	pharma, _ := cons.Org(network.PharmaMSP)
	maker, err := network.LoadUser(netDir, pharma, "manufacturer1")
	if err != nil {
		return err
	}
	f := cohort.NewFeasibility(s.svc, anon)
	t := time.Now()
	a, err := f.Count(ctx, cohort.FeasibilityRequest{
		Requester:  model.Party{MSP: maker.MSPID, ID: model.PseudonymFor(maker.MSPID, maker.EnrollmentID), Role: model.RoleManufacturer},
		Purpose:    "drug-safety",
		Definition: def,
	})
	if err != nil {
		return err
	}
	el := time.Since(t)
	perPatient := el / time.Duration(n)
	fmt.Fprintf(out, "whole-stack feasibility query over %d consenting patients: %s (%s per patient; released count %d, withheld %v, recorded in tx %.8s...)\n",
		n, el.Round(time.Millisecond), perPatient.Round(time.Microsecond), a.Count, a.Withheld, a.Disclosure.TxID)
	fmt.Fprintf(out, "  at that rate 100,000 patients would take %s\n", (perPatient * 100_000).Round(time.Second))
	return s.flusher.Flush(ctx)
}

// Codes the synthetic population draws from.
var (
	synthConditions = []string{"I10", "E78.0", "J45.9", "M54.5", "F32.1", "K21.0", "E66.0", "N18.3"}
	synthDrugs      = []string{"C09AA05", "C10AA01", "R03AC02", "N02BE01", "A02BC01", "C07AB02"}
)

// synthPatient returns one synthetic patient's FHIR resources: demographics, 3 to 6
// conditions and medications, a third with type 2 diabetes (most on metformin), and an
// HbA1c series in % or, for a quarter, mmol/mol. subject is the patient's pseudonym, or ""
// when the resources stay in memory.
func synthPatient(r *rand.Rand, subject string) [][]byte {
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	day := func(from time.Time, within int) string {
		return from.AddDate(0, 0, r.IntN(within)).Format(time.DateOnly)
	}
	ref := ""
	if subject != "" {
		ref = `,"subject":{"reference":"Patient/` + subject + `"}`
	}
	birth := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC)
	out := [][]byte{[]byte(fmt.Sprintf(`{"resourceType":"Patient","gender":%q,"birthDate":%q}`, []string{"female", "male"}[r.IntN(2)], day(birth, 365*75)))}
	cond := func(code, date string) {
		out = append(out, []byte(fmt.Sprintf(`{"resourceType":"Condition","code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":%q}]},"onsetDateTime":%q%s}`, code, date, ref)))
	}
	med := func(atc, date string) {
		out = append(out, []byte(fmt.Sprintf(`{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/atc","code":%q}]},"effectiveDateTime":%q%s}`, atc, date, ref)))
	}
	for range 3 + r.IntN(4) {
		cond(synthConditions[r.IntN(len(synthConditions))], day(start, 3650))
		med(synthDrugs[r.IntN(len(synthDrugs))], day(start, 3650))
	}
	if r.IntN(3) == 0 {
		dx := start.AddDate(0, 0, r.IntN(3000))
		cond("E11.9", dx.Format(time.DateOnly))
		if r.IntN(4) != 0 {
			med("A10BA02", day(dx, 180))
		}
	}
	unit := "%"
	if r.IntN(4) == 0 {
		unit = "mmol/mol"
	}
	for range 4 + r.IntN(8) {
		v := 5 + r.Float64()*5
		if unit != "%" {
			v = (v - 2.15) * 10.929
		}
		out = append(out, []byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"valueQuantity":{"value":%.1f,"unit":%q,"system":"http://unitsofmeasure.org","code":%q},"effectiveDateTime":%q%s}`, v, unit, unit, day(start, 3650), ref)))
	}
	return out
}
