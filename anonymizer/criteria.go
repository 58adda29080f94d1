package anonymizer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
)

// Criterion is a privacy model a transformed table must satisfy. The
// implementations are the constructors below; the interface is closed
// because the search relies on each model's monotonicity properties.
type Criterion interface {
	fmt.Stringer
	// sensitiveAttribute names the attribute the model protects, or "".
	sensitiveAttribute() string
	// monotonic reports whether a generalisation of a transformation that
	// satisfies the model satisfies it too, which lets the search prune.
	monotonic(withSuppression bool) bool
	// validate checks the model's parameters.
	validate() error
	// minRecords is the fewest records a release that satisfies the model
	// can hold, unless it holds none.
	minRecords() int
	bind(e *encoded, sens int) (checker, error)
}

// sensCount is one sensitive value's frequency within a class.
type sensCount struct {
	code int32
	n    int32
}

// checker is a criterion bound to one encoded table.
type checker interface {
	// classOK decides an equivalence class; records of failing classes are
	// suppressed. hist is the class's distribution of the criterion's
	// sensitive attribute (nil when it has none).
	classOK(size int, hist []sensCount) bool
	// minSuppressed is called for a class that fails classOK. It returns a
	// lower bound on how many of the class's records every specialisation
	// of the transformation (this one included) suppresses for this model
	// alone, whichever way the class splits into subclasses. The search
	// prunes by these bounds where the models are not monotone.
	minSuppressed(size int, hist []sensCount) int
}

// datasetChecker is implemented by criteria decided on the whole released
// table rather than class by class.
type datasetChecker interface {
	datasetOK(records, classes int) bool
}

type kAnonymity struct{ k int }

// KAnonymity requires every released equivalence class to hold at least k
// records.
func KAnonymity(k int) Criterion { return kAnonymity{k} }

func (c kAnonymity) String() string                       { return "k-anonymity(k=" + strconv.Itoa(c.k) + ")" }
func (c kAnonymity) sensitiveAttribute() string           { return "" }
func (c kAnonymity) monotonic(bool) bool                  { return true }
func (c kAnonymity) classOK(size int, _ []sensCount) bool { return size >= c.k }

