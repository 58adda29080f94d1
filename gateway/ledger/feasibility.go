package ledger

import (
	"context"

	"github.com/careledger/careledger/chaincode/model"
)

// SetPrivacyBudget sets a manufacturer organisation's privacy budget for a purpose (the trust
// centre's admin, with their own key).
func (c *Client) SetPrivacyBudget(ctx context.Context, r model.PrivacyBudgetRequest) (*model.PrivacyBudget, error) {
	return invoke[model.PrivacyBudget](ctx, c, "SetPrivacyBudget", arg(r))
}

// RecordFeasibility records a feasibility answer and spends its budget (anonymiser only);
// BUDGET_EXHAUSTED means nothing was recorded and the answer must not be released.
func (c *Client) RecordFeasibility(ctx context.Context, a model.FeasibilityAnswer) (*model.Disclosure, error) {
	return invoke[model.Disclosure](ctx, c, "RecordFeasibility", arg(a))
}

// GetPrivacyBudget returns a manufacturer organisation's budget for a purpose ("" for the
// caller's organisation).
func (c *Client) GetPrivacyBudget(ctx context.Context, msp, purpose string) (*model.PrivacyBudget, error) {
	return query[model.PrivacyBudget](ctx, c, "GetPrivacyBudget", msp, purpose)
}

// ListDisclosures lists recorded feasibility answers of one organisation ("" for all, or for
// a manufacturer its own).
func (c *Client) ListDisclosures(ctx context.Context, msp string, p Page) (*model.DisclosurePage, error) {
	return query[model.DisclosurePage](ctx, c, "ListDisclosures", append([]string{msp}, p.args()...)...)
}
