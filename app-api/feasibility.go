package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// CodeBudgetExhausted is the code of a feasibility query refused because the manufacturer's
// privacy budget for the purpose is used up or was never set (403). It is also the
// chaincode's code for the same refusal.
const CodeBudgetExhausted = string(model.CodeBudgetExhausted)

// ErrBudgetExhausted is what a FeasibilityCounter returns, wrapped, when the requester's
// budget cannot pay for the answer; nothing was recorded or released.
var ErrBudgetExhausted = errors.New("privacy budget exhausted")

// FeasibilityRequest asks how many patients whose research consent covers Purpose match a
// cohort definition (docs/cohort-criteria.md).
type FeasibilityRequest struct {
	Purpose string `json:"purpose"`
	// Criteria is the cohort definition.
	Criteria json.RawMessage `json:"criteria"`
	// Rounding (1 to 1000; default 10) rounds the count; Threshold (0 to 1000; default 20)
	// withholds rounded counts below it.
	Rounding  int  `json:"rounding,omitempty"`
	Threshold *int `json:"threshold,omitempty"`
	// Epsilon, above 0 (up to 10), adds Laplace noise and is charged to the budget.
	Epsilon float64 `json:"epsilon,omitempty"`
}

// FeasibilityQuery is a checked feasibility request with the manufacturer who asks it.
type FeasibilityQuery struct {
	Requester  model.Party
	Purpose    string
	Definition *criteria.Definition
	Rounding   int
	Threshold  *int
	Epsilon    float64
}

// FeasibilityAnswer is a released count, how it was protected, its record on the ledger and
// the budget left.
type FeasibilityAnswer struct {
	Count             int               `json:"count"`
	Withheld          bool              `json:"withheld"`
	Rounding          int               `json:"rounding"`
	Threshold         int               `json:"threshold"`
	Epsilon           float64           `json:"epsilon"`
	Mechanism         string            `json:"mechanism"`
	ReferenceDate     string            `json:"referenceDate"`
	QueryHash         string            `json:"queryHash"`
	IncomparableUnits []string          `json:"incomparableUnits,omitempty"`
	Disclosure        *model.Disclosure `json:"disclosure"`
	RemainingEpsilon  float64           `json:"remainingEpsilon"`
	RemainingQueries  int               `json:"remainingQueries"`
}

// FeasibilityCounter answers feasibility queries. The anonymiser implements it: it reads the
// consenting patients' records itself, records the answer on the ledger and only then
// returns it. Refusals of the budget wrap ErrBudgetExhausted.
type FeasibilityCounter interface {
	Feasibility(ctx context.Context, q FeasibilityQuery) (*FeasibilityAnswer, error)
}

var errNotManufacturer = &requestError{http.StatusForbidden, string(model.CodeForbidden), "only manufacturers ask feasibility counts"}

// feasibility answers a manufacturer's feasibility query.
func (s *server) feasibility(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Feasibility == nil {
		s.writeError(w, r, errNotImplemented)
		return
	}
	c := callerFrom(r.Context())
	if c.Role != model.RoleManufacturer {
		s.writeError(w, r, errNotManufacturer)
		return
	}
	var req FeasibilityRequest
	err := decodeJSON(w, r, &req)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		err = firstErr(
			checkField(slices.Contains(model.ResearchPurposes, req.Purpose), "purpose", "must be one of the research purposes"),
			checkField(len(req.Criteria) > 0, "criteria", "must be a cohort definition"),
			checkField(req.Rounding >= 0 && req.Rounding <= model.MaxRounding, "rounding", "must be from 1 to 1000 (0: the default, 10)"),
			checkField(req.Threshold == nil || (*req.Threshold >= 0 && *req.Threshold <= model.MaxThreshold), "threshold", "must be from 0 to 1000"),
			checkField(req.Epsilon >= 0 && req.Epsilon <= model.MaxAnswerEpsilon, "epsilon", "must be from 0 (no noise) to 10"),
		)
	}
	var def *criteria.Definition
	if err == nil {
		if def, err = criteria.Parse(req.Criteria); err != nil {
			var ce *criteria.Error
			if errors.As(err, &ce) && ce.Path != "" {
				err = invalid("field criteria.%s: %s", ce.Path, ce.Message)
			} else {
				err = invalid("field criteria: %v", err)
			}
		}
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	ans, err := s.cfg.Feasibility.Feasibility(r.Context(), FeasibilityQuery{
		Requester: model.Party{MSP: c.MSPID, ID: c.Pseudonym, Role: c.Role}, Purpose: req.Purpose,
		Definition: def, Rounding: req.Rounding, Threshold: req.Threshold, Epsilon: req.Epsilon,
	})
	s.reply(w, r, http.StatusOK, ans, err)
}

// privacyBudget returns a manufacturer organisation's budget for a purpose, as the ledger
// lets the caller see it.
func (s *server) privacyBudget(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"msp", "purpose"}, func(as *ledger.Client, q *params) (any, error) {
		msp, purpose := q.str("msp"), q.str("purpose")
		if q.err != nil {
			return nil, q.err
		}
		if err := firstErr(
			checkField(msp == "" || model.ValidMSPID(msp), "msp", "must be an MSP ID"),
			checkField(slices.Contains(model.ResearchPurposes, purpose), "purpose", "must be one of the research purposes"),
		); err != nil {
			return nil, err
		}
		return as.GetPrivacyBudget(r.Context(), msp, purpose)
	})
}

// prepareBudget prepares SetPrivacyBudget, which the trust centre's admin signs on their
// own device: a budget is a decision, not something a gateway may take for anyone.
func (s *server) prepareBudget(w http.ResponseWriter, r *http.Request) {
	var req model.PrivacyBudgetRequest
	err := decodeJSON(w, r, &req)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		err = firstErr(
			checkField(model.ValidMSPID(req.MSP), "msp", "must be an MSP ID"),
			checkField(slices.Contains(model.ResearchPurposes, req.Purpose), "purpose", "must be one of the research purposes"),
			checkField(req.Epsilon >= 0 && req.Epsilon <= model.MaxBudgetEpsilon, "epsilon", "must be from 0 to 100"),
			checkField(req.MaxQueries >= 1 && req.MaxQueries <= model.MaxBudgetQueries, "maxQueries", "must be from 1 to 1000000"),
		)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.prepare(w, r, "SetPrivacyBudget", mustJSON(req))
}

// disclosures lists the feasibility disclosure log, as the ledger lets the caller see it.
func (s *server) disclosures(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"msp", "pageSize", "bookmark"}, func(as *ledger.Client, q *params) (any, error) {
		msp, page := q.str("msp"), q.page()
		if q.err != nil {
			return nil, q.err
		}
		if msp != "" && !model.ValidMSPID(msp) {
			return nil, invalid("query parameter msp must be an MSP ID")
		}
		return as.ListDisclosures(r.Context(), msp, page)
	})
}
