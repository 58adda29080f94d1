package contract

import (
	"math"
	"slices"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Feasibility counts: how many consenting patients match a manufacturer's criteria, released
// rounded, withheld when small, optionally with differential-privacy noise drawn off-chain by
// the anonymiser. The ledger holds each manufacturer organisation's privacy budget per
// purpose and a log of every answer, written in the same transaction that spends the budget,
// before the answer is released; an answer the budget cannot pay for is refused and nothing
// is written.
const (
	kindBudget       = "cl.budget" // [msp, purpose] -> model.PrivacyBudget
	kindDisclosure   = "cl.disc"   // [msp, recordedAt, answerID] -> model.Disclosure
	kindDisclosureID = "cl.discid" // [answerID] -> index
)

// SetPrivacyBudget sets a manufacturer organisation's privacy budget for a purpose: the total
// ε and number of answers. What was spent stays spent; a total below it exhausts the budget.
// Only an administrator of the organisation that runs the anonymiser (the trust centre: an
// organisation the role policy lets issue `anonymizer`), with their own key, and never for
// their own organisation. Emits PrivacyBudgetChanged.
func (c *Contract) SetPrivacyBudget(ctx contractapi.TransactionContextInterface, request string) (*model.PrivacyBudget, error) {
	t, err := beginAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var req model.PrivacyBudgetRequest
	if err := decode("request", request, &req); err != nil {
		return nil, err
	}
	if err := checkMSP("msp", req.MSP); err != nil {
		return nil, err
	}
	if err := checkOneOf("purpose", req.Purpose, model.ResearchPurposes); err != nil {
		return nil, err
	}
	if math.IsNaN(req.Epsilon) || req.Epsilon < 0 || req.Epsilon > model.MaxBudgetEpsilon {
		return nil, model.Errorf(model.CodeInvalidArgument, "epsilon must be from 0 to %v", model.MaxBudgetEpsilon)
	}
	if req.MaxQueries < 1 || req.MaxQueries > model.MaxBudgetQueries {
		return nil, model.Errorf(model.CodeInvalidArgument, "maxQueries must be from 1 to %d", model.MaxBudgetQueries)
	}
	policy, err := t.rolePolicy()
	if err != nil {
		return nil, err
	}
	if !issues(policy, model.RoleAnonymizer, t.caller.MSP) {
		return nil, model.Errorf(model.CodeForbidden, "only an administrator of the organisation that runs the anonymiser sets privacy budgets")
	}
	if req.MSP == t.caller.MSP {
		return nil, model.Errorf(model.CodeForbidden, "an administrator cannot set their own organisation's privacy budget")
	}
	if policy != nil && !issues(policy, model.RoleManufacturer, req.MSP) {
		return nil, model.Errorf(model.CodeInvalidArgument, "msp: %s may not issue manufacturer identities under the role policy", req.MSP)
	}
	key := t.key(kindBudget, req.MSP, req.Purpose)
	b := &model.PrivacyBudget{}
	if _, err := t.get(key, b); err != nil {
		return nil, err
	}
	b.MSP, b.Purpose, b.Epsilon, b.MaxQueries = req.MSP, req.Purpose, req.Epsilon, req.MaxQueries
	b.SetBy, b.UpdatedAt, b.TxID = t.caller.Party, t.now, t.id
	if err := t.put(key, b); err != nil {
		return nil, err
	}
	return b, t.emit(model.EventPrivacyBudgetChanged, model.Event{Actor: t.caller.ID})
}

// issues reports whether msp may issue role under the policy; without a policy every MSP may.
func issues(policy *model.RolePolicy, role model.Role, msp string) bool {
	if policy == nil {
		return true
	}
	for _, r := range policy.Rules {
		if r.Role == role {
			return slices.Contains(r.MSPs, msp)
		}
	}
	return false
}

// RecordFeasibility records one feasibility answer for a manufacturer and spends its
// organisation's budget, atomically: if the budget for the purpose cannot pay the answer's ε
// or has no answers left, it fails with BUDGET_EXHAUSTED and writes nothing. Only the
// anonymiser records answers; it names the requester it authenticated, and the ledger
// attributes the disclosure to the anonymiser. Emits FeasibilityAnswered.
func (c *Contract) RecordFeasibility(ctx contractapi.TransactionContextInterface, answer string) (*model.Disclosure, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RoleAnonymizer); err != nil {
		return nil, err
	}
	var a model.FeasibilityAnswer
	if err := decode("answer", answer, &a); err != nil {
		return nil, err
	}
	if err := checkAnswer(&a); err != nil {
		return nil, err
	}
	policy, err := t.rolePolicy()
	if err != nil {
		return nil, err
	}
	if policy != nil && !issues(policy, model.RoleManufacturer, a.Requester.MSP) {
		return nil, model.Errorf(model.CodeInvalidArgument, "requester.msp: %s may not issue manufacturer identities under the role policy", a.Requester.MSP)
	}
	idKey := t.key(kindDisclosureID, a.ID)
	if ok, err := t.exists(idKey); err != nil {
		return nil, err
	} else if ok {
		return nil, model.Errorf(model.CodeConflict, "answer %s is already recorded", a.ID)
	}
	budgetKey := t.key(kindBudget, a.Requester.MSP, a.Purpose)
	var b model.PrivacyBudget
	ok, err := t.get(budgetKey, &b)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok:
		return nil, model.Errorf(model.CodeBudgetExhausted, "%s has no privacy budget for %s", a.Requester.MSP, a.Purpose)
	case !b.Affords(a.Epsilon):
		return nil, model.Errorf(model.CodeBudgetExhausted, "the privacy budget of %s for %s cannot pay this answer: %d of %d answers and ε %.4g of %.4g spent",
			a.Requester.MSP, a.Purpose, b.Queries, b.MaxQueries, b.SpentEpsilon, b.Epsilon)
	}
	b.SpentEpsilon += a.Epsilon
	b.Queries++
	d := &model.Disclosure{Answer: a, Answerer: t.caller.Party, RecordedAt: t.now, TxID: t.id, SpentEpsilon: b.SpentEpsilon, Queries: b.Queries}
	if err := t.put(budgetKey, &b); err != nil {
		return nil, err
	}
	if err := t.put(t.key(kindDisclosure, a.Requester.MSP, t.now.Format(sortableTime), a.ID), d); err != nil {
		return nil, err
	}
	if err := t.index(idKey); err != nil {
		return nil, err
	}
	return d, t.emit(model.EventFeasibilityAnswered, model.Event{Actor: t.caller.ID, Count: a.Count})
}

