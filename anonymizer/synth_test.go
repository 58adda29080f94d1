package anonymizer_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func TestSyntheticCohortDeterministicAndPlausible(t *testing.T) {
	const n = 20000
	a, err := anonymizer.SyntheticCohort(42, n)
	require.NoError(t, err)
	b, err := anonymizer.SyntheticCohort(42, n)
	require.NoError(t, err)
	c, err := anonymizer.SyntheticCohort(43, n)
	require.NoError(t, err)
	require.Equal(t, n, a.NumRows())
	same, differ := true, false
	for r := 0; r < n; r++ {
		if !equal(a.Row(r), b.Row(r)) {
			same = false
		}
		if !equal(a.Row(r), c.Row(r)) {
			differ = true
		}
	}
	require.True(t, same, "same seed, same cohort")
	require.True(t, differ, "other seed, other cohort")

	cols := map[string][]string{}
	for _, name := range a.Columns() {
		cols[name] = column(t, a, name)
	}
	ids := map[string]bool{}
	females, newborns, elderly := 0, 0, 0
	zips := map[string]bool{}
	for r := 0; r < n; r++ {
		ids[cols[anonymizer.CohortPatientID][r]] = true
		age, err := strconv.Atoi(cols[anonymizer.CohortAge][r])
		require.NoError(t, err)
		sex, dx := cols[anonymizer.CohortSex][r], cols[anonymizer.CohortDiagnosis][r]
		if sex == "female" {
			females++
		}
		if age == 0 {
			newborns++
		}
		if age >= 65 {
			elderly++
		}
		zips[cols[anonymizer.CohortPostalCode][r]] = true
		require.Len(t, cols[anonymizer.CohortPostalCode][r], 5)
		require.Regexp(t, `^202[1-5]-\d\d-\d\d$`, cols[anonymizer.CohortAdmissionDate][r])
		switch {
		case dx == "C61":
			require.NotEqual(t, "female", sex, "prostate cancer in a woman")
		case strings.HasPrefix(dx, "O"):
			require.NotEqual(t, "male", sex)
			require.True(t, age >= 16 && age <= 45, "delivery at %d", age)
		case dx == "Z38.0":
			require.Zero(t, age)
		}
		_, err = anonymizer.NormalizeICD10(dx)
		require.NoError(t, err)
	}
	require.Len(t, ids, n, "patient IDs are unique")
	require.InDelta(t, 0.52, float64(females)/n, 0.02)
	require.InDelta(t, 0.07, float64(newborns)/n, 0.03)
	require.InDelta(t, 0.40, float64(elderly)/n, 0.08)
	require.Greater(t, len(zips), 1000)

	typ, err := a.Type(anonymizer.CohortDiagnosis)
	require.NoError(t, err)
	require.Equal(t, anonymizer.Sensitive, typ)
	hs, err := anonymizer.CohortHierarchies(a)
	require.NoError(t, err)
	require.Len(t, hs, 5)
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCohortAnonymisation(t *testing.T) {
	tb, err := anonymizer.SyntheticCohort(7, 50000)
	require.NoError(t, err)
	hs, err := anonymizer.CohortHierarchies(tb)
	require.NoError(t, err)
	crit := []anonymizer.Criterion{anonymizer.KAnonymity(5), anonymizer.DistinctLDiversity(anonymizer.CohortDiagnosis, 3)}
	var res [2]*anonymizer.Result
	for i, mode := range []anonymizer.SearchMode{anonymizer.Pruned, anonymizer.Exhaustive} {
		res[i], err = anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: crit, SuppressionLimit: 0.05, Search: mode})
		require.NoError(t, err)
	}
	require.Equal(t, res[1].Report.Transformation, res[0].Report.Transformation)
	require.NoError(t, anonymizer.Verify(t.Context(), res[0].Output, crit, 0.05))
	_, hasID := res[0].Output.ColumnIndex(anonymizer.CohortPatientID)
	require.False(t, hasID, "patient IDs are dropped")
	require.LessOrEqual(t, res[0].Report.Rows.Suppressed, 2500)
}
