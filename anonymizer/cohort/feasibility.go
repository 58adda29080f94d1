package cohort

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/google/differential-privacy/go/v3/noise"
	"github.com/google/uuid"
)

// Feasibility errors callers branch on.
var (
	// ErrBudgetExhausted: the requester's organisation has no privacy budget for the purpose,
	// or not enough for the answer. Nothing was recorded or released.
	ErrBudgetExhausted = errors.New("privacy budget exhausted")
	// ErrBadFeasibility: the request's disclosure-control parameters are out of range.
	ErrBadFeasibility = errors.New("invalid feasibility request")
)

// Default disclosure control of feasibility answers, as the MII feasibility portal answers:
// counts rounded to tens, and small counts withheld.
const (
	DefaultRounding  = 10
	DefaultThreshold = 20
)

// FeasibilityRequest asks how many consenting patients match a cohort definition.
type FeasibilityRequest struct {
	// ID names the answer on the ledger; a random UUID when empty.
	ID string
	// Requester is the manufacturer identity asking, as the caller authenticated it.
	Requester model.Party
	// Purpose is the research purpose; the population is the patients whose research consent
	// for it is in force now.
	Purpose    string
	Definition *criteria.Definition
	// Rounding (1 to 1000) rounds the count to its nearest multiple; 0 means
	// DefaultRounding.
	Rounding int
	// Threshold (0 to 1000) withholds rounded counts below it; nil means DefaultThreshold.
	Threshold *int
	// Epsilon, when above 0 (up to 10), adds Laplace noise for ε-differential privacy before
	// rounding, and is charged to the requester's budget.
	Epsilon float64
}

// FeasibilityAnswer is a released feasibility count and what it cost.
type FeasibilityAnswer struct {
	// Count is the released count; 0 when Withheld.
	Count    int  `json:"count"`
	Withheld bool `json:"withheld"`
	// Rounding, Threshold and Epsilon are the disclosure control applied; Mechanism names
	// it ("rounding" or "laplace+rounding").
	Rounding  int     `json:"rounding"`
	Threshold int     `json:"threshold"`
	Epsilon   float64 `json:"epsilon"`
	Mechanism string  `json:"mechanism"`
	// ReferenceDate is the day ages were computed at.
	ReferenceDate string `json:"referenceDate"`
	// QueryHash is the definition's hash, as recorded on the ledger.
	QueryHash string `json:"queryHash"`
	// IncomparableUnits lists lab units some results were in that could not be converted to
	// a criterion's unit (those results did not match), as "result unit→criterion unit";
	// left out when the count is withheld.
	IncomparableUnits []string `json:"incomparableUnits,omitempty"`
	// Disclosure is the ledger's record of the answer, with the budget spent after it.
	Disclosure *model.Disclosure `json:"disclosure"`
	// RemainingEpsilon and RemainingQueries are what the budget has left.
	RemainingEpsilon float64 `json:"remainingEpsilon"`
	RemainingQueries int     `json:"remainingQueries"`
}

// Noise adds noise for ε-differential privacy to a count to which each patient contributes at
// most one.
type Noise func(count int64, epsilon float64) (int64, error)

// laplace is the Google differential-privacy library's Laplace mechanism, drawing from a
// cryptographically secure source.
func laplace(count int64, epsilon float64) (int64, error) {
	return noise.Laplace().AddNoiseInt64(count, 1, 1, epsilon, 0)
}

// Feasibility answers feasibility counts: it reads the records of the patients whose research
// consent covers the purpose, as the anonymiser and through the gateway's policy enforcement
// point (so every read is authorised by consent and audited), counts those the definition
// matches, applies rounding, withholding and optional noise, records the answer and spends
// the budget on the ledger, and only then returns it. Consent withdrawn before a query keeps
// the patient out of it.
type Feasibility struct {
	svc     *gateway.Service
	anon    *ledger.Client
	log     *slog.Logger
	now     func() time.Time
	noise   Noise
	workers int
}

// FeasibilityOption configures a Feasibility.
type FeasibilityOption func(*Feasibility)

// WithClock sets where "today" comes from (the default reference date).
func WithClock(now func() time.Time) FeasibilityOption { return func(f *Feasibility) { f.now = now } }

// WithNoise replaces the Laplace mechanism, for tests that need known noise.
func WithNoise(n Noise) FeasibilityOption { return func(f *Feasibility) { f.noise = n } }

// WithConcurrency sets how many patients are read at once (default 16).
func WithConcurrency(n int) FeasibilityOption {
	return func(f *Feasibility) { f.workers = max(1, n) }
}

// WithLogger sets the logger; no personal data or pseudonyms are logged.
func WithLogger(l *slog.Logger) FeasibilityOption { return func(f *Feasibility) { f.log = l } }

