package anonymizer

import (
	"sync"
	"sync/atomic"
)

// partitionMin is the size from which rollups are partitioned: below it
// the hash table fits in cache anyway.
const partitionMin = 1 << 16

// partScratch holds the buffers of partitioned rollups, reused across
// evaluations of one search.
type partScratch struct {
	tmp  []uint64
	pk   []uint64
	pc   []int32
	hist []int
	hs   []hasher
}

// rollupAny rolls src up to dst, partitioned when src is large.
func (e *encoded) rollupAny(src, dst *groups, from, to []int, h *hasher, ps *partScratch, workers int) {
	if src.len() < partitionMin || ps == nil {
		e.rollup(src, dst, from, to, h)
		dst.detach()
		return
	}
	e.rollupParts(src, dst, from, to, ps, workers)
}

// rollupParts is rollup for large inputs: it first scatters the generalised
// keys into buckets by a hash of their quasi-identifier bits (sequential
// writes), then aggregates each bucket with a hash table small enough to
// stay in cache, buckets shared among workers. Random memory access, the
// cost of a large aggregation, becomes cache-local, and keys of one class
// end up in one bucket (recorded in dst.parts) for class grouping.
func (e *encoded) rollupParts(src, dst *groups, from, to []int, ps *partScratch, workers int) {
	n := src.len()
	pbits := uint(4)
	for pbits < 10 && n>>(pbits+12) > 0 {
		pbits++
	}
	nb := 1 << pbits
	if cap(ps.tmp) < n {
		ps.tmp = make([]uint64, n)
		ps.pk = make([]uint64, n)
		ps.pc = make([]int32, n)
	}
	tmp, pk, pc := ps.tmp[:n], ps.pk[:n], ps.pc[:n]
	if cap(ps.hist) < nb+1 {
		ps.hist = make([]int, nb+1)
	}
	hist := ps.hist[:nb+1]
	clear(hist)
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
	st := steps[:ns]
	qiMask := e.qiMask
	pshift := 64 - pbits
	for i, k := range src.keys {
		out := k & clearMask
		for _, s := range st {
			out |= uint64(s.m[(k>>s.shift)&s.mask]) << s.shift
		}
		tmp[i] = out
		hist[((out&qiMask)*partMul)>>pshift+1]++
	}
	for b := 1; b <= nb; b++ {
		hist[b] += hist[b-1]
	}
	pos := make([]int, nb)
	copy(pos, hist[:nb])
	for i, k := range tmp {
		b := ((k & qiMask) * partMul) >> pshift
		pk[pos[b]] = k
		pc[pos[b]] = src.counts[i]
		pos[b]++
	}
	// Aggregate buckets in place: bucket b's distinct keys are written over
	// the start of its own range, then ranges are compacted.
	workers = max(1, min(workers, nb))
	for len(ps.hs) < workers {
		ps.hs = append(ps.hs, hasher{})
	}
	outLen := make([]int, nb)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(h *hasher) {
			defer wg.Done()
			for {
				b := int(next.Add(1) - 1)
				if b >= nb {
					return
				}
				lo, hi := hist[b], hist[b+1]
				h.reset(hi - lo)
				m := lo
				for i := lo; i < hi; i++ {
					k := pk[i]
					x := (k * 0xC2B2AE3D27D4EB4F) >> h.hshift
					for {
						sl := &h.slots[x]
						if sl.cnt == 0 {
							*sl = slot{k, pc[i], int32(m)}
							pk[m] = k
							m++
							break
						}
						if sl.key == k {
							sl.cnt += pc[i]
							break
						}
						x = (x + 1) & h.mask
					}
				}
				for _, sl := range h.slots {
					if sl.cnt != 0 {
						pc[sl.idx] = sl.cnt
					}
				}
				outLen[b] = m - lo
			}
		}(&ps.hs[w])
	}
	wg.Wait()
	total := 0
	for _, m := range outLen {
		total += m
	}
	if cap(dst.keys) < total {
		dst.keys = make([]uint64, 0, total)
	}
	if cap(dst.counts) < total {
		dst.counts = make([]int32, 0, total)
	}
	dst.keys, dst.counts, dst.parts, dst.h = dst.keys[:0], dst.counts[:0], dst.parts[:0], nil
	for b := range nb {
		lo := hist[b]
		dst.parts = append(dst.parts, int32(len(dst.keys)))
		dst.keys = append(dst.keys, pk[lo:lo+outLen[b]]...)
		dst.counts = append(dst.counts, pc[lo:lo+outLen[b]]...)
	}
	dst.parts = append(dst.parts, int32(len(dst.keys)))
}

// partMul is the multiplier of the partitioning hash. It must differ from
// the index hash's, or every key of a part would probe the same region of
// a part-local index.
const partMul = 0xD6E8FEB86659FD93
