package anonymizer

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Mondrian anonymises t by multidimensional local recoding (LeFevre et al.'s
// Mondrian, strict partitioning): the records are split recursively at the
// median of the quasi-identifier with the widest normalised range as long
// as both halves satisfy every class-level criterion; each final partition
// releases, per quasi-identifier, the lowest hierarchy label covering all its
// values. Different partitions may be generalised differently, which keeps
// more detail than full-domain generalisation. Attributes whose values are
// all numeric are ordered numerically, others by hierarchy order. No records
// are suppressed; cfg.SuppressionLimit, Search and Metric are ignored. The
// output is checked with Verify before it is returned.
func Mondrian(ctx context.Context, t *Table, cfg Config) (*Result, error) {
	start := time.Now()
	if err := cfg.validate(t); err != nil {
		return nil, fmt.Errorf("mondrian: %w", err)
	}
	if cfg.RiskThreshold == 0 {
		cfg.RiskThreshold = 0.2
	}
	e, err := encode(t, cfg.Hierarchies, cfg.sensitive())
	if err != nil {
		return nil, fmt.Errorf("mondrian: %w", err)
	}
	ev, err := newEvaluator(e, cfg.Criteria, 0, NonUniformEntropy)
	if err != nil {
		return nil, fmt.Errorf("mondrian: %w", err)
	}
	nq := len(e.qis)
	// rank[q][code0] orders each attribute's values.
	rank := make([][]int32, nq)
	span := make([]int, nq)
	for qi := range e.qis {
		q := &e.qis[qi]
		dict := t.cols[q.col].dict
		idx := make([]int, len(dict))
		nums := make([]float64, len(dict))
		numeric := true
		for i, v := range dict {
			idx[i] = i
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				numeric = false
			}
			nums[i] = f
		}
		if numeric {
			slices.SortStableFunc(idx, func(a, b int) int { return cmpFloat(nums[a], nums[b]) })
		} else {
			slices.SortStableFunc(idx, func(a, b int) int {
				ra, _ := q.hier.rank(dict[a])
				rb, _ := q.hier.rank(dict[b])
				return ra - rb
			})
		}
		rank[qi] = make([]int32, len(dict))
		for r, code := range idx {
			rank[qi][code] = int32(r)
		}
		span[qi] = max(len(dict)-1, 1)
	}
	codes := func(qi int) []int32 { return t.cols[e.qis[qi].col].codes }
	rows := make([]int32, e.n)
	for i := range rows {
		rows[i] = int32(i)
	}
	// ok decides whether a set of rows may form a class.
	sensHist := make([][]int32, len(e.sens))
	for i, s := range e.sens {
		sensHist[i] = make([]int32, len(s.labels))
	}
	var hist []sensCount
	ok := func(part []int32) bool {
		for _, c := range ev.checks {
			hist = hist[:0]
			if c.sens >= 0 {
				sc := t.cols[e.sens[c.sens].col].codes
				h := sensHist[c.sens]
				for _, r := range part {
					h[sc[r]]++
				}
				for code, n := range h {
					if n > 0 {
						hist = append(hist, sensCount{int32(code), n})
						h[code] = 0
					}
				}
			}
			if !c.c.classOK(len(part), hist) {
				return false
			}
		}
		return true
	}
	if !ok(rows) {
		return nil, fmt.Errorf("mondrian: %w", ErrNoSolution)
	}
	type part struct{ lo, hi int }
	stack := []part{{0, e.n}}
	var final []part
	order := make([]int, nq)
	lo32 := make([]int32, nq)
	hi32 := make([]int32, nq)
	var count []int32
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("mondrian: %w", err)
		}
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		seg := rows[p.lo:p.hi]
		for qi := range nq {
			lo32[qi], hi32[qi] = math.MaxInt32, -1
			rk, cs := rank[qi], codes(qi)
			for _, r := range seg {
				x := rk[cs[r]]
				lo32[qi] = min(lo32[qi], x)
				hi32[qi] = max(hi32[qi], x)
			}
			order[qi] = qi
		}
		slices.SortStableFunc(order, func(a, b int) int {
			return cmpFloat(float64(hi32[b]-lo32[b])/float64(span[b]), float64(hi32[a]-lo32[a])/float64(span[a]))
		})
		split := false
		for _, qi := range order {
			if hi32[qi] == lo32[qi] {
				break
			}
			rk, cs := rank[qi], codes(qi)
			width := int(hi32[qi]-lo32[qi]) + 1
			if cap(count) < width {
				count = make([]int32, width)
			}
			count = count[:width]
			clear(count)
			for _, r := range seg {
				count[rk[cs[r]]-lo32[qi]]++
			}
			// Median: the smallest rank with at least half the records at
			// or below it; split left ≤ median < right.
			half, acc, med := int32(len(seg)/2), int32(0), int32(0)
			for i, c := range count {
				acc += c
				if acc >= half && c > 0 {
					med = int32(i) + lo32[qi]
					break
				}
			}
			if med >= hi32[qi] {
				med = hi32[qi] - 1
			}
			// Partition seg in place.
			i, j := 0, len(seg)-1
			for i <= j {
				if rk[cs[seg[i]]] <= med {
					i++
				} else {
					seg[i], seg[j] = seg[j], seg[i]
					j--
				}
			}
			if i == 0 || i == len(seg) || !ok(seg[:i]) || !ok(seg[i:]) {
				continue
			}
			stack = append(stack, part{p.lo, p.lo + i}, part{p.lo + i, p.hi})
			split = true
			break
		}
		if !split {
			final = append(final, p)
		}
	}
	// Label each partition with the lowest common hierarchy level.
	labels := make([][]string, nq)
	for qi := range labels {
		labels[qi] = make([]string, e.n)
	}
	levelSum := make([]float64, nq)
	for _, p := range final {
		seg := rows[p.lo:p.hi]
		for qi := range nq {
			q := &e.qis[qi]
			cs := codes(qi)
			level := q.height
			for l := 0; l <= q.height; l++ {
				g := q.gen[l]
				first := g[cs[seg[0]]]
				same := true
				for _, r := range seg[1:] {
					if g[cs[r]] != first {
						same = false
						break
					}
				}
				if same {
					level = l
					break
				}
			}
			label := q.labels[level][q.gen[level][cs[seg[0]]]]
			for _, r := range seg {
				labels[qi][r] = label
			}
			levelSum[qi] += float64(level * len(seg))
		}
	}
	out, err := buildOutput(e, false, func(int) bool { return true }, make([]int, nq))
	if err != nil {
		return nil, fmt.Errorf("mondrian: %w", err)
	}
	for qi := range e.qis {
		oc, _ := out.col(e.qis[qi].name)
		oc.dict, oc.index = nil, map[string]int32{}
		for r := range oc.codes {
			oc.codes[r] = oc.code(labels[qi][r])
		}
	}
	if err := Verify(ctx, out, cfg.Criteria, 0); err != nil {
		return nil, fmt.Errorf("mondrian: output check: %w", err)
	}
	rep := newReport(e, &cfg, "mondrian local recoding")
	rep.Parameters.SuppressionLimit = 0
	risk, err := AssessRisk(out, out.QuasiIdentifiers(), cfg.RiskThreshold, nil)
	if err != nil {
		return nil, fmt.Errorf("mondrian: %w", err)
	}
	rep.Risk = risk
	rep.Rows = RowCounts{Input: e.n, Output: out.rows, Classes: risk.Classes}
	rep.Utility = mondrianUtility(e, out, labels, levelSum, risk)
	rep.ElapsedMillis = float64(time.Since(start).Microseconds()) / 1000
	return &Result{Output: out, Report: *rep}, nil
}

