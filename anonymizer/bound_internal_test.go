package anonymizer

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// randomBoundTable builds a small table with three quasi-identifiers and a
// skewed numeric sensitive attribute, with hierarchies for all four.
func randomBoundTable(t *testing.T, rng *rand.Rand) (*Table, map[string]*Hierarchy) {
	t.Helper()
	tb, err := NewTable("a", "b", "c", "s")
	require.NoError(t, err)
	m := 2 + rng.IntN(3) // sensitive values
	for range 8 + rng.IntN(60) {
		s := rng.IntN(m)
		if rng.IntN(3) == 0 {
			s = 0 // skew, so that some classes are far from the table
		}
		require.NoError(t, tb.AppendRow(strconv.Itoa(rng.IntN(8)), string(rune('p'+rng.IntN(4))), strconv.Itoa(rng.IntN(3)), strconv.Itoa(s)))
	}
	var a, b, c, s [][]string
	for v := range 8 {
		a = append(a, []string{strconv.Itoa(v), strconv.Itoa(v / 2), strconv.Itoa(v / 4), "*"})
	}
	for v := range 4 {
		b = append(b, []string{string(rune('p' + v)), fmt.Sprint("pair", v/2), "*"})
	}
	for v := range 3 {
		c = append(c, []string{strconv.Itoa(v), "*"})
	}
	for v := range m {
		s = append(s, []string{strconv.Itoa(v), fmt.Sprint("half", v%2), "*"})
	}
	hs := map[string]*Hierarchy{}
	for name, rows := range map[string][][]string{"a": a, "b": b, "c": c} {
		h, err := NewHierarchy(rows)
		require.NoError(t, err)
		hs[name] = h
		require.NoError(t, tb.SetType(name, QuasiIdentifying))
	}
	require.NoError(t, tb.SetType("s", Sensitive))
	sh, err := NewHierarchy(s)
	require.NoError(t, err)
	hs["s"] = sh
	return tb, hs
}

func randomBoundCriteria(rng *rand.Rand, sh *Hierarchy) []Criterion {
	k := KAnonymity(1 + rng.IntN(4))
	t := 0.05 + 0.3*rng.Float64()
	switch rng.IntN(8) {
	case 0:
		return []Criterion{k, EqualDistanceTCloseness("s", t)}
	case 1:
		return []Criterion{EqualDistanceTCloseness("s", t)}
	case 2:
		return []Criterion{k, OrderedDistanceTCloseness("s", t)}
	case 3:
		return []Criterion{k, HierarchicalDistanceTCloseness("s", t, sh)}
	case 4:
		return []Criterion{k, EntropyLDiversity("s", 1.2+rng.Float64())}
	case 5:
		return []Criterion{k, RecursiveCLDiversity("s", 1+2*rng.Float64(), 2)}
	case 6:
		return []Criterion{k, DistinctLDiversity("s", 2), EqualDistanceTCloseness("s", t)}
	default:
		return []Criterion{k, AverageRisk(0.2 + 0.3*rng.Float64())}
	}
}

// randomBoundCases runs check on random tables and models drawn from seed.
func randomBoundCases(t *testing.T, seed uint64, check func(trial int, rng *rand.Rand, tb *Table, hs map[string]*Hierarchy, criteria []Criterion)) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 16))
	trials := 300
	if testing.Short() {
		trials = 40
	}
	for trial := range trials {
		tb, hs := randomBoundTable(t, rng)
		check(trial, rng, tb, hs, randomBoundCriteria(rng, hs["s"]))
	}
}

// TestMinSuppressedBoundsSpecialisations checks, on random tables, the
// property the pruned search relies on when a model is not monotone: every
// specialisation of a transformation (itself included) suppresses at least
// the transformation's bound.
func TestMinSuppressedBoundsSpecialisations(t *testing.T) {
	randomBoundCases(t, 16, func(trial int, _ *rand.Rand, tb *Table, hs map[string]*Hierarchy, criteria []Criterion) {
		cfg := Config{Criteria: criteria}
		e, err := encode(tb, hs, cfg.sensitive())
		require.NoError(t, err)
		ev, err := newEvaluator(e, criteria, 0, NonUniformEntropy)
		require.NoError(t, err)
		ev.bound = true
		lat := newLattice(e)
		evals := make([]nodeEval, lat.size)
		zero := make([]int, len(e.qis))
		for idx := range lat.size {
			levels := lat.levels(idx, nil)
			g := &groups{}
			e.rollup(e.base, g, zero, levels, &hasher{})
			evals[idx] = ev.evaluate(g, levels)
			require.LessOrEqual(t, evals[idx].minSuppressed, evals[idx].suppressed)
		}
		var la, lb []int
		for a := range lat.size {
			la = lat.levels(a, la)
			for b := range lat.size {
				lb = lat.levels(b, lb)
				below := true
				for i := range la {
					below = below && lb[i] <= la[i]
				}
				if below && evals[b].suppressed < evals[a].minSuppressed {
					t.Fatalf("trial %d, %v, %d rows: %v suppresses %d, fewer than the bound %d of its generalisation %v",
						trial, criteria, e.n, lb, evals[b].suppressed, evals[a].minSuppressed, la)
				}
			}
		}
	})
}

