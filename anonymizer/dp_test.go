package anonymizer_test

import (
	"fmt"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func dpTable(t *testing.T) *anonymizer.Table {
	lines := []string{"pid;sex;dx"}
	for i := range 1000 {
		lines = append(lines, fmt.Sprintf("p%d;%s;%s", i, []string{"female", "male"}[i%2], []string{"I10", "E11"}[i%3/2]))
	}
	// One person with 500 records in one cell: bounded to one.
	lines = append(lines, repeat("heavy;male;J18", 500)...)
	return table(t, lines...)
}

func TestDPCountsBoundsContributionsAndIsClose(t *testing.T) {
	tb := dpTable(t)
	acct, err := anonymizer.NewAccountant(10, nil)
	require.NoError(t, err)
	q := anonymizer.DPQuery{
		Dimensions:   []string{"sex", "dx"},
		Domains:      map[string][]string{"sex": {"female", "male"}, "dx": {"I10", "E11", "J18", "C50"}},
		PersonColumn: "pid",
		Epsilon:      1,
	}
	rel, err := acct.Counts(tb, "pharma-a", q)
	require.NoError(t, err)
	require.Len(t, rel.Cells, 8, "every public partition, none from the data")
	require.InDelta(t, 1.0, rel.NoiseScale, 1e-12)
	truth := map[string]int64{"female,I10": 334, "female,E11": 166, "male,I10": 333, "male,E11": 167, "male,J18": 1}
	for _, c := range rel.Cells {
		k := c.Values[0] + "," + c.Values[1]
		// Laplace(1): |noise| > 40 has probability e^-40.
		require.InDelta(t, float64(truth[k]), float64(c.Count), 40, k)
		require.GreaterOrEqual(t, c.Count, int64(0))
	}
	require.InDelta(t, 1, acct.Spent("pharma-a"), 1e-12)
	require.InDelta(t, 9, acct.Remaining("pharma-a"), 1e-12)
}

func TestDPBudgetEnforced(t *testing.T) {
	tb := dpTable(t)
	acct, err := anonymizer.NewAccountant(1, map[string]float64{"pharma-b": 0.5})
	require.NoError(t, err)
	q := anonymizer.DPQuery{Dimensions: []string{"sex"}, Domains: map[string][]string{"sex": {"female", "male"}}, PersonColumn: "pid", Epsilon: 0.4}
	_, err = acct.Counts(tb, "pharma-a", q)
	require.NoError(t, err)
	_, err = acct.Counts(tb, "pharma-a", q)
	require.NoError(t, err)
	_, err = acct.Counts(tb, "pharma-a", q)
	require.ErrorIs(t, err, anonymizer.ErrBudgetExhausted)
	require.InDelta(t, 0.8, acct.Spent("pharma-a"), 1e-12, "refused query costs nothing")
	// Restored spending counts against the budget.
	_, err = acct.Counts(tb, "pharma-b", anonymizer.DPQuery{Dimensions: q.Dimensions, Domains: q.Domains, PersonColumn: "pid", Epsilon: 0.6})
	require.ErrorIs(t, err, anonymizer.ErrBudgetExhausted)

	// Invalid queries are rejected before charging.
	bad := []anonymizer.DPQuery{
		{Dimensions: []string{"sex"}, Domains: q.Domains, PersonColumn: "pid", Epsilon: 0},
		{Dimensions: []string{"sex"}, Domains: q.Domains, PersonColumn: "nope", Epsilon: 0.1},
		{Dimensions: []string{"sex"}, PersonColumn: "pid", Epsilon: 0.1},
		{Dimensions: []string{"sex"}, Domains: q.Domains, PersonColumn: "pid", Epsilon: 0.1, MaxPartitionsContributed: -1},
	}
	for i, b := range bad {
		_, err := acct.Counts(tb, "pharma-c", b)
		require.Error(t, err, i)
		require.Zero(t, acct.Spent("pharma-c"), i)
	}
	_, err = anonymizer.NewAccountant(0, nil)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}
