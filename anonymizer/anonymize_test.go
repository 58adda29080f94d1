package anonymizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

// golden is a four-record table whose lattice (age 0..2 × sex 0..1) is
// small enough to work out by hand. Non-uniform entropy per attribute:
//
//	age level 1: each of 4 records log2(2/1) = 1       → 4
//	age level 2: each of 4 records log2(4/1) = 2       → 8
//	sex level 1: 3 males log2(4/3), 1 female log2(4/1) → 3·log2(4/3) + 2
func golden(t *testing.T) (*anonymizer.Table, map[string]*anonymizer.Hierarchy) {
	tb := table(t, "name;age;sex;diagnosis", "Ann;20;M;flu", "Bob;21;M;cold", "Cid;30;M;flu", "Dee;31;F;cold")
	setTypes(t, tb, anonymizer.Identifying, "name")
	setTypes(t, tb, anonymizer.QuasiIdentifying, "age", "sex")
	setTypes(t, tb, anonymizer.Sensitive, "diagnosis")
	return tb, map[string]*anonymizer.Hierarchy{
		"age": hierarchy(t, "20;20-29;*", "21;20-29;*", "30;30-39;*", "31;30-39;*"),
		"sex": hierarchy(t, "M;*", "F;*"),
	}
}

func TestAnonymizeGolden(t *testing.T) {
	sexTop := 3*math.Log2(4.0/3) + 2
	tests := []struct {
		name       string
		criteria   []anonymizer.Criterion
		sup        float64
		age, sex   int
		loss       float64
		suppressed int
		ageOut     []string
	}{
		// (1,1): classes {20-29,*}:2 and {30-39,*}:2. (2,0) fails: F alone.
		{"k=2 no suppression", []anonymizer.Criterion{anonymizer.KAnonymity(2)}, 0, 1, 1, 4 + sexTop, 0,
			[]string{"20-29", "20-29", "30-39", "30-39"}},
		// 25%: one record may go. (2,0) suppresses Dee → loss 8 > 4+sexTop
		// (≈7.2); (1,0) needs two suppressed. Optimum stays (1,1).
		{"k=2 25% suppression", []anonymizer.Criterion{anonymizer.KAnonymity(2)}, 0.25, 1, 1, 4 + sexTop, 0,
			[]string{"20-29", "20-29", "30-39", "30-39"}},
		// 50%: (1,0) keeps {20-29,M}:2 and suppresses Cid and Dee, loss 4.
		{"k=2 50% suppression", []anonymizer.Criterion{anonymizer.KAnonymity(2)}, 0.5, 1, 0, 4, 2,
			[]string{"20-29", "20-29", "*", "*"}},
		// Distinct 2-diversity: {20-29} has flu+cold, {30-39} flu+cold.
		{"k=2 distinct 2-diversity", []anonymizer.Criterion{anonymizer.KAnonymity(2), anonymizer.DistinctLDiversity("diagnosis", 2)}, 0, 1, 1, 4 + sexTop, 0,
			[]string{"20-29", "20-29", "30-39", "30-39"}},
		// k=3: only the top of age works, with sex at * (loss 8+sexTop).
		{"k=3", []anonymizer.Criterion{anonymizer.KAnonymity(3)}, 0, 2, 1, 8 + sexTop, 0,
			[]string{"*", "*", "*", "*"}},
	}
	for _, tc := range tests {
		for _, mode := range []anonymizer.SearchMode{anonymizer.Pruned, anonymizer.Exhaustive} {
			t.Run(tc.name+"/"+mode.String(), func(t *testing.T) {
				tb, hs := golden(t)
				res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
					Hierarchies: hs, Criteria: tc.criteria, SuppressionLimit: tc.sup, Search: mode,
				})
				require.NoError(t, err)
				require.Equal(t, []anonymizer.QILevel{{"age", tc.age, 2}, {"sex", tc.sex, 1}}, res.Report.Transformation)
				require.InDelta(t, tc.loss, res.Report.Utility.Value, 1e-9)
				require.Equal(t, tc.suppressed, res.Report.Rows.Suppressed)
				require.Equal(t, []string{"age", "sex", "diagnosis"}, res.Output.Columns(), "identifying attribute removed")
				require.Equal(t, tc.ageOut, column(t, res.Output, "age"))
				require.Equal(t, []string{"flu", "cold", "flu", "cold"}, column(t, res.Output, "diagnosis"))
				require.NoError(t, anonymizer.Verify(t.Context(), res.Output, tc.criteria, tc.sup))
			})
		}
	}
}

