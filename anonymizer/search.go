package anonymizer

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
)

// SearchMode selects how the generalisation lattice is searched.
type SearchMode int

const (
	// Pruned is the default Flash-like search: it visits transformations
	// best-first (by loss when the metric does not depend on the data, by
	// height otherwise), tags every specialisation of a failing
	// transformation as failing and every generalisation of a passing one
	// as no better, and climbs paths upward from each failure to widen the
	// tagged set, as ARX's Flash does. Where the models are not monotone
	// (t-closeness, entropy or recursive l-diversity, average risk, all
	// with suppression), it tags instead by a lower bound on the records
	// every specialisation must suppress (see nodeEval.minSuppressed).
	Pruned SearchMode = iota
	// Exhaustive evaluates every transformation; it exists to prove the
	// pruned search right and to measure what pruning saves.
	Exhaustive
)

// String names the mode.
func (m SearchMode) String() string {
	if m == Exhaustive {
		return "exhaustive"
	}
	return "pruned"
}

// MarshalText encodes the mode by name.
func (m SearchMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// lattice indexes transformations (one level per quasi-identifier) in mixed
// radix, first quasi-identifier most significant.
type lattice struct {
	tops []int
	mult []int
	size int
}

func newLattice(e *encoded) *lattice {
	l := &lattice{tops: make([]int, len(e.qis)), mult: make([]int, len(e.qis)), size: 1}
	for i := len(e.qis) - 1; i >= 0; i-- {
		l.tops[i] = e.qis[i].height
		l.mult[i] = l.size
		l.size *= e.qis[i].height + 1
	}
	return l
}

func (l *lattice) levels(idx int, out []int) []int {
	out = out[:0]
	for i := range l.tops {
		out = append(out, idx/l.mult[i]%(l.tops[i]+1))
	}
	return out
}

func (l *lattice) index(levels []int) int {
	idx := 0
	for i, v := range levels {
		idx += v * l.mult[i]
	}
	return idx
}

func (l *lattice) height(idx int) int {
	h := 0
	for i := range l.tops {
		h += idx / l.mult[i] % (l.tops[i] + 1)
	}
	return h
}

// SearchStats describes a lattice search: its size, the transformations
// actually evaluated and the time the search alone took.
type SearchStats struct {
	LatticeSize  int     `json:"lattice_size"`
	Evaluated    int     `json:"evaluated"`
	SearchMillis float64 `json:"search_ms"`
}

// search carries one run's state.
type search struct {
	e        *encoded
	lat      *lattice
	criteria []Criterion
	limit    int
	metric   Metric
	workers  int
	progress func(done, total int)
	evals    []nodeEval
	state    []uint8
	stats    SearchStats
	mu       sync.Mutex
}

const (
	stUnknown uint8 = iota
	stAnon
	stNotAnon
	stTaggedAnon
	stTaggedNotAnon
)

// better orders candidate optima: lower loss, then lower height, then lower
// index, so that pruned and exhaustive searches break ties alike.
func (s *search) better(a, b int) bool {
	la, lb := s.evals[a].loss, s.evals[b].loss
	if la != lb {
		return la < lb
	}
	ha, hb := s.lat.height(a), s.lat.height(b)
	if ha != hb {
		return ha < hb
	}
	return a < b
}

func (s *search) report(n int) {
	if s.progress != nil {
		s.mu.Lock()
		s.progress(n, s.lat.size)
		s.mu.Unlock()
	}
}

// exhaustive evaluates the whole lattice, walking a spanning tree in which
// each node is rolled up from its parent by one level of one attribute.
// Subtrees are shared out among workers.
func (s *search) exhaustive(ctx context.Context) (int, error) {
	d := len(s.lat.tops)
	split, tasks := 0, 1
	for split < d && tasks < 8*s.workers {
		tasks *= s.lat.tops[split] + 1
		split++
	}
	s.e.warm()
	var done atomic.Int64
	var firstErr error
	var errOnce sync.Once
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(s.workers, tasks) {
		ev, err := newEvaluator(s.e, s.criteria, s.limit, s.metric)
		if err != nil {
			return -1, err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			stack := make([]*groups, 0, 64)
			var h hasher
			levels := make([]int, d)
			from := make([]int, d)
			var dfs func(g *groups, minDim, depth int) error
			dfs = func(g *groups, minDim, depth int) error {
				idx := s.lat.index(levels)
				s.evals[idx] = ev.evaluate(g, levels)
				s.state[idx] = stNotAnon
				if s.evals[idx].anonymous {
					s.state[idx] = stAnon
				}
				if n := done.Add(1); n%256 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
					s.report(int(n))
				}
				for depth+1 >= len(stack) {
					stack = append(stack, &groups{})
				}
				for j := minDim; j < d; j++ {
					if levels[j] == s.lat.tops[j] {
						continue
					}
					copy(from, levels)
					levels[j]++
					child := stack[depth+1]
					s.e.rollup(g, child, from, levels, &h)
					if err := dfs(child, j, depth+1); err != nil {
						return err
					}
					levels[j]--
				}
				return nil
			}
			root := &groups{}
			for t := range next {
				levels = s.lat.levels(t, levels)
				g := s.e.base
				if t != 0 {
					s.e.rollup(s.e.base, root, make([]int, d), levels, &h)
					g = root
				}
				if err := dfs(g, split, 0); err != nil {
					errOnce.Do(func() { firstErr = err })
				}
			}
		}()
	}
	// Tasks are the lattice nodes whose attributes from split on are at
	// level 0; their index is a multiple of mult[split-1]'s stride.
	stride := 1
	if split < d {
		stride = s.lat.mult[split-1]
	}
feed:
	for t := 0; t < s.lat.size; t += stride {
		select {
		case next <- t:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return -1, fmt.Errorf("exhaustive search: %w", firstErr)
	}
	s.stats.Evaluated = int(done.Load())
	s.report(s.stats.Evaluated)
	best := -1
	for i := range s.evals {
		if s.evals[i].anonymous && (best < 0 || s.better(i, best)) {
			best = i
		}
	}
	return best, nil
}

// cached holds the groups of an evaluated node as a starting point for
// rolling up its generalisations.
type cached struct {
	levels []int
	g      *groups
}

// pruned runs the Flash-like search described at Pruned.
func (s *search) pruned(ctx context.Context) (int, error) {
	ev, err := newEvaluator(s.e, s.criteria, s.limit, s.metric)
	if err != nil {
		return -1, err
	}
	sup := s.limit > 0
	pruneDown := true
	for _, c := range s.criteria {
		pruneDown = pruneDown && c.monotonic(sup)
	}
	// Where a model is not monotone (t-closeness with suppression, say), a
	// failing transformation says nothing about its specialisations, but
	// one whose lower bound on suppression exceeds the limit does: they
	// all fail. That is ARX's tagging by the monotone part of the models,
	// made as tight as each model allows.
	ev.bound = !pruneDown
	// prunable says whether a failed transformation's specialisations all
	// fail too.
	prunable := func(r nodeEval) bool {
		if pruneDown {
			return !r.anonymous
		}
		return r.minSuppressed > s.limit || r.minSuppressed == s.e.n
	}
	pruneUp := s.metric.monotonic(sup)
	best1st := s.metric.transformationOnly()
	lat := s.lat
	d := len(lat.tops)

	// Visit order.
	order := make([]int, lat.size)
	key := make([]float64, lat.size)
	lv := make([]int, 0, d)
	for i := range order {
		order[i] = i
		if best1st {
			lv = lat.levels(i, lv)
			key[i] = s.e.transformationLoss(s.metric, lv)
		} else {
			key[i] = float64(lat.height(i))
		}
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmpFloat(key[a], key[b]); c != 0 {
			return c
		}
		if c := lat.height(a) - lat.height(b); c != 0 {
			return c
		}
		return a - b
	})

	var cache []cached
	var free []*groups
	var h hasher
	var ps partScratch
	cacheBytes := 0
	budget := max(4*s.e.base.memBytes(), 64<<20)
	levels := make([]int, d)
	other := make([]int, d)
	evaluate := func(idx int) nodeEval {
		levels = lat.levels(idx, levels)
		src, srcLevels := s.e.base, make([]int, d)
		for _, c := range cache {
			le := true
			for i := range levels {
				if c.levels[i] > levels[i] {
					le = false
					break
				}
			}
			if le && c.g.len() < src.len() {
				src, srcLevels = c.g, c.levels
			}
		}
		// Reuse an evicted cache entry's buffers: fresh multi-megabyte
		// slices cost page faults on every evaluation.
		g := &groups{}
		if n := len(free); n > 0 {
			g, free = free[n-1], free[:n-1]
		}
		s.e.rollupAny(src, g, srcLevels, levels, &h, &ps, s.workers)
		r := ev.evaluate(g, levels)
		s.evals[idx] = r
		s.stats.Evaluated++
		if s.stats.Evaluated%64 == 0 {
			s.report(s.stats.Evaluated)
		}
		cache = append(cache, cached{append([]int(nil), levels...), g})
		cacheBytes += g.memBytes()
		for cacheBytes > budget && len(cache) > 1 {
			cacheBytes -= cache[0].g.memBytes()
			free = append(free, cache[0].g)
			cache = cache[1:]
		}
		return r
	}
	var stack, pathBuf []int
	tag := func(from int, up bool) {
		stack = append(stack[:0], from)
		mark, step := stTaggedNotAnon, -1
		if up {
			mark, step = stTaggedAnon, 1
		}
		for len(stack) > 0 {
			x := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			other = lat.levels(x, other)
			for j := range d {
				nl := other[j] + step
				if nl < 0 || nl > lat.tops[j] {
					continue
				}
				y := x + step*lat.mult[j]
				if s.state[y] == stUnknown {
					s.state[y] = mark
					stack = append(stack, y)
				}
			}
		}
	}
	pass := func(idx int) {
		s.state[idx] = stAnon
		if pruneUp {
			tag(idx, true)
		}
	}

	for _, idx := range order {
		if err := ctx.Err(); err != nil {
			return -1, fmt.Errorf("pruned search: %w", err)
		}
		st := s.state[idx]
		if best1st && st == stAnon {
			return idx, nil
		}
		if st != stUnknown {
			continue
		}
		if evaluate(idx).anonymous {
			pass(idx)
			if best1st {
				return idx, nil
			}
			continue
		}
		s.state[idx] = stNotAnon
		if !prunable(s.evals[idx]) {
			continue
		}
		// Climb as Flash does: lay a path from the failure to the top of
		// the lattice (cheapest successor first) and binary-search it for
		// the lowest passing node, so that one tagging covers the down-set
		// of the highest failing node on the path. Nodes high up have few
		// classes, so these evaluations are cheap.
		path := append(pathBuf[:0], idx)
		for cur := idx; ; {
			nxt := -1
			other = lat.levels(cur, other)
			for j := range d {
				if other[j] == lat.tops[j] {
					continue
				}
				y := cur + lat.mult[j]
				if nxt < 0 || key[y] < key[nxt] {
					nxt = y
				}
			}
			if nxt < 0 {
				break
			}
			path = append(path, nxt)
			cur = nxt
		}
		pathBuf = path
		lo, hi := 0, len(path)
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			y := path[mid]
			// Tagged generalisations of a passing node are not pruned
			// (without monotone models they are merely no better).
			var prune bool
			switch s.state[y] {
			case stAnon, stTaggedAnon:
				prune = false
			case stTaggedNotAnon:
				prune = true
			case stNotAnon:
				prune = prunable(s.evals[y])
			default:
				r := evaluate(y)
				if r.anonymous {
					pass(y)
				} else {
					s.state[y] = stNotAnon
				}
				prune = !r.anonymous && prunable(r)
			}
			if prune {
				lo = mid
			} else {
				hi = mid
			}
		}
		tag(path[lo], false)
	}
	best := -1
	for i, st := range s.state {
		if st == stAnon && (best < 0 || s.better(i, best)) {
			best = i
		}
	}
	return best, nil
}

func defaultWorkers(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}