// TestPrunedEqualsExhaustiveRandom compares the two searches on random
// tables, models and suppression limits, the non-monotone models included.
func TestPrunedEqualsExhaustiveRandom(t *testing.T) {
	randomBoundCases(t, 6, func(trial int, rng *rand.Rand, tb *Table, hs map[string]*Hierarchy, criteria []Criterion) {
		qiHs := map[string]*Hierarchy{"a": hs["a"], "b": hs["b"], "c": hs["c"]}
		sup := []float64{0, 0.05, 0.1, 0.2, 0.4, 1}[rng.IntN(6)]
		var res [2]*Result
		var errs [2]error
		for i, mode := range []SearchMode{Pruned, Exhaustive} {
			res[i], errs[i] = Anonymize(t.Context(), tb, Config{Hierarchies: qiHs, Criteria: criteria, SuppressionLimit: sup, Search: mode})
		}
		name := fmt.Sprintf("trial %d, %v, sup %v", trial, criteria, sup)
		if errors.Is(errs[1], ErrNoSolution) {
			require.ErrorIs(t, errs[0], ErrNoSolution, name)
			return
		}
		require.NoError(t, errs[1], name)
		require.NoError(t, errs[0], name)
		require.Equal(t, res[1].Report.Transformation, res[0].Report.Transformation, name)
		require.Equal(t, res[1].Report.Rows, res[0].Report.Rows, name)
	})
}

// TestNoReleaseOfOnlySuppressedRecords: with a 100% limit, suppressing
// everything at the bottom of the lattice costs nothing under non-uniform
// entropy, so it used to be the optimum. A release must keep records.
func TestNoReleaseOfOnlySuppressedRecords(t *testing.T) {
	tb, err := NewTable("age", "sex", "diagnosis")
	require.NoError(t, err)
	for _, r := range [][]string{{"20", "M", "flu"}, {"21", "M", "cold"}, {"30", "M", "flu"}, {"31", "F", "cold"}} {
		require.NoError(t, tb.AppendRow(r...))
	}
	age, err := NewHierarchy([][]string{{"20", "20-29", "*"}, {"21", "20-29", "*"}, {"30", "30-39", "*"}, {"31", "30-39", "*"}})
	require.NoError(t, err)
	sex, err := NewHierarchy([][]string{{"M", "*"}, {"F", "*"}})
	require.NoError(t, err)
	require.NoError(t, tb.SetType("age", QuasiIdentifying))
	require.NoError(t, tb.SetType("sex", QuasiIdentifying))
	require.NoError(t, tb.SetType("diagnosis", Sensitive))
	hs := map[string]*Hierarchy{"age": age, "sex": sex}
	for _, mode := range []SearchMode{Pruned, Exhaustive} {
		res, err := Anonymize(t.Context(), tb, Config{Hierarchies: hs, Criteria: []Criterion{KAnonymity(4)}, SuppressionLimit: 1, Search: mode})
		require.NoError(t, err)
		require.Equal(t, []QILevel{{"age", 2, 2}, {"sex", 1, 1}}, res.Report.Transformation)
		require.Zero(t, res.Report.Rows.Suppressed)
		// t=0: only classes with the table's distribution, which the top
		// of the lattice (one class) has.
		_, err = Anonymize(t.Context(), tb, Config{Hierarchies: hs, SuppressionLimit: 1, Search: mode,
			Criteria: []Criterion{KAnonymity(1), EqualDistanceTCloseness("diagnosis", 0)}})
		require.NoError(t, err)
		_, err = Anonymize(t.Context(), tb, Config{Hierarchies: hs, SuppressionLimit: 1, Search: mode,
			Criteria: []Criterion{KAnonymity(1), DistinctLDiversity("diagnosis", 3)}})
		require.ErrorIs(t, err, ErrNoSolution)
	}
}

// TestEqualDistanceIsHalfL1 checks the equal-distance EMD, computed over the
// class's values only, against half the L1 distance over the whole domain.
func TestEqualDistanceIsHalfL1(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 7))
	for range 1000 {
		m := 1 + rng.IntN(12)
		q := make([]float64, m)
		var sum float64
		for i := range q {
			q[i] = rng.Float64()
			sum += q[i]
		}
		for i := range q {
			q[i] /= sum
		}
		k := &tChecker{dist: tEqual, q: q}
		var hist []sensCount
		size := 0
		for code := range m {
			if rng.IntN(2) == 0 {
				n := 1 + rng.IntN(20)
				hist = append(hist, sensCount{int32(code), int32(n)})
				size += n
			}
		}
		if size == 0 {
			continue
		}
		p := make([]float64, m)
		for _, s := range hist {
			p[s.code] = float64(s.n) / float64(size)
		}
		var l1 float64
		for i := range p {
			l1 += math.Abs(p[i] - q[i])
		}
		require.InDelta(t, l1/2, k.emd(size, hist), 1e-12)
	}
}