func TestAnonymizeDropSuppressed(t *testing.T) {
	tb, hs := golden(t)
	res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
		Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}, SuppressionLimit: 0.5, DropSuppressed: true,
	})
	require.NoError(t, err)
	require.Equal(t, 2, res.Output.NumRows())
	require.Equal(t, anonymizer.RowCounts{Input: 4, Output: 2, Suppressed: 2, Classes: 1}, res.Report.Rows)
}

func TestAnonymizeRejectsBadConfigWithoutChangingInput(t *testing.T) {
	// models builds a configuration from privacy models alone.
	models := func(sup float64, c ...anonymizer.Criterion) func(map[string]*anonymizer.Hierarchy) anonymizer.Config {
		return func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: hs, Criteria: c, SuppressionLimit: sup}
		}
	}
	k2 := anonymizer.KAnonymity(2)
	tests := []struct {
		name string
		cfg  func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config
		err  error
		msg  string
	}{
		{"no criteria", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: hs}
		}, anonymizer.ErrMalformedInput, ""},
		{"k=0", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(0)}}
		}, anonymizer.ErrMalformedInput, ""},
		{"suppression > 1", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}, SuppressionLimit: 1.5}
		}, anonymizer.ErrMalformedInput, ""},
		{"missing hierarchy", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: map[string]*anonymizer.Hierarchy{"age": hs["age"]}, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}}
		}, anonymizer.ErrMissingHierarchy, ""},
		{"l-diversity on a non-sensitive attribute", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.DistinctLDiversity("sex", 2)}}
		}, anonymizer.ErrMalformedInput, ""},
		{"unknown sensitive attribute", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			return anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.EntropyLDiversity("nope", 2)}}
		}, anonymizer.ErrUnknownAttribute, ""},
		{"hierarchy for unknown column", func(hs map[string]*anonymizer.Hierarchy) anonymizer.Config {
			m := map[string]*anonymizer.Hierarchy{"zip": hs["age"], "age": hs["age"], "sex": hs["sex"]}
			return anonymizer.Config{Hierarchies: m, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}}
		}, anonymizer.ErrUnknownAttribute, ""},
		{"negative k", models(0, anonymizer.KAnonymity(-3)), anonymizer.ErrMalformedInput, "k=-3, want at least 1"},
		{"nil model", models(0, k2, nil), anonymizer.ErrMalformedInput, "privacy model 2 is nil"},
		// The golden table has four records.
		{"k above the records", models(0, anonymizer.KAnonymity(5)), anonymizer.ErrNoSolution, "needs at least 5 records, the table has 4"},
		{"k above the records, all may be suppressed", models(1, anonymizer.KAnonymity(5)), anonymizer.ErrNoSolution, "the table has 4"},
		{"highest risk below 1/records", models(1, anonymizer.HighestRisk(0.1)), anonymizer.ErrNoSolution, "needs at least 10 records"},
		{"average risk below 1/records", models(1, k2, anonymizer.AverageRisk(0.2)), anonymizer.ErrNoSolution, "needs at least 5 records"},
		{"l above the records", models(1, k2, anonymizer.DistinctLDiversity("diagnosis", 5)), anonymizer.ErrNoSolution, "needs at least 5 records"},
		{"entropy l NaN", models(0, k2, anonymizer.EntropyLDiversity("diagnosis", math.NaN())), anonymizer.ErrMalformedInput, "l outside"},
		{"entropy l infinite", models(0, k2, anonymizer.EntropyLDiversity("diagnosis", math.Inf(1))), anonymizer.ErrMalformedInput, "l outside"},
		{"l below 1", models(0, k2, anonymizer.DistinctLDiversity("diagnosis", 0)), anonymizer.ErrMalformedInput, "l outside"},
		{"recursive c=0", models(0, k2, anonymizer.RecursiveCLDiversity("diagnosis", 0, 2)), anonymizer.ErrMalformedInput, "c must be positive"},
		{"t above 1", models(0, k2, anonymizer.EqualDistanceTCloseness("diagnosis", 1.5)), anonymizer.ErrMalformedInput, "t outside [0,1]"},
		{"t negative", models(0, k2, anonymizer.EqualDistanceTCloseness("diagnosis", -0.1)), anonymizer.ErrMalformedInput, "t outside [0,1]"},
		{"t NaN", models(0, k2, anonymizer.EqualDistanceTCloseness("diagnosis", math.NaN())), anonymizer.ErrMalformedInput, "t outside [0,1]"},
		{"t-closeness without attribute", models(0, k2, anonymizer.EqualDistanceTCloseness("", 0.2)), anonymizer.ErrMalformedInput, "no sensitive attribute"},
		{"hierarchical t without hierarchy", models(0, k2, anonymizer.HierarchicalDistanceTCloseness("diagnosis", 0.2, nil)), anonymizer.ErrMissingHierarchy, ""},
		{"t-closeness on a quasi-identifier", models(0, k2, anonymizer.EqualDistanceTCloseness("age", 0.2)), anonymizer.ErrMalformedInput, "needs it sensitive"},
		{"suppression NaN", models(math.NaN(), k2), anonymizer.ErrMalformedInput, "suppression limit"},
		{"suppression negative", models(-0.1, k2), anonymizer.ErrMalformedInput, "suppression limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, hs := golden(t)
			before := []string{}
			for r := 0; r < tb.NumRows(); r++ {
				before = append(before, tb.Row(r)...)
			}
			for _, run := range []func(context.Context, *anonymizer.Table, anonymizer.Config) (*anonymizer.Result, error){anonymizer.Anonymize, anonymizer.Mondrian} {
				res, err := run(t.Context(), tb, tc.cfg(hs))
				require.ErrorIs(t, err, tc.err)
				require.ErrorContains(t, err, tc.msg)
				require.Nil(t, res)
			}
			after := []string{}
			for r := 0; r < tb.NumRows(); r++ {
				after = append(after, tb.Row(r)...)
			}
			require.Equal(t, before, after)
		})
	}
}