// mondrianUtility measures a local recoding: per-record non-uniform entropy
// (log2 of how many records share the released label over how many share the
// original value), domain-share loss, mean level intensity, discernibility
// and average class size.
func mondrianUtility(e *encoded, out *Table, labels [][]string, levelSum []float64, risk Risk) Utility {
	u := Utility{Metric: Loss}
	n := float64(e.n)
	for qi := range e.qis {
		q := &e.qis[qi]
		cs := e.t.cols[q.col].codes
		relCount := map[string]int{}
		for _, l := range labels[qi] {
			relCount[l]++
		}
		leaves := map[string]int{}
		for _, row := range q.hier.rows {
			for _, l := range row {
				leaves[l]++
			}
		}
		dom := float64(len(q.hier.rows))
		for r, l := range labels[qi] {
			orig := float64(q.counts[0][cs[r]])
			u.NonUniformEntropy += math.Log2(float64(relCount[l]) / orig)
			if dom > 1 {
				// A label may occur at several levels; leaves[l] counts all
				// hierarchy cells with that text, an upper bound.
				u.Loss += math.Min(1, float64(max(leaves[l], 1)-1)/(dom-1))
			}
		}
		if q.height > 0 {
			u.GeneralizationIntensity += levelSum[qi] / n / float64(q.height)
		}
	}
	u.NonUniformEntropySuppressedTop = u.NonUniformEntropy
	var top float64
	for qi := range e.qis {
		for _, c := range e.qis[qi].counts[0] {
			if c > 0 {
				top += float64(c) * math.Log2(n/float64(c))
			}
		}
	}
	if top > 0 {
		u.NonUniformEntropyNormalized = u.NonUniformEntropy / top
	}
	u.Loss /= n * float64(len(e.qis))
	u.GeneralizationIntensity /= float64(len(e.qis))
	// Discernibility from the released classes.
	classes := map[string]int{}
	qiCols := out.QuasiIdentifiers()
	for r := 0; r < out.rows; r++ {
		k := ""
		for _, c := range qiCols {
			i, _ := out.ColumnIndex(c)
			k += out.Value(r, i) + "\x00"
		}
		classes[k]++
	}
	for _, s := range classes {
		u.Discernibility += float64(s) * float64(s)
	}
	u.AverageClassSize = n / float64(max(risk.Classes, 1))
	u.Value = u.Loss
	return u
}
