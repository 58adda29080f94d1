package model

import (
	"math"
	"time"
)

// CodeBudgetExhausted: the manufacturer's privacy budget for the purpose cannot pay for the
// answer (or was never set). Nothing was written; the answer must not be released.
const CodeBudgetExhausted Code = "BUDGET_EXHAUSTED"

// Events of the feasibility transactions.
const (
	EventPrivacyBudgetChanged = "PrivacyBudgetChanged"
	EventFeasibilityAnswered  = "FeasibilityAnswered"
)

// Limits of budgets and answers.
const (
	MaxBudgetEpsilon  = 100.0
	MaxAnswerEpsilon  = 10.0
	MaxBudgetQueries  = 1_000_000
	MaxRounding       = 1000
	MaxThreshold      = 1000
	MaxFeasibleCount  = 1_000_000_000
	budgetEpsilonSlop = 1e-9
)

// PrivacyBudgetRequest is the argument of SetPrivacyBudget: what a manufacturer organisation
// may learn from feasibility counts for one research purpose, in total.
type PrivacyBudgetRequest struct {
	// MSP is the manufacturer's organisation. Budgets belong to organisations, not to their
	// staff, so that new identities cannot buy new budget.
	MSP     string `json:"msp"`
	Purpose string `json:"purpose"`
	// Epsilon is the total ε that differentially private answers may spend (0 to 100).
	Epsilon float64 `json:"epsilon"`
	// MaxQueries is how many answers of any kind may be given (1 to 1,000,000): rounded
	// counts without noise are charged no ε, so this is what bounds differencing attacks on
	// them.
	MaxQueries int `json:"maxQueries"`
}

// PrivacyBudget is a manufacturer organisation's budget for one purpose and what is spent.
type PrivacyBudget struct {
	MSP          string    `json:"msp"`
	Purpose      string    `json:"purpose"`
	Epsilon      float64   `json:"epsilon"`
	MaxQueries   int       `json:"maxQueries"`
	SpentEpsilon float64   `json:"spentEpsilon"`
	Queries      int       `json:"queries"`
	SetBy        Party     `json:"setBy"`
	UpdatedAt    time.Time `json:"updatedAt"`
	TxID         string    `json:"txId"`
}

// RemainingEpsilon is the ε still to spend, never negative.
func (b *PrivacyBudget) RemainingEpsilon() float64 { return math.Max(0, b.Epsilon-b.SpentEpsilon) }

// RemainingQueries is the number of answers still to give, never negative.
func (b *PrivacyBudget) RemainingQueries() int { return max(0, b.MaxQueries-b.Queries) }

// Affords reports whether the budget can pay for one more answer spending epsilon.
func (b *PrivacyBudget) Affords(epsilon float64) bool {
	return b.Queries < b.MaxQueries && b.SpentEpsilon+epsilon <= b.Epsilon+budgetEpsilonSlop
}

// FeasibilityAnswer is the argument of RecordFeasibility: one feasibility count, as it will
// be released to the manufacturer, recorded before it is released.
type FeasibilityAnswer struct {
	// ID is unique per answer (a UUID); a repeated ID is refused, so a retried submission
	// cannot be charged twice.
	ID string `json:"id"`
	// Requester is the manufacturer identity the anonymiser answers, as it authenticated it.
	Requester Party  `json:"requester"`
	Purpose   string `json:"purpose"`
	// QueryHash is the SHA-256 of the cohort definition's canonical JSON; the definition
	// itself stays with the manufacturer and the anonymiser.
	QueryHash string `json:"queryHash"`
	// ConsentSnapshotHash commits to the consents in force that the population was drawn
	// from, as for cohort publications.
	ConsentSnapshotHash string `json:"consentSnapshotHash"`
	// Count is the released count: rounded to a multiple of Rounding, after noise when
	// Epsilon is above 0; 0 when Withheld.
	Count    int  `json:"count"`
	Withheld bool `json:"withheld,omitempty" metadata:",optional"`
	// Rounding (1 to 1000) and Threshold (0 to 1000, counts below it are withheld) are the
	// disclosure control applied.
	Rounding  int `json:"rounding"`
	Threshold int `json:"threshold"`
	// Epsilon is the ε of the Laplace noise added (0: none, else up to 10); it is what the
	// answer costs the budget.
	Epsilon float64 `json:"epsilon,omitempty" metadata:",optional"`
}

// Disclosure is a recorded feasibility answer: what was disclosed, to which organisation,
// by whom, and the budget left after it.
type Disclosure struct {
	Answer     FeasibilityAnswer `json:"answer"`
	Answerer   Party             `json:"answerer"`
	RecordedAt time.Time         `json:"recordedAt"`
	TxID       string            `json:"txId"`
	// SpentEpsilon and Queries are the budget's totals after this answer.
	SpentEpsilon float64 `json:"spentEpsilon"`
	Queries      int     `json:"queries"`
}

// DisclosurePage is one page of the disclosure log.
type DisclosurePage struct {
	Disclosures []Disclosure `json:"disclosures"`
	Bookmark    string       `json:"bookmark,omitempty" metadata:",optional"`
}