// flat is a table whose quasi-identifier cannot be generalised (height 0),
// so each model is decided on the data exactly as given.
func flat(t *testing.T, rows ...string) (*anonymizer.Table, map[string]*anonymizer.Hierarchy) {
	tb := table(t, append([]string{"zip;value"}, rows...)...)
	setTypes(t, tb, anonymizer.QuasiIdentifying, "zip")
	setTypes(t, tb, anonymizer.Sensitive, "value")
	zips, err := tb.Distinct("zip")
	require.NoError(t, err)
	var hrows []string
	for _, z := range zips {
		hrows = append(hrows, z)
	}
	return tb, map[string]*anonymizer.Hierarchy{"zip": hierarchy(t, hrows...)}
}

func TestEveryPrivacyModelRejectsAViolatingTable(t *testing.T) {
	ordered := []string{"1", "2", "3", "4"}
	valH := hierarchy(t, "flu;respiratory;*", "cold;respiratory;*", "fracture;injury;*", "burn;injury;*")
	tests := []struct {
		name      string
		c         anonymizer.Criterion
		violating []string
		holding   []string
	}{
		{"k-anonymity", anonymizer.KAnonymity(3),
			[]string{"a;flu", "a;flu", "a;flu", "b;flu", "b;flu"},
			[]string{"a;flu", "a;flu", "a;flu", "b;flu", "b;flu", "b;cold"}},
		{"highest risk 0.34 (k=3)", anonymizer.HighestRisk(0.34),
			[]string{"a;flu", "a;flu", "a;flu", "b;flu", "b;flu"},
			[]string{"a;flu", "a;flu", "a;flu", "b;flu", "b;flu", "b;cold"}},
		{"average risk 0.3", anonymizer.AverageRisk(0.3),
			[]string{"a;flu", "a;flu", "b;flu", "b;flu", "c;flu", "c;flu"},                                      // 3/6
			[]string{"a;flu", "a;flu", "a;flu", "b;flu", "b;flu", "b;flu", "c;flu", "c;flu", "c;flu", "c;flu"}}, // 3/10
		{"distinct 2-diversity", anonymizer.DistinctLDiversity("value", 2),
			[]string{"a;flu", "a;cold", "b;flu", "b;flu"},
			[]string{"a;flu", "a;cold", "b;flu", "b;cold"}},
		{"entropy 2-diversity", anonymizer.EntropyLDiversity("value", 2),
			[]string{"a;flu", "a;cold", "b;flu", "b;flu", "b;flu", "b;cold"}, // b: H(3/4,1/4) < log 2
			[]string{"a;flu", "a;cold", "b;flu", "b;cold"}},
		{"recursive (2,2)-diversity", anonymizer.RecursiveCLDiversity("value", 2, 2),
			[]string{"a;flu", "a;flu", "a;flu", "a;flu", "a;cold", "a;cold"}, // 4 < 2·2 fails
			[]string{"a;flu", "a;flu", "a;flu", "a;cold", "a;cold"}},         // 3 < 2·2 holds
		{"equal-distance 0.2-closeness", anonymizer.EqualDistanceTCloseness("value", 0.2),
			// global flu/cold 1/2; class a all flu → EMD 1/2
			[]string{"a;flu", "a;flu", "b;cold", "b;cold"},
			[]string{"a;flu", "a;cold", "b;flu", "b;cold"}},
		{"ordered-distance 0.2-closeness", anonymizer.OrderedDistanceTCloseness("value", 0.2),
			// values 1..4 each once overall; class a = {1,2}: cumulative
			// differences 1/4, 1/2, 1/4 over m-1=3 → EMD 1/3
			[]string{"a;1", "a;2", "b;3", "b;4"},
			[]string{"a;1", "a;3", "b;2", "b;4"}}, // 1/4,0,1/4 → 1/6
		{"hierarchical-distance 0.3-closeness", anonymizer.HierarchicalDistanceTCloseness("value", 0.3, valH),
			// class a = {flu, cold}: all mass moves from respiratory to
			// injury across the root: 1/2 at distance 2/2 → 0.5
			[]string{"a;flu", "a;cold", "b;fracture", "b;burn"},
			// class a = {flu, fracture}: 1/4 within respiratory and 1/4
			// within injury at distance 1/2 → 0.25
			[]string{"a;flu", "a;fracture", "b;cold", "b;burn"}},
	}
	_ = ordered
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, holds := range []bool{false, true} {
				rows := tc.violating
				if holds {
					rows = tc.holding
				}
				tb, hs := flat(t, rows...)
				cfg := anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{tc.c}}
				_, err := anonymizer.Anonymize(t.Context(), tb, cfg)
				verr := anonymizer.Verify(t.Context(), tb, cfg.Criteria, 0)
				if holds {
					require.NoError(t, err)
					require.NoError(t, verr)
				} else {
					require.ErrorIs(t, err, anonymizer.ErrNoSolution)
					require.ErrorIs(t, verr, anonymizer.ErrPrivacyViolation)
				}
			}
		})
	}
}

