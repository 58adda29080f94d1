package cohort_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func TestFeasibilityCountsConsentingPatientsAndSpendsTheBudget(t *testing.T) {
	ctx := context.Background()
	st := gatewaytest.StartStack(t, 0)

	// Type 2 diabetes at 40 or older on 2026-01-01: patients 0, 1, 4 and 6 match; 2 is too
	// young, 3 has hypertension only, 5 matches but never consented.
	people := []struct {
		sex, birth, icd string
		consents        bool
	}{
		{"female", "1960-05-10", "E11.9", true}, {"male", "1955-01-01", "E11.65", true}, {"female", "1990-02-02", "E11.9", true},
		{"male", "1970-07-07", "I10", true}, {"female", "1950-03-03", "E11", true}, {"male", "1945-04-04", "E11.9", false},
		{"female", "1962-06-06", "E11.9", true},
	}
	var patients []patient
	for i, pp := range people {
		c := st.Client(t, st.Issue(t, network.PatientsMSP, network.UserSpec{Name: fmt.Sprintf("feas-p%d", i), Role: network.RolePatient}))
		me, err := c.WhoAmI(ctx)
		require.NoError(t, err)
		patients = append(patients, patient{client: c, id: me.ID})
		for _, body := range []string{
			fmt.Sprintf(`{"resourceType":"Patient","gender":%q,"birthDate":%q}`, pp.sex, pp.birth),
			fmt.Sprintf(`{"resourceType":"Condition","code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":%q}]},"onsetDateTime":"2021-03-01","subject":{"reference":"Patient/%s"}}`, pp.icd, me.ID),
		} {
			_, err := st.Service.Upload(ctx, c, gateway.Upload{Owner: me.ID, Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(body)}})
			require.NoError(t, err)
		}
		if pp.consents {
			_, err = c.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}})
			require.NoError(t, err)
		}
	}
	anon := st.Client(t, st.User(t, network.PatientsMSP, "anonymizer"))
	admin := st.Client(t, st.User(t, network.PatientsMSP, "Admin"))
	maker := st.Client(t, st.User(t, network.PharmaMSP, "manufacturer1"))
	me, err := maker.WhoAmI(ctx)
	require.NoError(t, err)
	def, err := criteria.Parse([]byte(`{"version":1,"referenceDate":"2026-01-01","include":[{"condition":"E11"},{"age":{"min":40}}]}`))
	require.NoError(t, err)
	const exact = 0 // no threshold
	ask := func(eps float64, rounding int, threshold int) cohort.FeasibilityRequest {
		return cohort.FeasibilityRequest{Requester: me.Party, Purpose: "drug-safety", Definition: def, Epsilon: eps, Rounding: rounding, Threshold: &threshold}
	}
	f := cohort.NewFeasibility(st.Service, anon, cohort.WithNoise(func(n int64, eps float64) (int64, error) { return n + 3, nil }),
		cohort.WithClock(func() time.Time { return time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC) }))

	// No budget yet: refused before anything is read.
	_, err = f.Count(ctx, ask(0, 1, exact))
	require.ErrorIs(t, err, cohort.ErrBudgetExhausted)

	_, err = admin.SetPrivacyBudget(ctx, model.PrivacyBudgetRequest{MSP: network.PharmaMSP, Purpose: "drug-safety", Epsilon: 1, MaxQueries: 5})
	require.NoError(t, err)

	a, err := f.Count(ctx, ask(0, 1, exact))
	require.NoError(t, err)
	require.Equal(t, 4, a.Count, "patients 0, 1, 4 and 6")
	require.False(t, a.Withheld)
	require.Equal(t, def.Hash(), a.Disclosure.Answer.QueryHash)

	// Without a reference date the recorded hash commits to the day answered for.
	undated, err := criteria.Parse([]byte(`{"version":1,"include":[{"condition":"E11"},{"age":{"min":40}}]}`))
	require.NoError(t, err)
	dated, err := criteria.Parse([]byte(`{"version":1,"referenceDate":"2026-02-01","include":[{"condition":"E11"},{"age":{"min":40}}]}`))
	require.NoError(t, err)
	req := ask(0, 1, exact)
	req.Definition = undated
	a, err = f.Count(ctx, req)
	require.NoError(t, err)
	require.Equal(t, dated.Hash(), a.QueryHash)
	require.Equal(t, "2026-02-01", a.ReferenceDate)
	require.Empty(t, undated.ReferenceDate, "the caller's definition is left as it was")
	require.Equal(t, 3, a.RemainingQueries)
	require.Equal(t, "rounding", a.Mechanism)

	// Every read was authorised by research consent and audited; the patient who never
	// consented was not read.
	require.NoError(t, st.Flusher.Flush(ctx))
	researchReads := func(p patient) int {
		trail, err := p.client.ListAccessLog(ctx, "", ledger.Page{})
		require.NoError(t, err)
		n := 0
		for _, e := range trail.Entries {
			if e.Basis == model.BasisResearch {
				n++
			}
		}
		return n
	}
	require.Equal(t, 4, researchReads(patients[0]), "demographics and diagnosis, in each of two answers")
	require.Zero(t, researchReads(patients[5]))

	// Withdrawal is honoured in the next answer.
	_, err = patients[0].client.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: false})
	require.NoError(t, err)
	a, err = f.Count(ctx, ask(0, 1, exact))
	require.NoError(t, err)
	require.Equal(t, 3, a.Count)

	// Rounded to tens, 3 rounds to 0, below the threshold of 20: withheld, and still paid for.
	a, err = f.Count(ctx, ask(0, 10, 20))
	require.NoError(t, err)
	require.True(t, a.Withheld)
	require.Zero(t, a.Count)
	require.True(t, a.Disclosure.Answer.Withheld)
	require.Equal(t, 1, a.RemainingQueries)

	// Differential privacy: the noisy count (3 + 3 from the test's noise) is released, and ε
	// is recorded and spent.
	a, err = f.Count(ctx, ask(0.5, 1, exact))
	require.NoError(t, err)
	require.Equal(t, 6, a.Count)
	require.Equal(t, "laplace+rounding", a.Mechanism)
	require.Equal(t, 0.5, a.Disclosure.Answer.Epsilon)
	require.Equal(t, 0.5, a.Disclosure.SpentEpsilon)
	require.Equal(t, 0.5, a.RemainingEpsilon)

	// The budget's five answers are used: refused, nothing read, nothing recorded.
	require.NoError(t, st.Flusher.Flush(ctx))
	readsBefore := researchReads(patients[1])
	_, err = f.Count(ctx, ask(0, 1, exact))
	require.ErrorIs(t, err, cohort.ErrBudgetExhausted)
	require.NoError(t, st.Flusher.Flush(ctx))
	require.Equal(t, readsBefore, researchReads(patients[1]))
	log, err := maker.ListDisclosures(ctx, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, log.Disclosures, 5)
	counts := []int{}
	for _, d := range log.Disclosures {
		counts = append(counts, d.Answer.Count)
		require.Equal(t, me.ID, d.Answer.Requester.ID)
	}
	require.Equal(t, []int{4, 4, 3, 0, 6}, counts)

	// A patient sees the whole log, without the manufacturer's staff pseudonym.
	seen, err := patients[3].client.ListDisclosures(ctx, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, seen.Disclosures, 5)
	require.Empty(t, seen.Disclosures[0].Answer.Requester.ID)
	require.Equal(t, network.PharmaMSP, seen.Disclosures[0].Answer.Requester.MSP)
}

func TestDiscloseRoundsAndWithholds(t *testing.T) {
	cases := []struct {
		count               int64
		rounding, threshold int
		want                int
		withheld            bool
	}{
		{0, 10, 20, 0, true},
		{14, 10, 20, 0, true},
		{15, 10, 20, 20, false},
		{24, 10, 20, 20, false},
		{25, 10, 20, 30, false},
		{-7, 10, 0, 0, false},
		{3, 1, 0, 3, false},
		{3, 1, 5, 0, true},
		{7, 5, 5, 5, false},
		{12, 5, 0, 10, false},
		{13, 5, 0, 15, false},
		{123456, 100, 20, 123500, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%d by %d over %d", tc.count, tc.rounding, tc.threshold), func(t *testing.T) {
			got, withheld := cohort.Disclose(tc.count, tc.rounding, tc.threshold)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.withheld, withheld)
		})
	}
}
