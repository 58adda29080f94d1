package anonymizer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Config says how to anonymise a table.
type Config struct {
	// Hierarchies maps each quasi-identifier to its hierarchy. Entries for
	// other attributes are unused: the table's attribute types decide, so an
	// attribute is never both quasi-identifying and sensitive.
	Hierarchies map[string]*Hierarchy
	// Criteria are the privacy models; all must hold.
	Criteria []Criterion
	// SuppressionLimit is the largest share of records (0..1) that may be
	// suppressed to satisfy the models.
	SuppressionLimit float64
	// Metric is the utility metric the search minimises.
	Metric Metric
	// Search selects pruned (default) or exhaustive search.
	Search SearchMode
	// Workers bounds the goroutines of the exhaustive search (0: GOMAXPROCS).
	Workers int
	// RiskThreshold is the per-record risk counted as "at risk" in the
	// report (0: 0.2, i.e. classes smaller than 5).
	RiskThreshold float64
	// Population, if set, is the data set an attacker links against (same
	// quasi-identifier columns, original values), for journalist and
	// marketer risk.
	Population *Table
	// DropSuppressed removes suppressed records from the output instead of
	// releasing them with every quasi-identifier replaced by "*".
	DropSuppressed bool
	// Progress, if set, is called now and then with the transformations
	// evaluated so far and the lattice size. Calls are serialised.
	Progress func(done, total int)
}

// QILevel is the generalisation level chosen for one quasi-identifier.
type QILevel struct {
	Attribute string `json:"attribute"`
	Level     int    `json:"level"`
	Height    int    `json:"height"`
}

// Utility gathers the utility figures of a release (all are losses).
type Utility struct {
	// Metric and Value are the metric the search minimised and its value.
	Metric Metric  `json:"metric"`
	Value  float64 `json:"value"`
	// NonUniformEntropy is ARX's monotonic variant (see NonUniformEntropy).
	NonUniformEntropy float64 `json:"non_uniform_entropy"`
	// NonUniformEntropySuppressedTop counts suppressed records as
	// generalised to the top of every hierarchy (ARX's non-monotonic
	// variant), the honest figure for what the release lost.
	NonUniformEntropySuppressedTop float64 `json:"non_uniform_entropy_suppressed_top"`
	// NonUniformEntropyNormalized is NonUniformEntropySuppressedTop divided by
	// its value with everything suppressed, in [0,1].
	NonUniformEntropyNormalized float64 `json:"non_uniform_entropy_normalized"`
	GeneralizationIntensity     float64 `json:"generalization_intensity"`
	Loss                        float64 `json:"loss"`
	Discernibility              float64 `json:"discernibility"`
	AverageClassSize            float64 `json:"average_class_size"`
}

// RowCounts counts records in and out.
type RowCounts struct {
	Input      int `json:"input"`
	Output     int `json:"output"`
	Suppressed int `json:"suppressed"`
	Classes    int `json:"classes"`
}

// AttributeReport describes one input attribute's treatment.
type AttributeReport struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Level and Height are set for quasi-identifiers under full-domain
	// generalisation.
	Level  *int `json:"level,omitempty"`
	Height *int `json:"height,omitempty"`
}

// Report is the JSON-serialisable account of an anonymisation.
type Report struct {
	Method         string            `json:"method"`
	Models         []string          `json:"models"`
	Parameters     Parameters        `json:"parameters"`
	Attributes     []AttributeReport `json:"attributes"`
	Transformation []QILevel         `json:"transformation,omitempty"`
	Utility        Utility           `json:"utility"`
	Risk           Risk              `json:"risk"`
	Rows           RowCounts         `json:"rows"`
	Search         *SearchStats      `json:"search,omitempty"`
	ElapsedMillis  float64           `json:"elapsed_ms"`
}

// Parameters records the configuration in the report.
type Parameters struct {
	SuppressionLimit float64    `json:"suppression_limit"`
	Metric           Metric     `json:"metric"`
	Search           SearchMode `json:"search"`
	RiskThreshold    float64    `json:"risk_threshold"`
}

// Result is an anonymised table and its report.
type Result struct {
	Output *Table
	Report Report
}