func TestVerifyCountsStarredRowsAsSuppressed(t *testing.T) {
	tb, _ := flat(t, "a;flu", "a;cold", "*;flu")
	c := []anonymizer.Criterion{anonymizer.KAnonymity(2)}
	require.ErrorIs(t, anonymizer.Verify(t.Context(), tb, c, 0), anonymizer.ErrPrivacyViolation)
	require.NoError(t, anonymizer.Verify(t.Context(), tb, c, 0.34))
}

func TestReportJSON(t *testing.T) {
	tb, hs := golden(t)
	res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.Report.WriteJSON(&buf))
	var got map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &got))
	require.Equal(t, "full-domain generalisation", got["method"])
	require.Equal(t, []any{"k-anonymity(k=2)"}, got["models"])
	tr := got["transformation"].([]any)
	require.Equal(t, map[string]any{"attribute": "age", "level": 1.0, "height": 2.0}, tr[0])
	u := got["utility"].(map[string]any)
	require.Equal(t, "non-uniform-entropy", u["metric"])
	require.InDelta(t, 4+3*math.Log2(4.0/3)+2, u["value"], 1e-9)
	require.Equal(t, map[string]any{"input": 4.0, "output": 4.0, "suppressed": 0.0, "classes": 2.0}, got["rows"])
	params := got["parameters"].(map[string]any)
	require.Equal(t, "pruned", params["search"])
	// Each class holds two records: prosecutor risk 1/2 everywhere.
	risk := got["risk"].(map[string]any)
	require.Equal(t, 0.5, risk["prosecutor_highest"])
	require.Equal(t, 1.0, risk["records_at_risk"])
}

func TestUtilityFiguresOnGolden(t *testing.T) {
	tb, hs := golden(t)
	res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
		Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}, SuppressionLimit: 0.5,
	})
	require.NoError(t, err)
	u := res.Report.Utility
	// (age 1, sex 0), Cid and Dee suppressed.
	require.InDelta(t, 4, u.NonUniformEntropy, 1e-9)
	// Released Ann, Bob: age 1 each, sex 0; suppressed Cid, Dee at top:
	// age 2 each, sex log2(4/3) and 2.
	require.InDelta(t, 2+2+2+math.Log2(4.0/3)+2, u.NonUniformEntropySuppressedTop, 1e-9)
	require.InDelta(t, (0.5+0.0)/2, u.GeneralizationIntensity, 1e-9)
	// Loss: Ann, Bob age share (2-1)/(4-1) = 1/3, sex 0; suppressed 1+1.
	require.InDelta(t, (2.0/3+4)/8, u.Loss, 1e-9)
	// Discernibility: one class of 2 → 4, plus 2 suppressed × 4.
	require.InDelta(t, 4+8, u.Discernibility, 1e-9)
	// Classes: {20-29,M} plus the suppressed group.
	require.InDelta(t, 2, u.AverageClassSize, 1e-9)
}

