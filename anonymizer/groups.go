package anonymizer

// groups is a multiset of packed records: every distinct key (the codes of
// the quasi-identifiers at some generalisation, plus the codes of the
// sensitive attributes, bit-packed into one uint64) with its frequency. It is
// ARX's "groupify" reduced to two flat slices, so that rolling a
// transformation up by one level touches each distinct combination once
// instead of each record.
//
// Groups are built through a hasher: begin, add…, end. Until the hasher is
// reused, find looks keys up.
type groups struct {
	keys   []uint64
	counts []int32
	h      *hasher
	// parts, when set, splits keys into ranges such that all keys of one
	// equivalence class (same quasi-identifier bits) share a range; a
	// partitioned rollup produces it and class grouping exploits it.
	parts []int32
}

// slot is one entry of a hasher's open-addressing table. The key and its
// running count share a cache line, so adding a record costs one random
// memory access; cnt == 0 marks an empty slot (counts are never zero).
type slot struct {
	key uint64
	cnt int32
	idx int32
}

// hasher is the scratch index used to build groups. One per goroutine.
type hasher struct {
	used   int // keys added since reset
	slots  []slot
	hshift uint
	mask   uint64
}

func (h *hasher) reset(n int) {
	h.used = 0
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(h.slots) >= size {
		h.slots = h.slots[:size]
		clear(h.slots)
	} else {
		h.slots = make([]slot, size)
	}
	bits := uint(0)
	for 1<<bits < size {
		bits++
	}
	h.hshift = 64 - bits
	h.mask = uint64(size - 1)
}

// begin empties g and starts building it with h, sized for n distinct keys.
func (g *groups) begin(h *hasher, n int) {
	h.reset(n)
	g.h = h
	if cap(g.keys) < n {
		g.keys = make([]uint64, 0, n)
	}
	g.keys = g.keys[:0]
	g.counts = g.counts[:0]
	g.parts = g.parts[:0]
}

// segment flushes the counts gathered so far and restarts the hasher for
// up to n further distinct keys, which the caller guarantees differ from
// all earlier ones.
func (g *groups) segment(n int) {
	g.end()
	g.h.reset(n)
}

// add counts cnt (> 0) records under key and returns the key's index.
func (g *groups) add(key uint64, cnt int32) int {
	h := g.h
	if 2*(h.used+1) > len(h.slots) {
		h.grow()
	}
	i := (key * 0x9E3779B97F4A7C15) >> h.hshift
	for {
		s := &h.slots[i]
		if s.cnt == 0 {
			*s = slot{key, cnt, int32(len(g.keys))}
			g.keys = append(g.keys, key)
			h.used++
			return len(g.keys) - 1
		}
		if s.key == key {
			s.cnt += cnt
			return int(s.idx)
		}
		i = (i + 1) & h.mask
	}
}

// end copies the counts out of the hasher.
func (g *groups) end() {
	n := len(g.keys)
	if cap(g.counts) < n {
		c := make([]int32, n, max(n, cap(g.keys)))
		copy(c, g.counts)
		g.counts = c
	}
	g.counts = g.counts[:n]
	for _, s := range g.h.slots {
		if s.cnt != 0 {
			g.counts[s.idx] = s.cnt
		}
	}
}

// grow doubles the index, keeping the load factor at most one half.
func (h *hasher) grow() {
	old, used := h.slots, h.used
	h.slots = nil
	h.reset(len(old))
	h.used = used
	for _, s := range old {
		if s.cnt == 0 {
			continue
		}
		i := (s.key * 0x9E3779B97F4A7C15) >> h.hshift
		for h.slots[i].cnt != 0 {
			i = (i + 1) & h.mask
		}
		h.slots[i] = s
	}
}

// find returns the index of key, or -1. Valid until g's hasher is reused.
func (g *groups) find(key uint64) int {
	h := g.h
	i := (key * 0x9E3779B97F4A7C15) >> h.hshift
	for {
		s := &h.slots[i]
		if s.cnt == 0 {
			return -1
		}
		if s.key == key {
			return int(s.idx)
		}
		i = (i + 1) & h.mask
	}
}

func (g *groups) len() int { return len(g.keys) }

// memBytes is the memory the groups hold, for the search's cache budget.
func (g *groups) memBytes() int { return cap(g.keys)*8 + cap(g.counts)*4 }

// detach keeps only the keys and counts (e.g. for a cache entry).
func (g *groups) detach() { g.h = nil }