func checkAnswer(a *model.FeasibilityAnswer) error {
	bad := func(format string, args ...any) error {
		return model.Errorf(model.CodeInvalidArgument, format, args...)
	}
	if err := checkID("id", a.ID); err != nil {
		return err
	}
	if err := checkMSP("requester.msp", a.Requester.MSP); err != nil {
		return err
	}
	if err := checkPseudonym("requester.id", a.Requester.ID); err != nil {
		return err
	}
	if a.Requester.Role != model.RoleManufacturer {
		return bad("requester.role must be manufacturer")
	}
	if err := checkOneOf("purpose", a.Purpose, model.ResearchPurposes); err != nil {
		return err
	}
	if err := checkHash("queryHash", a.QueryHash); err != nil {
		return err
	}
	if err := checkHash("consentSnapshotHash", a.ConsentSnapshotHash); err != nil {
		return err
	}
	switch {
	case a.Rounding < 1 || a.Rounding > model.MaxRounding:
		return bad("rounding must be from 1 to %d", model.MaxRounding)
	case a.Threshold < 0 || a.Threshold > model.MaxThreshold:
		return bad("threshold must be from 0 to %d", model.MaxThreshold)
	case math.IsNaN(a.Epsilon) || a.Epsilon < 0 || a.Epsilon > model.MaxAnswerEpsilon:
		return bad("epsilon must be 0 (no noise) or up to %v", model.MaxAnswerEpsilon)
	case a.Withheld && a.Count != 0:
		return bad("count must be 0 when the answer is withheld")
	case a.Count < 0 || a.Count > model.MaxFeasibleCount || a.Count%a.Rounding != 0:
		return bad("count must be a multiple of rounding from 0 to %d", model.MaxFeasibleCount)
	case !a.Withheld && a.Count < a.Threshold:
		return bad("a count below the threshold must be withheld")
	}
	return nil
}