func TestMetricsSearchAgree(t *testing.T) {
	for _, m := range []anonymizer.Metric{anonymizer.NonUniformEntropy, anonymizer.GeneralizationIntensity, anonymizer.Loss, anonymizer.Discernibility, anonymizer.AverageClassSize} {
		for _, sup := range []float64{0, 0.5} {
			t.Run(m.String(), func(t *testing.T) {
				var got [2][]anonymizer.QILevel
				for i, mode := range []anonymizer.SearchMode{anonymizer.Pruned, anonymizer.Exhaustive} {
					tb, hs := golden(t)
					res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
						Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}, SuppressionLimit: sup, Metric: m, Search: mode,
					})
					require.NoError(t, err)
					got[i] = res.Report.Transformation
				}
				require.Equal(t, got[1], got[0])
			})
		}
	}
	_, err := anonymizer.ParseMetric("nope")
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}

func TestAnonymizeProgressAndCancel(t *testing.T) {
	tb, hs, err := anonymizer.LoadAdult(adultDir(t))
	require.NoError(t, err)
	var calls, last, total int
	res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
		Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(5)}, Search: anonymizer.Exhaustive,
		Progress: func(done, n int) { calls++; last, total = done, n },
	})
	require.NoError(t, err)
	require.Greater(t, calls, 1)
	require.Equal(t, 12960, total)
	require.Equal(t, res.Report.Search.Evaluated, last)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, mode := range []anonymizer.SearchMode{anonymizer.Pruned, anonymizer.Exhaustive} {
		_, err = anonymizer.Anonymize(ctx, tb, anonymizer.Config{
			Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(5)}, Search: mode,
		})
		require.ErrorIs(t, err, context.Canceled, mode.String())
	}
}

// FuzzAnonymizeParameters feeds privacy parameters as a caller (the CLI,
// a cohort request) would pass them through: every combination is either
// refused with one of the package's sentinel errors or yields a release
// that Verify accepts, never a panic.
func FuzzAnonymizeParameters(f *testing.F) {
	f.Add(2, uint8(0), 0.0, 0.0, uint8(0), 0.0, 0.0, "diagnosis")
	f.Add(-1, uint8(1), 2.0, 0.0, uint8(1), 0.2, 0.25, "diagnosis")
	f.Add(5, uint8(2), 1.5, 0.0, uint8(0), 0.0, 1.0, "diagnosis")
	f.Add(1, uint8(3), 2.0, 3.0, uint8(2), 0.5, 0.5, "age")
	f.Add(0, uint8(0), 0.0, 0.0, uint8(1), math.NaN(), -1.0, "")
	f.Fuzz(func(t *testing.T, k int, lKind uint8, l, c float64, tKind uint8, tv, sup float64, attr string) {
		var criteria []anonymizer.Criterion
		if k != 0 {
			criteria = append(criteria, anonymizer.KAnonymity(k))
		}
		switch lKind % 4 {
		case 1:
			criteria = append(criteria, anonymizer.DistinctLDiversity(attr, int(math.Max(math.Min(l, 1e6), -1e6))))
		case 2:
			criteria = append(criteria, anonymizer.EntropyLDiversity(attr, l))
		case 3:
			criteria = append(criteria, anonymizer.RecursiveCLDiversity(attr, c, int(math.Max(math.Min(l, 1e6), -1e6))))
		}
		switch tKind % 3 {
		case 1:
			criteria = append(criteria, anonymizer.EqualDistanceTCloseness(attr, tv))
		case 2:
			criteria = append(criteria, anonymizer.OrderedDistanceTCloseness(attr, tv))
		}
		tb, hs := golden(t)
		res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: criteria, SuppressionLimit: sup})
		if err != nil {
			require.Nil(t, res)
			for _, sentinel := range []error{anonymizer.ErrMalformedInput, anonymizer.ErrUnknownAttribute, anonymizer.ErrMissingHierarchy, anonymizer.ErrNoSolution} {
				if errors.Is(err, sentinel) {
					return
				}
			}
			t.Fatalf("error wraps no sentinel: %v", err)
		}
		require.NoError(t, anonymizer.Verify(t.Context(), res.Output, criteria, sup))
		require.Less(t, res.Report.Rows.Suppressed, res.Report.Rows.Input, "a release of nothing but suppressed records")
	})
}
