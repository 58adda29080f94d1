package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/careledger/careledger/chaincode/model"
)

// FeasibilityRequest asks how many patients consenting to Purpose match a cohort definition
// (docs/cohort-criteria.md). Rounding 0 means 10; a nil Threshold means 20; Epsilon above 0
// adds Laplace noise and is charged to the organisation's privacy budget.
type FeasibilityRequest struct {
	Purpose   string          `json:"purpose"`
	Criteria  json.RawMessage `json:"criteria"`
	Rounding  int             `json:"rounding,omitempty"`
	Threshold *int            `json:"threshold,omitempty"`
	Epsilon   float64         `json:"epsilon,omitempty"`
}

// FeasibilityAnswer is a released count, how it was protected, its ledger record and the
// budget left.
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

// Feasibility asks a feasibility count (manufacturers only). An exhausted budget is an
// *Error with the code BUDGET_EXHAUSTED.
func (c *Client) Feasibility(ctx context.Context, req FeasibilityRequest) (*FeasibilityAnswer, error) {
	var out FeasibilityAnswer
	if err := c.call(ctx, http.MethodPost, "/v1/feasibility", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PrivacyBudget returns a manufacturer organisation's budget for a purpose ("" for the
// caller's own organisation).
func (c *Client) PrivacyBudget(ctx context.Context, msp, purpose string) (*model.PrivacyBudget, error) {
	q := url.Values{"purpose": {purpose}}
	if msp != "" {
		q.Set("msp", msp)
	}
	return get[model.PrivacyBudget](ctx, c, "/v1/privacy-budget", q)
}

// Disclosures lists the feasibility disclosure log ("" for all the caller may see).
func (c *Client) Disclosures(ctx context.Context, msp string, p Page) (*model.DisclosurePage, error) {
	return get[model.DisclosurePage](ctx, c, "/v1/disclosures", listQuery(p, "msp", msp))
}

// SetPrivacyBudget sets a manufacturer organisation's privacy budget for a purpose, signed on
// this device; the ledger accepts it only from the trust centre's admin.
func (c *Client) SetPrivacyBudget(ctx context.Context, req model.PrivacyBudgetRequest) (*model.PrivacyBudget, *Receipt, error) {
	a, err := argJSON(req)
	if err != nil {
		return nil, nil, err
	}
	return decodeResult[model.PrivacyBudget](c.selfSigned(ctx, http.MethodPut, "/v1/privacy-budget", req, "SetPrivacyBudget", a))
}
