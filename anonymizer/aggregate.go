package anonymizer

import (
	"fmt"
	"math/bits"
	"slices"
)

// DefaultMinCellSize is the smallest count released in an aggregate table.
const DefaultMinCellSize = 5

// maxCells bounds the size of a cross-tabulation, so that a query over
// high-cardinality dimensions is refused rather than exhausting memory.
const maxCells = 1 << 22

// CountOptions controls Counts.
type CountOptions struct {
	// MinCellSize is the smallest non-zero count released (0: 5).
	MinCellSize int
}

// Cell is one cell of a count table. A suppressed cell reports Count 0 so
// that marshalling it leaks nothing.
type Cell struct {
	Values     []string `json:"values"`
	Count      int      `json:"count"`
	Suppressed bool     `json:"suppressed,omitempty"`
}

// CountTable is a cross-tabulation of records by some dimensions; with no
// dimensions it is the grand total.
type CountTable struct {
	Dimensions []string `json:"dimensions"`
	Cells      []Cell   `json:"cells"`
}

// CountRelease is a disclosure-controlled release: the full
// cross-tabulation and every margin of it (all subsets of the dimensions),
// each with primary and secondary cell suppression applied.
type CountRelease struct {
	MinCellSize int          `json:"min_cell_size"`
	Tables      []CountTable `json:"tables"`
}

// Table returns the release's table over exactly dims (in order), if any.
func (r *CountRelease) Table(dims ...string) (*CountTable, bool) {
	for i := range r.Tables {
		if slices.Equal(r.Tables[i].Dimensions, dims) {
			return &r.Tables[i], true
		}
	}
	return nil, false
}

// Counts tabulates t by dims and protects the result: a non-zero count
// below the minimum cell size is suppressed (primary), and further cells are
// suppressed (secondary) until, in every row, column or deeper line of every
// table whose total is published, the suppressed cells are at least two and
// add up to at least the minimum cell size, so no suppressed count can be
// recovered by subtracting the published cells from the published margin.
// Cells over the product of the values observed in each dimension are
// listed, zero counts included.
func Counts(t *Table, dims []string, opts CountOptions) (*CountRelease, error) {
	minCell := opts.MinCellSize
	if minCell == 0 {
		minCell = DefaultMinCellSize
	}
	if minCell < 1 {
		return nil, fmt.Errorf("counts: minimum cell size %d: %w", minCell, ErrMalformedInput)
	}
	if len(dims) == 0 || len(dims) > 8 {
		return nil, fmt.Errorf("counts: %d dimensions, want 1 to 8: %w", len(dims), ErrMalformedInput)
	}
	cols := make([]*column, len(dims))
	domains := make([][]string, len(dims))
	// rank maps a dimension's value code to its position in the sorted domain.
	rank := make([][]int, len(dims))
	total := 1
	for i, d := range dims {
		c, err := t.col(d)
		if err != nil {
			return nil, fmt.Errorf("counts: %w", err)
		}
		if slices.Contains(dims[:i], d) {
			return nil, fmt.Errorf("counts: dimension %q twice: %w", d, ErrMalformedInput)
		}
		cols[i] = c
		domains[i] = slices.Clone(c.dict)
		slices.Sort(domains[i])
		rank[i] = make([]int, len(c.dict))
		for code, v := range c.dict {
			rank[i][code], _ = slices.BinarySearch(domains[i], v)
		}
		total *= max(len(domains[i]), 1)
		if total > maxCells {
			return nil, fmt.Errorf("counts: more than %d cells: %w", maxCells, ErrMalformedInput)
		}
	}
	nd := len(dims)
	rel := &CountRelease{MinCellSize: minCell}
	// suppressed[mask] holds the final suppression of the table over the
	// dimensions in mask; tables are settled by increasing size so that a
	// table's margins are final when it is protected.
	type tab struct {
		dims   []int
		shape  []int
		counts []int
		sup    []bool
	}
	tabs := make([]*tab, 1<<nd)
	masks := make([]int, 0, 1<<nd)
	for m := range 1 << nd {
		masks = append(masks, m)
	}
	slices.SortStableFunc(masks, func(a, b int) int { return bits.OnesCount(uint(a)) - bits.OnesCount(uint(b)) })
	for _, m := range masks {
		tb := &tab{}
		size := 1
		for d := range nd {
			if m&(1<<d) != 0 {
				tb.dims = append(tb.dims, d)
				tb.shape = append(tb.shape, len(domains[d]))
				size *= len(domains[d])
			}
		}
		tb.counts = make([]int, size)
		tb.sup = make([]bool, size)
		for r := 0; r < t.rows; r++ {
			idx := 0
			for i, d := range tb.dims {
				idx = idx*tb.shape[i] + rank[d][cols[d].codes[r]]
			}
			tb.counts[idx]++
		}
		for i, c := range tb.counts {
			tb.sup[i] = c > 0 && c < minCell
		}
		tabs[m] = tb
		// Secondary suppression to a fixpoint over all lines (fibers).
		for changed := true; changed; {
			changed = false
			for li, d := range tb.dims {
				margin := tabs[m&^(1<<d)]
				stride := 1
				for _, s := range tb.shape[li+1:] {
					stride *= s
				}
				n := tb.shape[li]
				for start := range size {
					if (start/stride)%n != 0 {
						continue // not the first cell of its line
					}
					// The line's margin cell: drop coordinate li.
					outer, inner := start/(stride*n), start%stride
					if margin.sup[outer*stride+inner] {
						continue // total unpublished: nothing to subtract from
					}
					// Candidate: the smallest published non-zero cell, else a
					// published zero (when all else is zero, the margin would
					// give the suppressed cell away).
					nsup, sum, cand := 0, 0, -1
					better := func(i int) bool {
						if cand < 0 {
							return true
						}
						ci, cc := tb.counts[i], tb.counts[cand]
						if (ci == 0) != (cc == 0) {
							return cc == 0
						}
						return ci < cc
					}
					for k := range n {
						i := start + k*stride
						if tb.sup[i] {
							nsup++
							sum += tb.counts[i]
						} else if better(i) {
							cand = i
						}
					}
					if nsup > 0 && (nsup == 1 || sum < minCell) && cand >= 0 {
						tb.sup[cand] = true
						changed = true
					}
				}
			}
		}
		ct := CountTable{Dimensions: []string{}}
		for _, d := range tb.dims {
			ct.Dimensions = append(ct.Dimensions, dims[d])
		}
		coord := make([]int, len(tb.dims))
		for i := range size {
			rem := i
			for j := len(tb.dims) - 1; j >= 0; j-- {
				coord[j] = rem % tb.shape[j]
				rem /= tb.shape[j]
			}
			vals := make([]string, len(tb.dims))
			for j, d := range tb.dims {
				vals[j] = domains[d][coord[j]]
			}
			cell := Cell{Values: vals, Count: tb.counts[i], Suppressed: tb.sup[i]}
			if cell.Suppressed {
				cell.Count = 0
			}
			ct.Cells = append(ct.Cells, cell)
		}
		rel.Tables = append(rel.Tables, ct)
	}
	return rel, nil
}
