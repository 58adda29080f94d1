package anonymizer

import (
	crand "crypto/rand"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"

	"github.com/google/differential-privacy/go/v3/noise"
)

// DPQuery is a differentially private count of records by dimensions.
type DPQuery struct {
	// Dimensions are the columns to count by.
	Dimensions []string
	// Domains lists, for every dimension, the public set of values released
	// (e.g. age bands, sexes, postal areas, ICD-10 chapters). Partitions come
	// from these lists, never from the data, so which cells exist reveals
	// nothing; records with other values are not counted.
	Domains map[string][]string
	// PersonColumn identifies the privacy unit (the patient). Contributions
	// are bounded per value of this column.
	PersonColumn string
	// Epsilon is the privacy loss charged to the requester (> 0).
	Epsilon float64
	// MaxPartitionsContributed bounds the cells one person may count in
	// (L0, default 1); extra partitions are dropped at random.
	MaxPartitionsContributed int64
	// MaxContributionsPerPartition bounds one person's records counted in one
	// cell (L∞, default 1).
	MaxContributionsPerPartition int64
}

// DPCell is one noisy count. Counts are non-negative: negative noisy values
// are clamped, which is post-processing and costs no privacy.
type DPCell struct {
	Values []string `json:"values"`
	Count  int64    `json:"count"`
}

// DPRelease is the answer to a DPQuery.
type DPRelease struct {
	Dimensions []string `json:"dimensions"`
	Epsilon    float64  `json:"epsilon"`
	// NoiseScale is the Laplace scale b = L0·L∞/ε of each count.
	NoiseScale float64  `json:"noise_scale"`
	Cells      []DPCell `json:"cells"`
}

// Accountant enforces a per-requester privacy budget (sequential
// composition: the ε of every answered query adds up). It is safe for
// concurrent use; persist Spent figures elsewhere and restore them with
// NewAccountant so budgets survive restarts.
type Accountant struct {
	mu     sync.Mutex
	budget float64
	spent  map[string]float64
}

// NewAccountant returns an accountant granting each requester a total of
// budget ε, starting from previously spent amounts (may be nil).
func NewAccountant(budget float64, spent map[string]float64) (*Accountant, error) {
	if !(budget > 0) || math.IsInf(budget, 0) {
		return nil, fmt.Errorf("new accountant: budget %v: %w", budget, ErrMalformedInput)
	}
	a := &Accountant{budget: budget, spent: map[string]float64{}}
	for k, v := range spent {
		a.spent[k] = v
	}
	return a, nil
}

// Spent returns the ε a requester has used.
func (a *Accountant) Spent(requester string) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.spent[requester]
}

// Remaining returns the ε a requester may still use.
func (a *Accountant) Remaining(requester string) float64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return math.Max(0, a.budget-a.spent[requester])
}

func (a *Accountant) charge(requester string, eps float64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.spent[requester]+eps > a.budget+1e-12 {
		return fmt.Errorf("charge %q ε=%v (spent %v of %v): %w", requester, eps, a.spent[requester], a.budget, ErrBudgetExhausted)
	}
	a.spent[requester] += eps
	return nil
}

func (a *Accountant) refund(requester string, eps float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.spent[requester] -= eps
}