func (c *Config) validate(t *Table) error {
	if t == nil || t.rows == 0 {
		return fmt.Errorf("anonymize: empty table: %w", ErrMalformedInput)
	}
	if len(c.Criteria) == 0 {
		return fmt.Errorf("anonymize: no privacy model: %w", ErrMalformedInput)
	}
	if !(c.SuppressionLimit >= 0 && c.SuppressionLimit <= 1) {
		return fmt.Errorf("anonymize: suppression limit %v outside [0,1]: %w", c.SuppressionLimit, ErrMalformedInput)
	}
	if c.RiskThreshold < 0 || c.RiskThreshold > 1 || math.IsNaN(c.RiskThreshold) {
		return fmt.Errorf("anonymize: risk threshold %v outside [0,1]: %w", c.RiskThreshold, ErrMalformedInput)
	}
	if c.Metric < 0 || int(c.Metric) >= len(metricNames) {
		return fmt.Errorf("anonymize: %v: %w", c.Metric, ErrMalformedInput)
	}
	for name := range c.Hierarchies {
		if _, ok := t.ColumnIndex(name); !ok {
			return fmt.Errorf("anonymize: hierarchy for %q: %w", name, ErrUnknownAttribute)
		}
	}
	for i, cr := range c.Criteria {
		if cr == nil {
			return fmt.Errorf("anonymize: privacy model %d is nil: %w", i+1, ErrMalformedInput)
		}
		if err := cr.validate(); err != nil {
			return fmt.Errorf("anonymize: %w", err)
		}
		// Otherwise every record would be suppressed, or the search would
		// find nothing, after lengthy work.
		if m := cr.minRecords(); m > t.rows {
			return fmt.Errorf("anonymize: %s needs at least %d records, the table has %d: %w", cr, m, t.rows, ErrNoSolution)
		}
	}
	return nil
}

