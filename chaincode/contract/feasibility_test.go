package contract_test

import (
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func budgetRequest(epsilon float64, queries int) model.PrivacyBudgetRequest {
	return model.PrivacyBudgetRequest{MSP: "PharmaMSP", Purpose: "drug-development", Epsilon: epsilon, MaxQueries: queries}
}

// answerFor is a valid feasibility answer for the manufacturer, spending epsilon.
func answerFor(manufacturer *member, id string, count int, epsilon float64) model.FeasibilityAnswer {
	return model.FeasibilityAnswer{
		ID: id, Requester: manufacturer.party(), Purpose: "drug-development",
		QueryHash: hashOf(100), ConsentSnapshotHash: hashOf(101),
		Count: count, Rounding: 10, Threshold: 20, Epsilon: epsilon,
	}
}

func TestFeasibilityBudgetIsSpentWithEveryAnswerAndRefusesWhenExhausted(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	cs.admin.mustSubmit("SetRolePolicy", js(standardPolicy))
	anon, maker := cs.anonymizer, cs.manufacturer

	_, err := anon.submit("RecordFeasibility", js(answerFor(maker, "q0", 40, 0.5)))
	requireCode(t, err, model.CodeBudgetExhausted)

	b := decodeAs[model.PrivacyBudget](t, cs.admin.mustSubmit("SetPrivacyBudget", js(budgetRequest(1, 3))))
	require.Equal(t, cs.admin.party(), b.SetBy)
	require.Equal(t, model.EventPrivacyBudgetChanged, w.ledger.Events()[len(w.ledger.Events())-1].Name)

	d := decodeAs[model.Disclosure](t, anon.mustSubmit("RecordFeasibility", js(answerFor(maker, "q1", 40, 0.5))))
	require.Equal(t, 0.5, d.SpentEpsilon)
	require.Equal(t, 1, d.Queries)
	require.Equal(t, anon.party(), d.Answerer)
	require.Equal(t, model.EventFeasibilityAnswered, w.ledger.Events()[len(w.ledger.Events())-1].Name)

	_, err = anon.submit("RecordFeasibility", js(answerFor(maker, "q1", 40, 0.1)))
	requireCode(t, err, model.CodeConflict)

	// 0.5 + 0.6 > 1: refused, and nothing is written.
	before := w.ledger.Snapshot()
	events := len(w.ledger.Events())
	_, err = anon.submit("RecordFeasibility", js(answerFor(maker, "q2", 40, 0.6)))
	requireCode(t, err, model.CodeBudgetExhausted)
	require.Equal(t, before, w.ledger.Snapshot(), "a refused answer writes nothing")
	require.Len(t, w.ledger.Events(), events)

	// A withheld answer without noise costs no ε but one of the answers.
	withheld := answerFor(maker, "q3", 0, 0)
	withheld.Withheld = true
	anon.mustSubmit("RecordFeasibility", js(withheld))
	d = decodeAs[model.Disclosure](t, anon.mustSubmit("RecordFeasibility", js(answerFor(maker, "q4", 50, 0.5))))
	require.InDelta(t, 1.0, d.SpentEpsilon, 1e-12)
	require.Equal(t, 3, d.Queries)
	_, err = anon.submit("RecordFeasibility", js(answerFor(maker, "q5", 50, 0)))
	requireCode(t, err, model.CodeBudgetExhausted)

	got := decodeAs[model.PrivacyBudget](t, maker.mustEvaluate("GetPrivacyBudget", "", "drug-development"))
	require.Equal(t, 3, got.Queries)
	require.Zero(t, got.RemainingQueries())

	// Raising the budget keeps what was spent.
	got = decodeAs[model.PrivacyBudget](t, cs.admin.mustSubmit("SetPrivacyBudget", js(budgetRequest(2, 10))))
	require.InDelta(t, 1.0, got.SpentEpsilon, 1e-12)
	require.Equal(t, 3, got.Queries)
	anon.mustSubmit("RecordFeasibility", js(answerFor(maker, "q6", 50, 1)))

	// The manufacturer sees its organisation's log; a patient sees the log without the
	// staff member's pseudonym; another manufacturer organisation sees nothing of it.
	own := decodeAs[model.DisclosurePage](t, maker.mustEvaluate("ListDisclosures", "", "0", ""))
	require.Len(t, own.Disclosures, 4)
	require.Equal(t, maker.id(), own.Disclosures[0].Answer.Requester.ID)
	forPatient := decodeAs[model.DisclosurePage](t, cs.patient.mustEvaluate("ListDisclosures", "", "2", ""))
	require.Len(t, forPatient.Disclosures, 2)
	require.Empty(t, forPatient.Disclosures[0].Answer.Requester.ID)
	require.Equal(t, "PharmaMSP", forPatient.Disclosures[0].Answer.Requester.MSP)
	rest := decodeAs[model.DisclosurePage](t, cs.patient.mustEvaluate("ListDisclosures", "", "2", forPatient.Bookmark))
	require.Len(t, rest.Disclosures, 2)
	require.Equal(t, "q6", rest.Disclosures[1].Answer.ID)

	rival := w.join("PharmaMSP2", model.RoleManufacturer)
	_, err = rival.evaluate("ListDisclosures", "PharmaMSP", "0", "")
	requireCode(t, err, model.CodeForbidden)
	_, err = rival.evaluate("GetPrivacyBudget", "PharmaMSP", "drug-development")
	requireCode(t, err, model.CodeForbidden)
}

func TestOnlyTheTrustCentresAdminSetsBudgetsAndNeverItsOwn(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	cs.admin.mustSubmit("SetRolePolicy", js(model.RolePolicy{Rules: append(standardPolicy.Rules[:4:4],
		model.RoleRule{Role: model.RoleAdmin, MSPs: []string{"PatientsMSP", "PharmaMSP"}},
		model.RoleRule{Role: model.RoleGateway, MSPs: []string{"ClinicMSP", "PatientsMSP"}})}))
	pharmaAdmin := w.join("PharmaMSP", model.RoleAdmin)
	_, err := pharmaAdmin.submit("SetPrivacyBudget", js(budgetRequest(5, 5)))
	requireCode(t, err, model.CodeForbidden)
	own := budgetRequest(5, 5)
	own.MSP = "PatientsMSP"
	_, err = cs.admin.submit("SetPrivacyBudget", js(own))
	requireCode(t, err, model.CodeForbidden)
	notMaker := budgetRequest(5, 5)
	notMaker.MSP = "ClinicMSP"
	_, err = cs.admin.submit("SetPrivacyBudget", js(notMaker))
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = cs.admin.through(w.join("PatientsMSP", model.RoleGateway)).submit("SetPrivacyBudget", js(budgetRequest(5, 5)))
	requireCode(t, err, model.CodeForbidden)
	cs.admin.mustSubmit("SetPrivacyBudget", js(budgetRequest(5, 5)))
}

func TestFeasibilityTransactionsAreDeterministic(t *testing.T) {
	// Budgets hold floating-point sums: two peers endorsing the same proposals must still write
	// byte-identical state.
	w1 := newWorld(t)
	cs := newCast(w1)
	w2 := &world{t: t, ledger: w1.ledger.Clone(), cc: w1.cc, cas: w1.cas, now: w1.now, seq: w1.seq}
	steps := func(w *world) []string {
		var payloads []string
		call := func(m *member, fn string, args ...string) {
			m.w = w
			out, res, err := m.call(true, fn, args...)
			require.NoError(t, err, fn)
			payloads = append(payloads, out, js(res.Writes), js(res.Event))
		}
		call(cs.admin, "SetPrivacyBudget", js(budgetRequest(1, 10)))
		for i, eps := range []float64{0.1, 0.2, 0.3, 0} {
			call(cs.anonymizer, "RecordFeasibility", js(answerFor(cs.manufacturer, "q"+string(rune('a'+i)), 30, eps)))
		}
		return payloads
	}
	require.Equal(t, steps(w1), steps(w2))
	require.Equal(t, w1.ledger.Snapshot(), w2.ledger.Snapshot())
}
