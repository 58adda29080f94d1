package anonymizer

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
)

// qiInfo is a quasi-identifier prepared for the search: every level's labels
// as dense codes and the maps between levels.
type qiInfo struct {
	name   string
	col    int
	hier   *Hierarchy
	height int
	gen    [][]int32  // [level][code at level 0] -> code at level
	up     [][]int32  // [level][code at level] -> code at level+1
	labels [][]string // [level][code] -> label
	counts [][]int64  // [level][code] -> records in the data
	share  [][]float64
	shift  uint
	mask   uint64
	// compose caches multi-level maps: [from][to].
	compose [][][]int32
}

// sensInfo is a sensitive attribute carried inside the packed keys.
type sensInfo struct {
	name   string
	col    int
	shift  uint
	mask   uint64
	labels []string
}

// encoded is a table prepared for the lattice search.
type encoded struct {
	t      *Table
	n      int
	qis    []qiInfo
	sens   []sensInfo
	qiMask uint64
	base   *groups
	// entropy[q][level] is ARX's precomputed non-uniform entropy of
	// quasi-identifier q generalised to level, summed over records.
	entropy [][]float64
}

func bitsFor(n int) uint {
	if n <= 1 {
		return 0
	}
	return uint(bits.Len(uint(n - 1)))
}

// encode dictionary-maps the quasi-identifiers through their hierarchies and
// groups the records at the bottom of the lattice.
func encode(t *Table, hier map[string]*Hierarchy, sensitive []string) (*encoded, error) {
	e := &encoded{t: t, n: t.rows}
	var shift uint
	for ci, c := range t.cols {
		if c.typ != QuasiIdentifying {
			continue
		}
		h := hier[c.name]
		if h == nil {
			return nil, fmt.Errorf("encode %q: %w", c.name, ErrMissingHierarchy)
		}
		q, err := encodeQI(t, ci, h)
		if err != nil {
			return nil, err
		}
		w := bitsFor(len(q.labels[0]))
		q.shift, q.mask = shift, (uint64(1)<<w)-1
		e.qiMask |= q.mask << shift
		shift += w
		e.qis = append(e.qis, q)
	}
	if len(e.qis) == 0 {
		return nil, fmt.Errorf("encode: no quasi-identifier: %w", ErrMalformedInput)
	}
	for _, name := range sensitive {
		if slices.ContainsFunc(e.sens, func(s sensInfo) bool { return s.name == name }) {
			continue
		}
		ci, ok := t.ColumnIndex(name)
		if !ok {
			return nil, fmt.Errorf("encode sensitive %q: %w", name, ErrUnknownAttribute)
		}
		c := t.cols[ci]
		if c.typ != Sensitive {
			return nil, fmt.Errorf("encode: %q is %s, privacy model needs it sensitive: %w", name, c.typ, ErrMalformedInput)
		}
		w := bitsFor(len(c.dict))
		e.sens = append(e.sens, sensInfo{name: name, col: ci, shift: shift, mask: (uint64(1) << w) - 1, labels: c.dict})
		shift += w
	}
	if shift > 64 {
		return nil, fmt.Errorf("encode: quasi-identifiers and sensitive attributes need %d bits, at most 64 supported: %w", shift, ErrMalformedInput)
	}
	e.entropy = make([][]float64, len(e.qis))
	for qi := range e.qis {
		q := &e.qis[qi]
		e.entropy[qi] = make([]float64, q.height+1)
		for l := 1; l <= q.height; l++ {
			var v float64
			for c0, a := range q.counts[0] {
				if a == 0 {
					continue
				}
				b := q.counts[l][q.gen[l][c0]]
				v += float64(a) * math.Log2(float64(b)/float64(a))
			}
			e.entropy[qi][l] = v
		}
	}
	// Group the records at the bottom of the lattice: a partitioned
	// aggregation of one key per row (an identity rollup).
	rowsG := &groups{keys: make([]uint64, e.n), counts: make([]int32, e.n)}
	for r := range e.n {
		rowsG.keys[r] = e.rowKey(r, nil)
		rowsG.counts[r] = 1
	}
	e.base = &groups{}
	zero := make([]int, len(e.qis))
	e.rollupAny(rowsG, e.base, zero, zero, &hasher{}, &partScratch{}, runtime.GOMAXPROCS(0))
	return e, nil
}