// NewFeasibility returns a feasibility service reading and recording as the anonymiser
// identity anon.
func NewFeasibility(svc *gateway.Service, anon *ledger.Client, opts ...FeasibilityOption) *Feasibility {
	f := &Feasibility{svc: svc, anon: anon, log: slog.New(slog.DiscardHandler), now: time.Now, noise: laplace, workers: 16}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Count answers one feasibility request.
func (f *Feasibility) Count(ctx context.Context, req FeasibilityRequest) (*FeasibilityAnswer, error) {
	rounding, threshold, err := checkFeasibility(&req)
	if err != nil {
		return nil, err
	}
	// The hash on the ledger must name the question exactly, so a definition without a
	// reference date is recorded with the day it was answered for.
	def := *req.Definition
	q, err := criteria.Compile(&def, f.now())
	if err != nil {
		return nil, err
	}
	def.ReferenceDate = q.ReferenceDate().Format(time.DateOnly)
	if req.ID == "" {
		req.ID = uuid.NewString()
	}
	// Refuse early, before any record is read, when the budget cannot pay; the ledger checks
	// again when the answer is recorded.
	b, err := f.anon.GetPrivacyBudget(ctx, req.Requester.MSP, req.Purpose)
	switch {
	case errors.Is(err, &model.Error{Code: model.CodeNotFound}):
		return nil, fmt.Errorf("%w: %s has no privacy budget for %s", ErrBudgetExhausted, req.Requester.MSP, req.Purpose)
	case err != nil:
		return nil, fmt.Errorf("feasibility: read privacy budget: %w", err)
	case !b.Affords(req.Epsilon):
		return nil, fmt.Errorf("%w: %d of %d answers and ε %.4g of %.4g spent", ErrBudgetExhausted, b.Queries, b.MaxQueries, b.SpentEpsilon, b.Epsilon)
	}
	population, err := consenting(ctx, f.anon, req.Purpose)
	if err != nil {
		return nil, err
	}
	n, incomparable, err := f.evaluate(ctx, q, req.Purpose, population)
	if err != nil {
		return nil, err
	}
	ans := &FeasibilityAnswer{
		Rounding: rounding, Threshold: threshold, Epsilon: req.Epsilon, Mechanism: "rounding",
		ReferenceDate: def.ReferenceDate, QueryHash: def.Hash(),
	}
	released := int64(n)
	if req.Epsilon > 0 {
		ans.Mechanism = "laplace+rounding"
		if released, err = f.noise(released, req.Epsilon); err != nil {
			return nil, fmt.Errorf("feasibility: add noise: %w", err)
		}
	}
	ans.Count, ans.Withheld = Disclose(released, rounding, threshold)
	if !ans.Withheld {
		ans.IncomparableUnits = incomparable
	}
	rec := model.FeasibilityAnswer{
		ID: req.ID, Requester: req.Requester, Purpose: req.Purpose, QueryHash: ans.QueryHash,
		ConsentSnapshotHash: snapshotHash(req.Purpose, population),
		Count:               ans.Count, Withheld: ans.Withheld, Rounding: rounding, Threshold: threshold, Epsilon: req.Epsilon,
	}
	d, err := f.record(ctx, rec)
	if err != nil {
		return nil, err
	}
	ans.Disclosure = d
	spent := model.PrivacyBudget{Epsilon: b.Epsilon, MaxQueries: b.MaxQueries, SpentEpsilon: d.SpentEpsilon, Queries: d.Queries}
	ans.RemainingEpsilon, ans.RemainingQueries = spent.RemainingEpsilon(), spent.RemainingQueries()
	f.log.Info("feasibility answered", "answer", req.ID, "msp", req.Requester.MSP, "purpose", req.Purpose,
		"population", len(population), "withheld", ans.Withheld, "epsilon", req.Epsilon)
	return ans, nil
}

// record writes the answer on the ledger, retrying read conflicts with a concurrent answer
// of the same organisation (the answer's ID keeps a retry from being charged twice).
func (f *Feasibility) record(ctx context.Context, a model.FeasibilityAnswer) (*model.Disclosure, error) {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		var d *model.Disclosure
		d, err = f.anon.RecordFeasibility(ctx, a)
		var commitErr *ledger.CommitError
		switch {
		case err == nil:
			return d, nil
		case errors.Is(err, &model.Error{Code: model.CodeBudgetExhausted}):
			return nil, fmt.Errorf("%w: %w", ErrBudgetExhausted, err)
		case errors.As(err, &commitErr) && errors.Is(err, &model.Error{Code: model.CodeConflict}):
			continue
		}
		return nil, fmt.Errorf("feasibility: record the answer: %w", err)
	}
	return nil, fmt.Errorf("feasibility: record the answer: %w", err)
}