// Counts answers q on t for requester with Laplace noise, charging q.Epsilon
// to the requester's budget first. A refused or invalid query costs nothing.
func (a *Accountant) Counts(t *Table, requester string, q DPQuery) (*DPRelease, error) {
	if requester == "" {
		return nil, fmt.Errorf("dp counts: no requester: %w", ErrMalformedInput)
	}
	if !(q.Epsilon > 0) || math.IsInf(q.Epsilon, 0) {
		return nil, fmt.Errorf("dp counts: epsilon %v: %w", q.Epsilon, ErrMalformedInput)
	}
	l0, linf := q.MaxPartitionsContributed, q.MaxContributionsPerPartition
	if l0 == 0 {
		l0 = 1
	}
	if linf == 0 {
		linf = 1
	}
	if l0 < 0 || linf < 0 {
		return nil, fmt.Errorf("dp counts: negative contribution bound: %w", ErrMalformedInput)
	}
	if len(q.Dimensions) == 0 {
		return nil, fmt.Errorf("dp counts: no dimensions: %w", ErrMalformedInput)
	}
	person, err := t.col(q.PersonColumn)
	if err != nil {
		return nil, fmt.Errorf("dp counts: person column: %w", err)
	}
	cols := make([]*column, len(q.Dimensions))
	// pos maps a dimension's value code to its index in the public domain
	// (-1: outside, not counted).
	pos := make([][]int, len(q.Dimensions))
	shape := make([]int, len(q.Dimensions))
	size := 1
	for i, d := range q.Dimensions {
		c, err := t.col(d)
		if err != nil {
			return nil, fmt.Errorf("dp counts: %w", err)
		}
		dom := q.Domains[d]
		if len(dom) == 0 {
			return nil, fmt.Errorf("dp counts: no public domain for %q: %w", d, ErrMalformedInput)
		}
		cols[i], shape[i] = c, len(dom)
		size *= len(dom)
		if size > maxCells {
			return nil, fmt.Errorf("dp counts: more than %d cells: %w", maxCells, ErrMalformedInput)
		}
		pos[i] = make([]int, len(c.dict))
		for code, v := range c.dict {
			pos[i][code] = slices.Index(dom, v)
		}
	}
	if err := a.charge(requester, q.Epsilon); err != nil {
		return nil, fmt.Errorf("dp counts: %w", err)
	}
	rel, err := dpCounts(t, q, person, cols, pos, shape, size, l0, linf)
	if err != nil {
		// Nothing was released, so nothing was spent.
		a.refund(requester, q.Epsilon)
		return nil, err
	}
	return rel, nil
}

func dpCounts(t *Table, q DPQuery, person *column, cols []*column, pos [][]int, shape []int, size int, l0, linf int64) (*DPRelease, error) {
	// Per person: the cells they appear in and how often.
	type contrib struct {
		cell int
		n    int64
	}
	byPerson := make([][]contrib, len(person.dict))
	for r := 0; r < t.rows; r++ {
		cell := 0
		in := true
		for i, c := range cols {
			p := pos[i][c.codes[r]]
			if p < 0 {
				in = false
				break
			}
			cell = cell*shape[i] + p
		}
		if !in {
			continue
		}
		pc := &byPerson[person.codes[r]]
		if j := slices.IndexFunc(*pc, func(c contrib) bool { return c.cell == cell }); j >= 0 {
			(*pc)[j].n++
		} else {
			*pc = append(*pc, contrib{cell, 1})
		}
	}
	var seed [32]byte
	if _, err := crand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("dp counts: seed: %w", err)
	}
	rng := rand.New(rand.NewChaCha8(seed))
	sums := make([]int64, size)
	for _, pc := range byPerson {
		if int64(len(pc)) > l0 {
			rng.Shuffle(len(pc), func(i, j int) { pc[i], pc[j] = pc[j], pc[i] })
			pc = pc[:l0]
		}
		for _, c := range pc {
			sums[c.cell] += min(c.n, linf)
		}
	}
	rel := &DPRelease{Dimensions: slices.Clone(q.Dimensions), Epsilon: q.Epsilon, NoiseScale: float64(l0*linf) / q.Epsilon}
	// One Laplace mechanism for all cells: the library's secure, discrete
	// Laplace noise calibrated to L0·L∞/ε, as its BoundedSum would apply to
	// each partition, without building an aggregator per cell. Drawing
	// secure noise dominates, so cells are shared among cores.
	lap := noise.Laplace()
	rel.Cells = make([]DPCell, size)
	workers := min(runtime.GOMAXPROCS(0), max(1, size/4096))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			coord := make([]int, len(shape))
			for cell := w; cell < size; cell += workers {
				v, err := lap.AddNoiseInt64(sums[cell], l0, linf, q.Epsilon, 0)
				if err != nil {
					errs[w] = err
					return
				}
				rem := cell
				for j := len(shape) - 1; j >= 0; j-- {
					coord[j] = rem % shape[j]
					rem /= shape[j]
				}
				vals := make([]string, len(shape))
				for j, d := range q.Dimensions {
					vals[j] = q.Domains[d][coord[j]]
				}
				rel.Cells[cell] = DPCell{Values: vals, Count: max(v, 0)}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("dp counts: %w", err)
	}
	return rel, nil
}