func encodeQI(t *Table, ci int, h *Hierarchy) (qiInfo, error) {
	c := t.cols[ci]
	q := qiInfo{name: c.name, col: ci, hier: h, height: h.Height()}
	lv := h.Levels()
	q.gen = make([][]int32, lv)
	q.labels = make([][]string, lv)
	q.counts = make([][]int64, lv)
	q.share = make([][]float64, lv)
	index := make([]map[string]int32, lv)
	for l := range lv {
		index[l] = map[string]int32{}
		q.gen[l] = make([]int32, len(c.dict))
	}
	for code0, v := range c.dict {
		hr, ok := h.index[v]
		if !ok {
			row := slices.Index(c.codes, int32(code0))
			return q, rowErr("table", row+2, "value %q of %q is not in its hierarchy", v, c.name)
		}
		for l := range lv {
			label := h.rows[hr][l]
			id, ok := index[l][label]
			if !ok {
				id = int32(len(q.labels[l]))
				index[l][label] = id
				q.labels[l] = append(q.labels[l], label)
			}
			q.gen[l][code0] = id
		}
	}
	for l := range lv {
		q.counts[l] = make([]int64, len(q.labels[l]))
	}
	for _, code0 := range c.codes {
		for l := range lv {
			q.counts[l][q.gen[l][code0]]++
		}
	}
	q.up = make([][]int32, lv-1)
	for l := 0; l+1 < lv; l++ {
		q.up[l] = make([]int32, len(q.labels[l]))
		for code0 := range c.dict {
			q.up[l][q.gen[l][code0]] = q.gen[l+1][code0]
		}
	}
	// Domain share for the loss metric: how many of the hierarchy's values a
	// label covers, so "*" costs 1 and an original value 0.
	leaves := make([]map[string]int, lv)
	for l := range lv {
		leaves[l] = map[string]int{}
	}
	for _, r := range h.rows {
		for l := range lv {
			leaves[l][r[l]]++
		}
	}
	dom := float64(len(h.rows))
	for l := range lv {
		q.share[l] = make([]float64, len(q.labels[l]))
		for id, label := range q.labels[l] {
			if dom > 1 {
				q.share[l][id] = float64(leaves[l][label]-1) / (dom - 1)
			}
		}
	}
	q.compose = make([][][]int32, lv)
	for a := range lv {
		q.compose[a] = make([][]int32, lv)
	}
	return q, nil
}

// mapUp returns the map from codes at level a to codes at level b > a.
func (q *qiInfo) mapUp(a, b int) []int32 {
	if b == a+1 {
		return q.up[a]
	}
	if m := q.compose[a][b]; m != nil {
		return m
	}
	m := make([]int32, len(q.labels[a]))
	for c := range m {
		x := int32(c)
		for l := a; l < b; l++ {
			x = q.up[l][x]
		}
		m[c] = x
	}
	q.compose[a][b] = m
	return m
}

// warm precomputes every multi-level map so that concurrent searches only
// read them.
func (e *encoded) warm() {
	for qi := range e.qis {
		q := &e.qis[qi]
		for a := 0; a <= q.height; a++ {
			for b := a + 1; b <= q.height; b++ {
				q.mapUp(a, b)
			}
		}
	}
}

// rowKey packs row r at the given levels (nil: level 0).
func (e *encoded) rowKey(r int, levels []int) uint64 {
	var key uint64
	for qi := range e.qis {
		q := &e.qis[qi]
		c := e.t.cols[q.col].codes[r]
		if levels != nil {
			c = q.gen[levels[qi]][c]
		}
		key |= uint64(c) << q.shift
	}
	for _, s := range e.sens {
		key |= uint64(e.t.cols[s.col].codes[r]) << s.shift
	}
	return key
}

// rollup fills dst with src generalised from levels from to levels to
// (to >= from component-wise), building it with h.
func (e *encoded) rollup(src, dst *groups, from, to []int, h *hasher) {
	type step struct {
		shift uint
		mask  uint64
		m     []int32
	}
	var steps [64]step
	ns := 0
	var clearMask uint64 = ^uint64(0)
	for qi := range e.qis {
		if to[qi] > from[qi] {
			q := &e.qis[qi]
			steps[ns] = step{q.shift, q.mask, q.mapUp(from[qi], to[qi])}
			clearMask &^= q.mask << q.shift
			ns++
		}
	}
	dst.begin(h, src.len())
	// The hot loop of every search, with probing inlined by hand: src has
	// at most as many keys as dst, so the index never grows.
	slots, hshift, smask := h.slots, h.hshift, h.mask
	keys := dst.keys
	sk, sc := src.keys, src.counts
	if ns == 1 {
		s := steps[0]
		for i, k := range sk {
			k = k&clearMask | uint64(s.m[(k>>s.shift)&s.mask])<<s.shift
			x := (k * 0x9E3779B97F4A7C15) >> hshift
			for {
				sl := &slots[x]
				if sl.cnt == 0 {
					*sl = slot{k, sc[i], int32(len(keys))}
					keys = append(keys, k)
					break
				}
				if sl.key == k {
					sl.cnt += sc[i]
					break
				}
				x = (x + 1) & smask
			}
		}
	} else {
		st := steps[:ns]
		for i, k := range sk {
			out := k & clearMask
			for _, s := range st {
				out |= uint64(s.m[(k>>s.shift)&s.mask]) << s.shift
			}
			k = out
			x := (k * 0x9E3779B97F4A7C15) >> hshift
			for {
				sl := &slots[x]
				if sl.cnt == 0 {
					*sl = slot{k, sc[i], int32(len(keys))}
					keys = append(keys, k)
					break
				}
				if sl.key == k {
					sl.cnt += sc[i]
					break
				}
				x = (x + 1) & smask
			}
		}
	}
	dst.keys = keys
	dst.end()
}
