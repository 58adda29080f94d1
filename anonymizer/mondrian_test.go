package anonymizer_test

import (
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func TestMondrianKeepsMoreDetailThanFullDomain(t *testing.T) {
	tb, err := anonymizer.SyntheticCohort(11, 20000)
	require.NoError(t, err)
	hs, err := anonymizer.CohortHierarchies(tb)
	require.NoError(t, err)
	crit := []anonymizer.Criterion{anonymizer.KAnonymity(5), anonymizer.DistinctLDiversity(anonymizer.CohortDiagnosis, 2)}
	cfg := anonymizer.Config{Hierarchies: hs, Criteria: crit}
	local, err := anonymizer.Mondrian(t.Context(), tb, cfg)
	require.NoError(t, err)
	require.NoError(t, anonymizer.Verify(t.Context(), local.Output, crit, 0))
	require.Equal(t, tb.NumRows(), local.Output.NumRows())
	require.Equal(t, "mondrian local recoding", local.Report.Method)
	require.LessOrEqual(t, local.Report.Risk.ProsecutorHighest, 0.2)

	global, err := anonymizer.Anonymize(t.Context(), tb, cfg)
	require.NoError(t, err)
	require.Less(t, local.Report.Utility.NonUniformEntropy, global.Report.Utility.NonUniformEntropySuppressedTop)
	require.Greater(t, local.Report.Rows.Classes, global.Report.Rows.Classes)
}

func TestMondrianGolden(t *testing.T) {
	// Six records, k=3: the only useful split is on age at the median
	// (20|21|22 vs 30|31|32); sex cannot split further.
	tb := table(t, "age;sex", "20;M", "21;F", "22;M", "30;F", "31;M", "32;F")
	setTypes(t, tb, anonymizer.QuasiIdentifying, "age", "sex")
	hs := map[string]*anonymizer.Hierarchy{
		"age": hierarchy(t, "20;20-29;*", "21;20-29;*", "22;20-29;*", "30;30-39;*", "31;30-39;*", "32;30-39;*"),
		"sex": hierarchy(t, "M;*", "F;*"),
	}
	res, err := anonymizer.Mondrian(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(3)}})
	require.NoError(t, err)
	require.Equal(t, []string{"20-29", "20-29", "20-29", "30-39", "30-39", "30-39"}, column(t, res.Output, "age"))
	require.Equal(t, []string{"*", "*", "*", "*", "*", "*"}, column(t, res.Output, "sex"))

	_, err = anonymizer.Mondrian(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(7)}})
	require.ErrorIs(t, err, anonymizer.ErrNoSolution)
}