// A class smaller than k splits only into classes smaller than k.
func (c kAnonymity) minSuppressed(size int, _ []sensCount) int { return size }
func (c kAnonymity) minRecords() int                           { return c.k }
func (c kAnonymity) validate() error {
	if c.k < 1 {
		return fmt.Errorf("k-anonymity: k=%d, want at least 1: %w", c.k, ErrMalformedInput)
	}
	return nil
}
func (c kAnonymity) bind(*encoded, int) (checker, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

type highestRisk struct{ threshold float64 }

// HighestRisk bounds every record's prosecutor re-identification risk
// (1/class size) by threshold, which is k-anonymity with k = ⌈1/threshold⌉.
func HighestRisk(threshold float64) Criterion { return highestRisk{threshold} }

func (c highestRisk) String() string             { return "highest-risk(" + fmtNum(c.threshold) + ")" }
func (c highestRisk) sensitiveAttribute() string { return "" }
func (c highestRisk) monotonic(bool) bool        { return true }
func (c highestRisk) k() int                     { return int(math.Ceil(1/c.threshold - 1e-9)) }
func (c highestRisk) minRecords() int            { return c.k() }
func (c highestRisk) validate() error {
	if !(c.threshold > 0 && c.threshold <= 1) {
		return fmt.Errorf("highest risk: threshold %v outside (0,1]: %w", c.threshold, ErrMalformedInput)
	}
	return nil
}
func (c highestRisk) bind(*encoded, int) (checker, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return kAnonymity{c.k()}, nil
}

type averageRisk struct{ threshold float64 }

// AverageRisk bounds the average prosecutor re-identification risk of the
// released records (classes / records) by threshold.
func AverageRisk(threshold float64) Criterion { return averageRisk{threshold} }

func (c averageRisk) String() string             { return "average-risk(" + fmtNum(c.threshold) + ")" }
func (c averageRisk) sensitiveAttribute() string { return "" }

// Merging classes only lowers classes/records, but with suppression a
// generalisation can bring back small classes, so monotone only without.
func (c averageRisk) monotonic(sup bool) bool       { return !sup }
func (c averageRisk) classOK(int, []sensCount) bool { return true }

// Never called: no class fails average risk.
func (c averageRisk) minSuppressed(int, []sensCount) int { return 0 }
func (c averageRisk) datasetOK(records, classes int) bool {
	return records == 0 || float64(classes)/float64(records) <= c.threshold+1e-12
}

// One class of r records has the least risk, 1/r.
func (c averageRisk) minRecords() int { return int(math.Ceil(1/c.threshold - 1e-9)) }
func (c averageRisk) validate() error {
	if !(c.threshold > 0 && c.threshold <= 1) {
		return fmt.Errorf("average risk: threshold %v outside (0,1]: %w", c.threshold, ErrMalformedInput)
	}
	return nil
}
func (c averageRisk) bind(*encoded, int) (checker, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// lVariant selects the l-diversity definition.
type lVariant int

const (
	lDistinct lVariant = iota
	lEntropy
	lRecursive
)

type lDiversity struct {
	attr    string
	variant lVariant
	l       float64
	c       float64
}

// DistinctLDiversity requires at least l distinct values of attr in every
// class.
func DistinctLDiversity(attr string, l int) Criterion {
	return lDiversity{attr: attr, variant: lDistinct, l: float64(l)}
}

// EntropyLDiversity requires the entropy of attr in every class to be at
// least log(l).
func EntropyLDiversity(attr string, l float64) Criterion {
	return lDiversity{attr: attr, variant: lEntropy, l: l}
}

// RecursiveCLDiversity requires, with r1 ≥ r2 ≥ … the value frequencies of
// attr in a class, r1 < c·(r_l + … + r_m).
func RecursiveCLDiversity(attr string, c float64, l int) Criterion {
	return lDiversity{attr: attr, variant: lRecursive, l: float64(l), c: c}
}

func (c lDiversity) String() string {
	switch c.variant {
	case lEntropy:
		return fmt.Sprintf("entropy-l-diversity(%s, l=%s)", c.attr, fmtNum(c.l))
	case lRecursive:
		return fmt.Sprintf("recursive-(c,l)-diversity(%s, c=%s, l=%s)", c.attr, fmtNum(c.c), fmtNum(c.l))
	}
	return fmt.Sprintf("distinct-l-diversity(%s, l=%s)", c.attr, fmtNum(c.l))
}
func (c lDiversity) sensitiveAttribute() string { return c.attr }

// Distinct l-diversity survives merging a passing with a failing class;
// entropy and recursive l-diversity do not, so with suppression (where
// failing classes exist) they are not monotone.
func (c lDiversity) monotonic(sup bool) bool { return c.variant == lDistinct || !sup }

func (c lDiversity) validate() error {
	if c.attr == "" {
		return fmt.Errorf("%s: no sensitive attribute: %w", c, ErrMalformedInput)
	}
	if !(c.l >= 1 && c.l <= math.MaxInt32) {
		return fmt.Errorf("%s: l outside [1, 2³¹): %w", c, ErrMalformedInput)
	}
	if c.variant == lRecursive && !(c.c > 0 && !math.IsInf(c.c, 1)) {
		return fmt.Errorf("%s: c must be positive and finite: %w", c, ErrMalformedInput)
	}
	return nil
}

// Every variant needs l distinct values (entropy: the entropy of m values
// is at most log m).
func (c lDiversity) minRecords() int { return int(math.Ceil(c.l - 1e-9)) }

func (c lDiversity) bind(*encoded, int) (checker, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// A class with fewer than l distinct values splits only into such classes.
// For entropy and recursive (c,l)-diversity a union of passing classes
// passes (what makes them monotone without suppression), so a failing class
// keeps at least one failing subclass, of at least one record.
func (c lDiversity) minSuppressed(size int, _ []sensCount) int {
	if c.variant == lDistinct {
		return size
	}
	return 1
}

func (c lDiversity) classOK(size int, hist []sensCount) bool {
	switch c.variant {
	case lDistinct:
		return float64(len(hist)) >= c.l
	case lEntropy:
		var h float64
		n := float64(size)
		for _, s := range hist {
			p := float64(s.n) / n
			h -= p * math.Log(p)
		}
		return h >= math.Log(c.l)-1e-12
	default:
		l := int(c.l)
		if len(hist) < l {
			return false
		}
		f := make([]int32, len(hist))
		for i, s := range hist {
			f[i] = s.n
		}
		slices.Sort(f)
		slices.Reverse(f)
		var tail float64
		for _, x := range f[l-1:] {
			tail += float64(x)
		}
		return float64(f[0]) < c.c*tail
	}
}

// tDistance selects the ground distance of t-closeness.
type tDistance int

const (
	tEqual tDistance = iota
	tOrdered
	tHierarchical
)

type tCloseness struct {
	attr string
	t    float64
	dist tDistance
	h    *Hierarchy
}

// EqualDistanceTCloseness bounds the earth mover's distance between the
// distribution of attr in each class and in the whole table by t, every two
// distinct values being at distance 1 (categorical attributes).
func EqualDistanceTCloseness(attr string, t float64) Criterion {
	return tCloseness{attr: attr, t: t, dist: tEqual}
}

// OrderedDistanceTCloseness is t-closeness for numeric attributes: values are
// ordered numerically and neighbours are 1/(m-1) apart.
func OrderedDistanceTCloseness(attr string, t float64) Criterion {
	return tCloseness{attr: attr, t: t, dist: tOrdered}
}

// HierarchicalDistanceTCloseness is t-closeness with the hierarchical ground
// distance of Li et al.: two values are as far apart as the level of their
// lowest common ancestor in h divided by h's height.
func HierarchicalDistanceTCloseness(attr string, t float64, h *Hierarchy) Criterion {
	return tCloseness{attr: attr, t: t, dist: tHierarchical, h: h}
}

func (c tCloseness) String() string {
	d := [...]string{"equal", "ordered", "hierarchical"}[c.dist]
	return fmt.Sprintf("t-closeness(%s, t=%s, %s distance)", c.attr, fmtNum(c.t), d)
}
func (c tCloseness) sensitiveAttribute() string { return c.attr }

// The EMD to a fixed distribution is convex, so a union of close classes is
// close; a union with a failing (suppressed) class need not be.
func (c tCloseness) monotonic(sup bool) bool { return !sup }

type tChecker struct {
	t     float64
	dist  tDistance
	q     []float64 // global distribution by code
	order []int     // ordered: position of each code
	// hierarchical: parent[level][node] for levels 1..H, node ids per level;
	// leafNode maps codes to level-1 nodes.
	height int
	parent [][]int32
	leaf   []int32
	p      []float64
	extra  [][]float64
}

func (c tCloseness) minRecords() int { return 1 }
func (c tCloseness) validate() error {
	if c.attr == "" {
		return fmt.Errorf("%s: no sensitive attribute: %w", c, ErrMalformedInput)
	}
	if !(c.t >= 0 && c.t <= 1) {
		return fmt.Errorf("%s: t outside [0,1]: %w", c, ErrMalformedInput)
	}
	if c.dist == tHierarchical && c.h == nil {
		return fmt.Errorf("%s: no hierarchy: %w", c, ErrMissingHierarchy)
	}
	return nil
}

func (c tCloseness) bind(e *encoded, si int) (checker, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := e.sens[si]
	col := e.t.cols[s.col]
	k := &tChecker{t: c.t, dist: c.dist, q: make([]float64, len(col.dict)), p: make([]float64, len(col.dict))}
	for _, code := range col.codes {
		k.q[code]++
	}
	for i := range k.q {
		k.q[i] /= float64(e.n)
	}
	switch c.dist {
	case tOrdered:
		vals := make([]float64, len(col.dict))
		idx := make([]int, len(col.dict))
		for i, v := range col.dict {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				row := slices.Index(col.codes, int32(i))
				return nil, rowErr("table", row+2, "%s: value %q is not numeric", c, v)
			}
			vals[i], idx[i] = f, i
		}
		slices.SortFunc(idx, func(a, b int) int { return cmpFloat(vals[a], vals[b]) })
		k.order = idx
	case tHierarchical:
		k.height = c.h.Height()
		k.leaf = make([]int32, len(col.dict))
		k.parent = make([][]int32, k.height+1)
		ids := make([]map[string]int32, k.height+1)
		for l := range ids {
			ids[l] = map[string]int32{}
		}
		id := func(l int, label string) int32 {
			x, ok := ids[l][label]
			if !ok {
				x = int32(len(ids[l]))
				ids[l][label] = x
				k.parent[l] = append(k.parent[l], -1)
			}
			return x
		}
		for code, v := range col.dict {
			hr, ok := c.h.index[v]
			if !ok {
				row := slices.Index(col.codes, int32(code))
				return nil, rowErr("table", row+2, "%s: value %q not in hierarchy", c, v)
			}
			r := c.h.rows[hr]
			if k.height == 0 {
				continue
			}
			k.leaf[code] = id(1, r[1])
			for l := 1; l < k.height; l++ {
				k.parent[l][id(l, r[l])] = id(l+1, r[l+1])
			}
		}
		k.extra = make([][]float64, k.height+1)
		for l := 1; l <= k.height; l++ {
			k.extra[l] = make([]float64, len(k.parent[l]))
		}
	}
	return k, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (k *tChecker) classOK(size int, hist []sensCount) bool {
	return k.emd(size, hist) <= k.t+1e-12
}

// minSuppressed bounds the records of a failing class that any
// specialisation suppresses. Released subclasses are each t-close, so their
// union is (the distance is convex): the suppressed records are at least
// what must be removed from the class to leave a t-close rest. For equal
// distance that is exact: a rest of r records can be t-close iff
// Σ_v max(0, q_v − c_v/r) ≤ t (fill each value up to its share r·q_v, the
// shortfall is the distance), which only falls as r shrinks, so the largest
// such r is found by bisection. For the other distances a failing class
// keeps at least one failing subclass.
func (k *tChecker) minSuppressed(size int, hist []sensCount) int {
	if k.dist != tEqual {
		return 1
	}
	// Values absent from the class are short by their whole share.
	absent := 1.0
	for _, s := range hist {
		absent -= k.q[s.code]
	}
	// The tolerance is looser than classOK's, so that rounding can only
	// make the bound smaller.
	tol := k.t + 1e-9
	short := func(r int) float64 {
		d := absent
		for _, s := range hist {
			if x := k.q[s.code] - float64(s.n)/float64(r); x > 0 {
				d += x
			}
		}
		return d
	}
	if short(1) > tol {
		return size
	}
	lo, hi := 1, size // short(lo) ≤ tol; short(hi) > tol or hi == size
	if short(size) <= tol {
		return 0
	}
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if short(mid) <= tol {
			lo = mid
		} else {
			hi = mid
		}
	}
	return size - lo
}

// emd returns the earth mover's distance between a class distribution and
// the table's.
func (k *tChecker) emd(size int, hist []sensCount) float64 {
	if k.dist == tEqual {
		// Half the L1 distance is the mass the class has in excess,
		// Σ max(0, p_v − q_v), and only values present in the class can
		// be in excess: a pass over the class's values, not the domain.
		var d float64
		for _, s := range hist {
			if x := float64(s.n)/float64(size) - k.q[s.code]; x > 0 {
				d += x
			}
		}
		return d
	}
	clear(k.p)
	for _, s := range hist {
		k.p[s.code] = float64(s.n) / float64(size)
	}
	switch k.dist {
	case tOrdered:
		m := len(k.order)
		if m < 2 {
			return 0
		}
		var cum, d float64
		for _, code := range k.order {
			cum += k.p[code] - k.q[code]
			d += math.Abs(cum)
		}
		return d / float64(m-1)
	default: // hierarchical
		if k.height == 0 {
			return 0
		}
		// Li et al.: each internal node at level l moves
		// min(positive, negative extra of its children) over distance l/H.
		var d float64
		pos := make([][]float64, k.height+1)
		neg := make([][]float64, k.height+1)
		for l := 1; l <= k.height; l++ {
			clear(k.extra[l])
			pos[l] = make([]float64, len(k.extra[l]))
			neg[l] = make([]float64, len(k.extra[l]))
		}
		for code := range k.p {
			x := k.p[code] - k.q[code]
			n := k.leaf[code]
			k.extra[1][n] += x
			if x > 0 {
				pos[1][n] += x
			} else {
				neg[1][n] -= x
			}
		}
		for l := 1; l <= k.height; l++ {
			for n, x := range k.extra[l] {
				d += float64(l) / float64(k.height) * math.Min(pos[l][n], neg[l][n])
				if l < k.height {
					p := k.parent[l][n]
					k.extra[l+1][p] += x
					if x > 0 {
						pos[l+1][p] += x
					} else {
						neg[l+1][p] -= x
					}
				}
			}
		}
		return d
	}
}