func checkMSP(field, v string) error {
	if !model.ValidMSPID(v) {
		return model.Errorf(model.CodeInvalidArgument, "%s must be an MSP ID", field)
	}
	return nil
}

// GetPrivacyBudget returns a manufacturer organisation's budget for a purpose (msp "" means
// the caller's organisation). A manufacturer sees its own organisation's budgets; patients,
// the anonymiser and administrators see every one, so anyone whose data is counted can see
// how much was allowed. NOT_FOUND when none was set.
func (c *Contract) GetPrivacyBudget(ctx contractapi.TransactionContextInterface, msp, purpose string) (*model.PrivacyBudget, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if msp, err = t.disclosureScope(msp, false); err != nil {
		return nil, err
	}
	if err := checkOneOf("purpose", purpose, model.ResearchPurposes); err != nil {
		return nil, err
	}
	var b model.PrivacyBudget
	ok, err := t.get(t.key(kindBudget, msp, purpose), &b)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.Errorf(model.CodeNotFound, "%s has no privacy budget for %s", msp, purpose)
	}
	return &b, nil
}

// ListDisclosures lists recorded feasibility answers of one manufacturer organisation (msp)
// or of all ("" for patients, the anonymiser and administrators), oldest first per
// organisation. A manufacturer lists only its own organisation's ("" means its own).
// Patients see the whole log without the requesting staff member's pseudonym: which answers
// counted them cannot be told without disclosing more, so they see everything that was
// disclosed, to which organisation, and at what cost. Evaluate it; do not submit it.
func (c *Contract) ListDisclosures(ctx contractapi.TransactionContextInterface, msp string, pageSize int, bookmark string) (*model.DisclosurePage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if msp, err = t.disclosureScope(msp, true); err != nil {
		return nil, err
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	var attrs []string
	if msp != "" {
		attrs = []string{msp}
	}
	out := &model.DisclosurePage{Disclosures: []model.Disclosure{}}
	out.Bookmark, err = t.page(kindDisclosure, attrs, bookmark, size, func(_ string, value []byte) (bool, error) {
		var d model.Disclosure
		if err := unmarshal(value, &d); err != nil {
			return false, err
		}
		if t.caller.Role == model.RolePatient {
			d.Answer.Requester.ID = ""
		}
		out.Disclosures = append(out.Disclosures, d)
		return true, nil
	})
	return out, err
}

// disclosureScope decides which organisation's budgets and disclosures the caller may read,
// and returns it ("" for all, when allowAll).
func (t *txn) disclosureScope(msp string, allowAll bool) (string, error) {
	switch t.caller.Role {
	case model.RoleManufacturer:
		if msp == "" {
			return t.caller.MSP, nil
		}
		if msp != t.caller.MSP {
			return "", model.Errorf(model.CodeForbidden, "a manufacturer sees only its own organisation's budgets and disclosures")
		}
	case model.RolePatient, model.RoleAnonymizer, model.RoleAdmin:
		if msp == "" && !allowAll {
			return "", model.Errorf(model.CodeInvalidArgument, "msp must name a manufacturer organisation")
		}
	default:
		return "", t.require(model.RolePatient, model.RoleManufacturer, model.RoleAnonymizer, model.RoleAdmin)
	}
	if msp != "" {
		if err := checkMSP("msp", msp); err != nil {
			return "", err
		}
	}
	return msp, nil
}
