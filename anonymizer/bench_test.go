package anonymizer_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func benchAdult(b *testing.B, mode anonymizer.SearchMode, k int, sup float64) {
	tb, hs, err := anonymizer.LoadAdult(adultDir(b))
	require.NoError(b, err)
	cfg := anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(k)}, SuppressionLimit: sup, Search: mode}
	b.ReportAllocs()
	var search float64
	for b.Loop() {
		r, err := anonymizer.Anonymize(context.Background(), tb, cfg)
		require.NoError(b, err)
		search += r.Report.Search.SearchMillis
	}
	b.ReportMetric(search/float64(b.N), "search-ms/op")
	b.ReportMetric(float64(tb.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAdultTCloseness is issue 16's case: salary-class sensitive,
// k=3, equal-distance 0.2-closeness, 4% suppression.
func BenchmarkAdultTCloseness(b *testing.B) {
	for _, mode := range []anonymizer.SearchMode{anonymizer.Pruned, anonymizer.Exhaustive} {
		b.Run(mode.String(), func(b *testing.B) {
			tb, hs, err := anonymizer.LoadAdult(adultDir(b))
			require.NoError(b, err)
			require.NoError(b, tb.SetType("salary-class", anonymizer.Sensitive))
			cfg := anonymizer.Config{Hierarchies: hs, SuppressionLimit: 0.04, Search: mode,
				Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(3), anonymizer.EqualDistanceTCloseness("salary-class", 0.2)}}
			var search float64
			var evaluated int
			for b.Loop() {
				r, err := anonymizer.Anonymize(context.Background(), tb, cfg)
				require.NoError(b, err)
				search += r.Report.Search.SearchMillis
				evaluated = r.Report.Search.Evaluated
			}
			b.ReportMetric(search/float64(b.N), "search-ms/op")
			b.ReportMetric(float64(evaluated), "evaluated")
		})
	}
}

func BenchmarkAdultPrunedK5(b *testing.B)       { benchAdult(b, anonymizer.Pruned, 5, 0) }
func BenchmarkAdultPrunedK5Sup4(b *testing.B)   { benchAdult(b, anonymizer.Pruned, 5, 0.04) }
func BenchmarkAdultPrunedK100(b *testing.B)     { benchAdult(b, anonymizer.Pruned, 100, 0) }
func BenchmarkAdultExhaustiveK5(b *testing.B)   { benchAdult(b, anonymizer.Exhaustive, 5, 0) }
func BenchmarkAdultExhaustiveK100(b *testing.B) { benchAdult(b, anonymizer.Exhaustive, 100, 0) }

func BenchmarkCohort200k(b *testing.B) {
	tb, err := anonymizer.SyntheticCohort(anonymizer.DefaultCohortSeed, 200_000)
	require.NoError(b, err)
	hs, err := anonymizer.CohortHierarchies(tb)
	require.NoError(b, err)
	cfg := anonymizer.Config{Hierarchies: hs, SuppressionLimit: 0.05,
		Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(5), anonymizer.DistinctLDiversity(anonymizer.CohortDiagnosis, 3)}}
	for b.Loop() {
		_, err := anonymizer.Anonymize(context.Background(), tb, cfg)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(tb.NumRows())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkSyntheticCohort100k(b *testing.B) {
	for b.Loop() {
		_, err := anonymizer.SyntheticCohort(1, 100_000)
		require.NoError(b, err)
	}
}

func BenchmarkMondrian50k(b *testing.B) {
	tb, err := anonymizer.SyntheticCohort(1, 50_000)
	require.NoError(b, err)
	hs, err := anonymizer.CohortHierarchies(tb)
	require.NoError(b, err)
	cfg := anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(5)}}
	for b.Loop() {
		_, err := anonymizer.Mondrian(context.Background(), tb, cfg)
		require.NoError(b, err)
	}
}

func BenchmarkCounts(b *testing.B) {
	tb, err := anonymizer.SyntheticCohort(1, 100_000)
	require.NoError(b, err)
	for b.Loop() {
		_, err := anonymizer.Counts(tb, []string{anonymizer.CohortSex, anonymizer.CohortDiagnosis}, anonymizer.CountOptions{})
		require.NoError(b, err)
	}
}

// TestBenchFunctionsRun runs the CLI's bench functions at a small size, so
// that they keep working; the figures are not checked.
func TestBenchFunctionsRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs several searches")
	}
	var buf bytes.Buffer
	require.NoError(t, anonymizer.BenchCohort(t.Context(), &buf, 20_000, 1))
	require.Contains(t, buf.String(), "k=11")
	// BenchDPRelease draws ~10^6 secure noise samples (seconds); its
	// mechanism is covered by the DP tests.
}