func (c *Config) sensitive() []string {
	var out []string
	for _, cr := range c.Criteria {
		if a := cr.sensitiveAttribute(); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// Anonymize finds the full-domain generalisation of t's quasi-identifiers
// that satisfies every criterion within the suppression limit at the least
// loss, and returns the transformed table with its report. It returns
// ErrNoSolution if even the most general transformation fails. t is not
// modified.
func Anonymize(ctx context.Context, t *Table, cfg Config) (*Result, error) {
	start := time.Now()
	if err := cfg.validate(t); err != nil {
		return nil, err
	}
	if cfg.RiskThreshold == 0 {
		cfg.RiskThreshold = 0.2
	}
	e, err := encode(t, cfg.Hierarchies, cfg.sensitive())
	if err != nil {
		return nil, fmt.Errorf("anonymize: %w", err)
	}
	limit := int(math.Floor(cfg.SuppressionLimit*float64(e.n) + 1e-9))
	lat := newLattice(e)
	s := &search{
		e: e, lat: lat, criteria: cfg.Criteria, limit: limit, metric: cfg.Metric,
		workers: defaultWorkers(cfg.Workers), progress: cfg.Progress,
		evals: make([]nodeEval, lat.size), state: make([]uint8, lat.size),
	}
	s.stats.LatticeSize = lat.size
	// Bind once up front so that bad parameters fail before any work.
	if _, err := newEvaluator(e, cfg.Criteria, limit, cfg.Metric); err != nil {
		return nil, fmt.Errorf("anonymize: %w", err)
	}
	var best int
	searchStart := time.Now()
	if cfg.Search == Exhaustive {
		best, err = s.exhaustive(ctx)
	} else {
		best, err = s.pruned(ctx)
	}
	s.stats.SearchMillis = float64(time.Since(searchStart).Microseconds()) / 1000
	if err != nil {
		return nil, fmt.Errorf("anonymize: %w", err)
	}
	if best < 0 {
		return nil, fmt.Errorf("anonymize: %w", ErrNoSolution)
	}
	levels := lat.levels(best, nil)
	out, rep, err := release(e, &cfg, levels, limit)
	if err != nil {
		return nil, fmt.Errorf("anonymize: %w", err)
	}
	rep.Search = &s.stats
	rep.ElapsedMillis = float64(time.Since(start).Microseconds()) / 1000
	return &Result{Output: out, Report: *rep}, nil
}

// release applies a transformation to the table and measures it.
func release(e *encoded, cfg *Config, levels []int, limit int) (*Table, *Report, error) {
	ev, err := newEvaluator(e, cfg.Criteria, limit, cfg.Metric)
	if err != nil {
		return nil, nil, err
	}
	ev.wantPass = true
	g := &groups{}
	e.rollupAny(e.base, g, make([]int, len(levels)), levels, &hasher{}, &partScratch{}, defaultWorkers(cfg.Workers))
	r := ev.evaluate(g, levels)
	classKeys, classCounts := g.keys, g.counts
	if len(e.sens) > 0 {
		classKeys, classCounts = ev.cls.keys, ev.cls.counts
	}
	// Suppressed classes are few: index just them, so that the per-record
	// lookups below hit a table that stays in cache.
	failed := &groups{}
	failed.begin(&hasher{}, 16)
	for i, k := range classKeys {
		if !ev.classOK[i] {
			failed.add(k&e.qiMask, 1)
		}
	}
	failed.end()
	// passes(key) says whether the class of a packed key is released.
	passes := func(key uint64) bool { return failed.len() == 0 || failed.find(key&e.qiMask) < 0 }
	rowOK := func(row int) bool { return passes(e.rowKey(row, levels)) }
	rep := newReport(e, cfg, "full-domain generalisation")
	for qi, l := range levels {
		q := &e.qis[qi]
		rep.Transformation = append(rep.Transformation, QILevel{q.name, l, q.height})
		for i := range rep.Attributes {
			if rep.Attributes[i].Name == q.name {
				rep.Attributes[i].Level, rep.Attributes[i].Height = &levels[qi], &q.height
			}
		}
	}
	out, err := buildOutput(e, cfg.DropSuppressed, rowOK, levels)
	if err != nil {
		return nil, nil, err
	}
	// Classes for the risk figures: released records only.
	var sizes []int
	for i := range classKeys {
		if ev.classOK[i] {
			sizes = append(sizes, int(classCounts[i]))
		}
	}
	var pop []int
	if cfg.Population != nil {
		pop, err = populationSizes(e, cfg.Population, levels, classKeys, ev.classOK)
		if err != nil {
			return nil, nil, err
		}
	}
	rep.Risk = riskFromClasses(sizes, pop, cfg.RiskThreshold)
	rep.Rows = RowCounts{Input: e.n, Output: out.rows, Suppressed: r.suppressed, Classes: r.classes}
	rep.Utility = utility(e, levels, r, g, passes, cfg.Metric)
	return out, rep, nil
}

func newReport(e *encoded, cfg *Config, method string) *Report {
	rep := &Report{Method: method, Parameters: Parameters{
		SuppressionLimit: cfg.SuppressionLimit, Metric: cfg.Metric, Search: cfg.Search, RiskThreshold: cfg.RiskThreshold,
	}}
	for _, c := range cfg.Criteria {
		rep.Models = append(rep.Models, c.String())
	}
	for _, c := range e.t.cols {
		rep.Attributes = append(rep.Attributes, AttributeReport{Name: c.name, Type: c.typ.String()})
	}
	return rep
}

// buildOutput writes the released table: identifying attributes dropped,
// quasi-identifiers replaced by their labels at levels, suppressed records
// starred or dropped. Columns are built as codes directly, so releasing
// a million rows does not hash a million strings.
func buildOutput(e *encoded, drop bool, rowOK func(int) bool, levels []int) (*Table, error) {
	keep := make([]bool, e.n)
	nOut := 0
	for r := range keep {
		keep[r] = rowOK(r)
		if keep[r] || !drop {
			nOut++
		}
	}
	qiOf := map[int]int{}
	for qi := range e.qis {
		qiOf[e.qis[qi].col] = qi
	}
	out := &Table{rows: nOut}
	for ci, c := range e.t.cols {
		if c.typ == Identifying {
			continue
		}
		oc := &column{name: c.name, typ: c.typ, codes: make([]int32, 0, nOut)}
		qi, isQI := qiOf[ci]
		var gen []int32
		star := int32(-1)
		if isQI {
			q := &e.qis[qi]
			oc.dict = append([]string(nil), q.labels[levels[qi]]...)
			gen = q.gen[levels[qi]]
		} else {
			oc.dict = append([]string(nil), c.dict...)
		}
		for r, code := range c.codes {
			switch {
			case !keep[r] && drop:
				continue
			case isQI && !keep[r]:
				if star < 0 {
					star = int32(slices.Index(oc.dict, "*"))
				}
				if star < 0 {
					star = int32(len(oc.dict))
					oc.dict = append(oc.dict, "*")
				}
				code = star
			case isQI:
				code = gen[code]
			}
			oc.codes = append(oc.codes, code)
		}
		out.cols = append(out.cols, oc)
	}
	return out, nil
}

// utility measures a transformation; released says whether a level-0
// record key's class is released at levels.
func utility(e *encoded, levels []int, r nodeEval, g *groups, passes func(uint64) bool, m Metric) Utility {
	u := Utility{Metric: m}
	u.NonUniformEntropy = e.transformationLoss(NonUniformEntropy, levels)
	u.GeneralizationIntensity = e.transformationLoss(GeneralizationIntensity, levels)
	var nm, top float64
	n := float64(e.n)
	toLevels := func(k uint64) uint64 {
		for qi := range e.qis {
			q := &e.qis[qi]
			if levels[qi] > 0 {
				c := q.gen[levels[qi]][(k>>q.shift)&q.mask]
				k = k&^(q.mask<<q.shift) | uint64(c)<<q.shift
			}
		}
		return k
	}
	for i, k := range e.base.keys {
		a := float64(e.base.counts[i])
		ok := passes(toLevels(k))
		for qi := range e.qis {
			q := &e.qis[qi]
			c0 := (k >> q.shift) & q.mask
			orig := float64(q.counts[0][c0])
			t := a * math.Log2(n/orig)
			top += t
			if ok {
				nm += a * math.Log2(float64(q.counts[levels[qi]][q.gen[levels[qi]][c0]])/orig)
			} else {
				nm += t
			}
		}
	}
	u.NonUniformEntropySuppressedTop = nm
	if top > 0 {
		u.NonUniformEntropyNormalized = nm / top
	}
	var lossSum float64
	for i, k := range g.keys {
		size := float64(g.counts[i])
		if !passes(k) {
			lossSum += size * float64(len(e.qis))
			continue
		}
		for qi := range e.qis {
			q := &e.qis[qi]
			lossSum += size * q.share[levels[qi]][(k>>q.shift)&q.mask]
		}
	}
	// Discernibility needs class sizes, which g splits by sensitive value.
	disc := float64(r.suppressed) * n
	if len(e.sens) == 0 {
		for i, k := range g.keys {
			if passes(k) {
				disc += float64(g.counts[i]) * float64(g.counts[i])
			}
		}
	} else {
		sizes := map[uint64]float64{}
		for i, k := range g.keys {
			if passes(k) {
				sizes[k&e.qiMask] += float64(g.counts[i])
			}
		}
		for _, s := range sizes {
			disc += s * s
		}
	}
	u.Loss = lossSum / (n * float64(len(e.qis)))
	u.Discernibility = disc
	classes := r.classes
	if r.suppressed > 0 {
		classes++
	}
	u.AverageClassSize = n / float64(max(classes, 1))
	switch m {
	case NonUniformEntropy:
		u.Value = u.NonUniformEntropy
	case GeneralizationIntensity:
		u.Value = u.GeneralizationIntensity
	case Loss:
		u.Value = u.Loss
	case Discernibility:
		u.Value = u.Discernibility
	case AverageClassSize:
		u.Value = u.AverageClassSize
	}
	return u
}

// populationSizes generalises the population's quasi-identifiers like the
// release and counts, for each released class, the population records in it.
func populationSizes(e *encoded, pop *Table, levels []int, classKeys []uint64, ok []bool) ([]int, error) {
	idx := make([]int, len(e.qis))
	for qi := range e.qis {
		c, found := pop.ColumnIndex(e.qis[qi].name)
		if !found {
			return nil, fmt.Errorf("population: column %q: %w", e.qis[qi].name, ErrUnknownAttribute)
		}
		idx[qi] = c
	}
	counts := map[string]int{}
	var sb strings.Builder
	for r := 0; r < pop.rows; r++ {
		sb.Reset()
		for qi := range e.qis {
			v, err := e.qis[qi].hier.Generalize(pop.Value(r, idx[qi]), levels[qi])
			if err != nil {
				return nil, &RowError{Source: "population", Row: r + 2, Err: err}
			}
			sb.WriteString(v)
			sb.WriteByte(0)
		}
		counts[sb.String()]++
	}
	var out []int
	for i, k := range classKeys {
		if !ok[i] {
			continue
		}
		sb.Reset()
		for qi := range e.qis {
			q := &e.qis[qi]
			sb.WriteString(q.labels[levels[qi]][(k>>q.shift)&q.mask])
			sb.WriteByte(0)
		}
		out = append(out, counts[sb.String()])
	}
	return out, nil
}
