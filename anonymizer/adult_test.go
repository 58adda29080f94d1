package anonymizer_test

import (
	"fmt"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

// TestAdultPrunedEqualsExhaustive proves the pruned search exact on real
// data: for several models and suppression limits it must return the same
// optimum as evaluating all 12,960 transformations.
func TestAdultPrunedEqualsExhaustive(t *testing.T) {
	dir := adultDir(t)
	base, hs, err := anonymizer.LoadAdult(dir)
	require.NoError(t, err)
	require.Equal(t, 30162, base.NumRows())

	type setting struct {
		criteria  []anonymizer.Criterion
		sup       float64
		sensitive bool // salary-class sensitive instead of a QI
		metric    anonymizer.Metric
	}
	k := func(n int) anonymizer.Criterion { return anonymizer.KAnonymity(n) }
	settings := []setting{
		{criteria: []anonymizer.Criterion{k(5)}},
		{criteria: []anonymizer.Criterion{k(5)}, sup: 0.04},
		{criteria: []anonymizer.Criterion{k(100)}},
		{criteria: []anonymizer.Criterion{k(2)}, sup: 0.01},
		{criteria: []anonymizer.Criterion{k(5), anonymizer.DistinctLDiversity("salary-class", 2)}, sup: 0.04, sensitive: true},
		{criteria: []anonymizer.Criterion{k(3), anonymizer.EntropyLDiversity("salary-class", 1.5)}, sensitive: true},
		// Not monotone with suppression: no down-set pruning, best-first only.
		{criteria: []anonymizer.Criterion{k(2), anonymizer.RecursiveCLDiversity("salary-class", 4, 2)}, sup: 0.02, sensitive: true},
		{criteria: []anonymizer.Criterion{k(5), anonymizer.EqualDistanceTCloseness("salary-class", 0.15)}, sup: 0.04, sensitive: true},
		{criteria: []anonymizer.Criterion{k(3), anonymizer.EqualDistanceTCloseness("salary-class", 0.2)}, sup: 0.04, sensitive: true},
		{criteria: []anonymizer.Criterion{k(2), anonymizer.EntropyLDiversity("salary-class", 1.3)}, sup: 0.04, sensitive: true},
		{criteria: []anonymizer.Criterion{k(5)}, metric: anonymizer.Discernibility},
		{criteria: []anonymizer.Criterion{k(10)}, sup: 0.02, metric: anonymizer.Loss},
	}
	if testing.Short() {
		settings = settings[:2]
	}
	for _, s := range settings {
		name := fmt.Sprintf("%v/sup=%v/%v", s.criteria, s.sup, s.metric)
		t.Run(name, func(t *testing.T) {
			tb := base
			if s.sensitive {
				var err error
				tb, _, err = anonymizer.LoadAdult(dir)
				require.NoError(t, err)
				require.NoError(t, tb.SetType("salary-class", anonymizer.Sensitive))
			}
			var res [2]*anonymizer.Result
			for i, mode := range []anonymizer.SearchMode{anonymizer.Pruned, anonymizer.Exhaustive} {
				r, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
					Hierarchies: hs, Criteria: s.criteria, SuppressionLimit: s.sup, Search: mode, Metric: s.metric,
				})
				require.NoError(t, err)
				res[i] = r
			}
			require.Equal(t, res[1].Report.Transformation, res[0].Report.Transformation)
			require.Equal(t, res[1].Report.Utility.Value, res[0].Report.Utility.Value)
			require.Equal(t, res[1].Report.Rows, res[0].Report.Rows)
			require.Less(t, res[0].Report.Search.Evaluated, res[1].Report.Search.Evaluated)
			require.Equal(t, res[1].Report.Search.LatticeSize, res[1].Report.Search.Evaluated)
			require.NoError(t, anonymizer.Verify(t.Context(), res[0].Output, s.criteria, s.sup))
		})
	}
}

// TestAdultTClosenessSuppression pins issue 16's case: with t-closeness and
// suppression, which are not monotone together, the pruned search must
// still find exhaustive search's optimum, evaluating no more
// transformations than ARX (about 4,000 of 6,480); it used to evaluate
// 6,208.
func TestAdultTClosenessSuppression(t *testing.T) {
	tb, hs, err := anonymizer.LoadAdult(adultDir(t))
	require.NoError(t, err)
	require.NoError(t, tb.SetType("salary-class", anonymizer.Sensitive))
	cfg := anonymizer.Config{Hierarchies: hs, SuppressionLimit: 0.04,
		Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(3), anonymizer.EqualDistanceTCloseness("salary-class", 0.2)}}
	pruned, err := anonymizer.Anonymize(t.Context(), tb, cfg)
	require.NoError(t, err)
	cfg.Search = anonymizer.Exhaustive
	exhaustive, err := anonymizer.Anonymize(t.Context(), tb, cfg)
	require.NoError(t, err)
	require.Equal(t, 6480, exhaustive.Report.Search.Evaluated)
	require.Equal(t, exhaustive.Report.Transformation, pruned.Report.Transformation)
	require.Equal(t, exhaustive.Report.Utility, pruned.Report.Utility)
	require.Equal(t, exhaustive.Report.Rows, pruned.Report.Rows)
	require.LessOrEqual(t, pruned.Report.Search.Evaluated, 4000)
	require.InDelta(t, 419835.0, pruned.Report.Utility.NonUniformEntropy, 0.1)
}

// TestAdultKnownOptimum pins the optimum for k=5 without suppression under
// non-uniform entropy.
func TestAdultKnownOptimum(t *testing.T) {
	tb, hs, err := anonymizer.LoadAdult(adultDir(t))
	require.NoError(t, err)
	r, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(5)}})
	require.NoError(t, err)
	levels := map[string]int{}
	for _, q := range r.Report.Transformation {
		levels[q.Attribute] = q.Level
	}
	require.Equal(t, map[string]int{"sex": 1, "age": 2, "race": 1, "marital-status": 1, "education": 3,
		"native-country": 2, "workclass": 2, "occupation": 1, "salary-class": 1}, levels)
	require.InDelta(t, 407289.5, r.Report.Utility.NonUniformEntropy, 0.1)
}
