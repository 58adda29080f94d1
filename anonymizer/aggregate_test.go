package anonymizer_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func repeat(line string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = line
	}
	return out
}

func TestCountsSecondarySuppression1D(t *testing.T) {
	rows := []string{"dx"}
	rows = append(rows, repeat("A", 10)...)
	rows = append(rows, repeat("B", 3)...)
	rows = append(rows, repeat("C", 7)...)
	rows = append(rows, repeat("D", 12)...)
	rel, err := anonymizer.Counts(table(t, rows...), []string{"dx"}, anonymizer.CountOptions{})
	require.NoError(t, err)
	ct, ok := rel.Table("dx")
	require.True(t, ok)
	// B (3) is primary; the total 32 is published, so C, the smallest
	// other cell, is suppressed too: 32-10-12 = 10 = B+C reveals neither.
	require.Equal(t, []anonymizer.Cell{
		{Values: []string{"A"}, Count: 10},
		{Values: []string{"B"}, Suppressed: true},
		{Values: []string{"C"}, Suppressed: true},
		{Values: []string{"D"}, Count: 12},
	}, ct.Cells)
	total, ok := rel.Table()
	require.True(t, ok)
	require.Equal(t, 32, total.Cells[0].Count)
}

func TestCountsProtectsEveryLine(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for trial := range 30 {
		lines := []string{"a;b;c"}
		for range 40 + r.IntN(200) {
			lines = append(lines, fmt.Sprintf("a%d;b%d;c%d", r.IntN(4), r.IntN(3), r.IntN(2)))
		}
		rel, err := anonymizer.Counts(table(t, lines...), []string{"a", "b", "c"}, anonymizer.CountOptions{MinCellSize: 5})
		require.NoError(t, err)
		require.Len(t, rel.Tables, 8)
		// Index every published cell by dimension set and values.
		type cellKey struct{ dims, vals string }
		cells := map[cellKey]anonymizer.Cell{}
		for _, tb := range rel.Tables {
			for _, c := range tb.Cells {
				cells[cellKey{strings.Join(tb.Dimensions, ","), strings.Join(c.Values, ",")}] = c
			}
		}
		truth := map[cellKey]int{}
		for _, l := range lines[1:] {
			v := strings.Split(l, ";")
			dims := []string{"a", "b", "c"}
			for mask := range 8 {
				var ds, vs []string
				for d := range 3 {
					if mask&(1<<d) != 0 {
						ds, vs = append(ds, dims[d]), append(vs, v[d])
					}
				}
				truth[cellKey{strings.Join(ds, ","), strings.Join(vs, ",")}]++
			}
		}
		for _, tb := range rel.Tables {
			for _, c := range tb.Cells {
				k := cellKey{strings.Join(tb.Dimensions, ","), strings.Join(c.Values, ",")}
				n := truth[k]
				if c.Suppressed {
					require.Zero(t, c.Count, "suppressed cells carry no count")
				} else {
					require.Equal(t, n, c.Count)
					require.True(t, n == 0 || n >= 5, "trial %d: published small cell %v=%d", trial, k, n)
				}
			}
			// Every line along every dimension whose margin is published
			// holds no suppressed cell, or ≥2 whose true sum is ≥ 5.
			for di, d := range tb.Dimensions {
				lines := map[string][]anonymizer.Cell{}
				for _, c := range tb.Cells {
					rest := append(append([]string{}, c.Values[:di]...), c.Values[di+1:]...)
					lines[strings.Join(rest, ",")] = append(lines[strings.Join(rest, ",")], c)
				}
				var mdims []string
				for _, x := range tb.Dimensions {
					if x != d {
						mdims = append(mdims, x)
					}
				}
				for rest, cs := range lines {
					if cells[cellKey{strings.Join(mdims, ","), rest}].Suppressed {
						continue
					}
					nsup, sum := 0, 0
					for _, c := range cs {
						if c.Suppressed {
							nsup++
							sum += truth[cellKey{strings.Join(tb.Dimensions, ","), strings.Join(c.Values, ",")}]
						}
					}
					require.True(t, nsup == 0 || (nsup >= 2 && sum >= 5), "trial %d: line %s of %v: %d suppressed summing %d", trial, rest, tb.Dimensions, nsup, sum)
				}
			}
		}
	}
}

func TestCountsRejectsBadQueries(t *testing.T) {
	tb := table(t, "a;b", "1;2")
	_, err := anonymizer.Counts(tb, nil, anonymizer.CountOptions{})
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
	_, err = anonymizer.Counts(tb, []string{"a", "a"}, anonymizer.CountOptions{})
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
	_, err = anonymizer.Counts(tb, []string{"z"}, anonymizer.CountOptions{})
	require.ErrorIs(t, err, anonymizer.ErrUnknownAttribute)
	_, err = anonymizer.Counts(tb, []string{"a"}, anonymizer.CountOptions{MinCellSize: -1})
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}