// categoriesFor lists the record categories a definition needs, so only those are read.
func categoriesFor(d *criteria.Definition) []string {
	var out []string
	add := func(c string) {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	cs := append(append([]criteria.Criterion{}, d.Include...), d.Exclude...)
	if d.Index != nil {
		cs = append(cs, *d.Index)
	}
	for _, c := range cs {
		cs = append(cs, c.AnyOf...)
	}
	for _, c := range cs {
		switch {
		case c.Condition != "":
			add("diagnosis")
		case c.Procedure != "":
			add("procedure")
		case c.Medication != "":
			add("medication")
		case c.Lab != nil:
			add("lab")
			add("vital-signs") // vital signs carry LOINC codes too
		case c.Age != nil, c.Sex != nil:
			add(demographicsCategory)
		}
	}
	slices.Sort(out)
	return out
}

// demographicsCategory is where gateway/fhir files Patient resources.
var demographicsCategory = func() string {
	r, err := fhir.Describe([]byte(`{"resourceType":"Patient"}`))
	if err != nil {
		return "note"
	}
	return r.Category
}()

// evaluate reads each consenting patient's records of the needed categories and counts the
// matches, f.workers patients at a time (reads are latency-bound: the ledger's decision and
// the durable audit entry of each read). A patient whose consent lapsed or who was erased
// since the listing is left out.
func (f *Feasibility) evaluate(ctx context.Context, q *criteria.Query, purpose string, population []model.ConsentingPatient) (int, []string, error) {
	cats := categoriesFor(q.Definition())
	var (
		mu           sync.Mutex
		matched      int
		incomparable []string
	)
	err := fanOut(ctx, len(population), f.workers, func(ctx context.Context, i int) error {
		out, err := f.evaluateOne(ctx, q, cats, purpose, population[i].Patient)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if out.Match {
			matched++
		}
		for _, u := range out.Incomparable {
			if !slices.Contains(incomparable, u) {
				incomparable = append(incomparable, u)
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	slices.Sort(incomparable)
	return matched, incomparable, nil
}

// evaluateOne reads one patient's records and evaluates the query; a patient whose consent
// lapsed or who was erased since the listing does not match.
func (f *Feasibility) evaluateOne(ctx context.Context, q *criteria.Query, cats []string, purpose, patient string) (criteria.Outcome, error) {
	var data [][]byte
	defer func() {
		for _, d := range data {
			clear(d)
		}
	}()
	for _, cat := range cats {
		page := ledger.Page{Size: 100}
		for {
			rels, next, err := f.svc.ReadHistory(ctx, f.anon, patient, cat, purpose, page)
			if errors.Is(err, gateway.ErrNoResearchConsent) || errors.Is(err, gateway.ErrErased) {
				return criteria.Outcome{}, nil
			}
			if err != nil {
				return criteria.Outcome{}, fmt.Errorf("feasibility: read consenting patient's records: %w", err)
			}
			for _, r := range rels {
				if r.MediaType == fhir.MediaType {
					data = append(data, r.Data)
				}
			}
			if next == "" {
				break
			}
			page.Bookmark = next
		}
	}
	p := criteria.FromFHIR(data)
	return q.Evaluate(&p), nil
}

// Disclose applies rounding and withholding to a (possibly noisy) count: negative counts
// become 0, the count is rounded to the nearest multiple of rounding (halves up), and a
// rounded count below threshold is withheld (returned as 0).
func Disclose(count int64, rounding, threshold int) (released int, withheld bool) {
	if count < 0 {
		count = 0
	}
	r := int64(rounding)
	rounded := (count + r/2) / r * r
	if rounded < int64(threshold) {
		return 0, true
	}
	return int(rounded), false
}

func checkFeasibility(req *FeasibilityRequest) (rounding, threshold int, err error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrBadFeasibility}, args...)...)
	}
	rounding, threshold = req.Rounding, DefaultThreshold
	if rounding == 0 {
		rounding = DefaultRounding
	}
	if req.Threshold != nil {
		threshold = *req.Threshold
	}
	switch {
	case req.Definition == nil:
		return 0, 0, bad("no cohort definition")
	case !slices.Contains(model.ResearchPurposes, req.Purpose):
		return 0, 0, bad("purpose %q is not a research purpose", req.Purpose)
	case req.Requester.Role != model.RoleManufacturer || !model.ValidMSPID(req.Requester.MSP) || !model.ValidPseudonym(req.Requester.ID):
		return 0, 0, bad("the requester must be a manufacturer identity")
	case rounding < 1 || rounding > model.MaxRounding:
		return 0, 0, bad("rounding must be from 1 to %d", model.MaxRounding)
	case threshold < 0 || threshold > model.MaxThreshold:
		return 0, 0, bad("threshold must be from 0 to %d", model.MaxThreshold)
	case math.IsNaN(req.Epsilon) || req.Epsilon < 0 || req.Epsilon > model.MaxAnswerEpsilon:
		return 0, 0, bad("epsilon must be 0 (no noise) or up to %v", model.MaxAnswerEpsilon)
	case req.ID != "" && !model.ValidID(req.ID):
		return 0, 0, bad("id must be 1-128 letters, digits, '.', '_' or '-'")
	}
	return rounding, threshold, nil
}
