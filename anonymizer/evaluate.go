package anonymizer

import "fmt"

// boundCheck is a criterion bound to a table, with the index of its
// sensitive attribute among encoded.sens (-1 for none).
type boundCheck struct {
	c    checker
	sens int
}

// evaluator decides transformations. It owns scratch space, so each
// goroutine of a parallel search has its own.
type evaluator struct {
	e        *encoded
	checks   []boundCheck
	globals  []datasetChecker
	limit    int
	metric   Metric
	cls      groups
	clsHash  hasher
	member   []int32
	offsets  []int32
	fill     []int32
	hist     []sensCount
	scratch  [][]int32 // per sensitive attribute: code -> position in hist, -1 if absent
	classOK  []bool
	wantPass bool // record per-class verdicts in classOK
	kOnly    int  // > 0 when every criterion is k-anonymity: the largest k
	// bound asks for nodeEval.minSuppressed; kFloor is the largest k of
	// the k-anonymity criteria (0: none).
	bound  bool
	kFloor int
}

// nodeEval is what the search learns about one transformation.
type nodeEval struct {
	anonymous  bool
	suppressed int
	classes    int
	loss       float64
	// minSuppressed, when the evaluator was asked for it, bounds from
	// below the records suppressed by this transformation and by every
	// specialisation of it: a transformation whose bound exceeds the
	// limit fails with all its specialisations, even under models that
	// are not monotone with suppression.
	minSuppressed int
}

func newEvaluator(e *encoded, criteria []Criterion, limit int, m Metric) (*evaluator, error) {
	ev := &evaluator{e: e, limit: limit, metric: m}
	for _, c := range criteria {
		si := -1
		if a := c.sensitiveAttribute(); a != "" {
			for i, s := range e.sens {
				if s.name == a {
					si = i
				}
			}
			if si < 0 {
				return nil, fmt.Errorf("bind %s: %w", c, ErrUnknownAttribute)
			}
		}
		k, err := c.bind(e, si)
		if err != nil {
			return nil, err
		}
		if d, ok := k.(datasetChecker); ok {
			ev.globals = append(ev.globals, d)
		}
		if ka, ok := k.(kAnonymity); ok {
			ev.kFloor = max(ev.kFloor, ka.k)
		}
		ev.checks = append(ev.checks, boundCheck{k, si})
	}
	if len(e.sens) == 0 && len(ev.globals) == 0 {
		for _, c := range ev.checks {
			k, ok := c.c.(kAnonymity)
			if !ok {
				ev.kOnly = 0
				break
			}
			ev.kOnly = max(ev.kOnly, k.k)
		}
	}
	ev.scratch = make([][]int32, len(e.sens))
	for i, s := range e.sens {
		ev.scratch[i] = make([]int32, len(s.labels))
		for j := range ev.scratch[i] {
			ev.scratch[i][j] = -1
		}
	}
	return ev, nil
}

// evaluate decides the transformation whose groups are g.
func (ev *evaluator) evaluate(g *groups, levels []int) nodeEval {
	e := ev.e
	var r nodeEval
	var disc float64
	var lossSum float64
	dataLoss := !ev.metric.transformationOnly()
	ev.classOK = ev.classOK[:0]
	visit := func(key uint64, size int, ok bool, minSup int) {
		if ev.wantPass {
			ev.classOK = append(ev.classOK, ok)
		}
		if !ok {
			r.suppressed += size
			r.minSuppressed += minSup
			return
		}
		r.classes++
		if dataLoss {
			disc += float64(size) * float64(size)
			if ev.metric == Loss {
				var s float64
				for qi := range e.qis {
					q := &e.qis[qi]
					s += q.share[levels[qi]][(key>>q.shift)&q.mask]
				}
				lossSum += float64(size) * s
			}
		}
	}
	if ev.kOnly > 0 && !dataLoss && !ev.wantPass {
		// Fast path for k-anonymity alone: only class sizes matter.
		k := int32(ev.kOnly)
		for _, c := range g.counts {
			if c < k {
				r.suppressed += int(c)
			} else {
				r.classes++
			}
		}
		r.minSuppressed = r.suppressed
	} else if len(e.sens) == 0 {
		for i, k := range g.keys {
			size := int(g.counts[i])
			ok, minSup := true, 0
			for _, c := range ev.checks {
				if !c.c.classOK(size, nil) {
					ok = false
					if !ev.bound {
						break
					}
					minSup = max(minSup, c.c.minSuppressed(size, nil))
				}
			}
			visit(k, size, ok, ev.floor(size, minSup))
		}
	} else {
		ev.groupClasses(g)
		for ci, k := range ev.cls.keys {
			size := int(ev.cls.counts[ci])
			members := ev.member[ev.offsets[ci]:ev.offsets[ci+1]]
			ok, minSup := true, 0
			for _, c := range ev.checks {
				var hist []sensCount
				if c.sens >= 0 {
					hist = ev.histogram(g, members, c.sens)
				}
				if !c.c.classOK(size, hist) {
					ok = false
					if !ev.bound {
						break
					}
					minSup = max(minSup, c.c.minSuppressed(size, hist))
				}
			}
			visit(k, size, ok, ev.floor(size, minSup))
		}
	}
	// A release of nothing but suppressed records satisfies every model
	// and tells nothing: with a 100% limit it would be the optimum of any
	// transformation-only metric. It counts as failing, which keeps the
	// searches' pruning sound: the specialisations of a transformation
	// whose classes all fail a monotone model fail it too.
	r.anonymous = r.suppressed <= ev.limit && r.suppressed < e.n
	for _, d := range ev.globals {
		if r.anonymous && !d.datasetOK(e.n-r.suppressed, r.classes) {
			r.anonymous = false
		}
	}
	switch ev.metric {
	case Loss:
		r.loss = (lossSum + float64(r.suppressed)*float64(len(e.qis))) / (float64(e.n) * float64(len(e.qis)))
	case Discernibility:
		r.loss = disc + float64(r.suppressed)*float64(e.n)
	case AverageClassSize:
		c := r.classes
		if r.suppressed > 0 {
			c++
		}
		r.loss = float64(e.n) / float64(max(c, 1))
	default:
		r.loss = e.transformationLoss(ev.metric, levels)
	}
	return r
}

// floor raises a failing class's bound to the whole class when the records
// it would keep are fewer than k: the released rest of the class must form
// classes of at least k records, or be empty.
func (ev *evaluator) floor(size, minSup int) int {
	if size-minSup < ev.kFloor {
		return size
	}
	return minSup
}

// groupClasses aggregates the entries of g (which carry sensitive codes) into
// equivalence classes and lists each class's entries.
func (ev *evaluator) groupClasses(g *groups) {
	e := ev.e
	ev.member = ev.member[:0]
	cid := ev.fill[:0]
	if len(g.parts) > 1 {
		// A class never spans parts: group part by part with a small,
		// cache-resident index.
		ev.cls.begin(&ev.clsHash, 0)
		for p := 0; p+1 < len(g.parts); p++ {
			lo, hi := int(g.parts[p]), int(g.parts[p+1])
			ev.cls.segment(hi - lo)
			for i := lo; i < hi; i++ {
				cid = append(cid, int32(ev.cls.add(g.keys[i]&e.qiMask, g.counts[i])))
			}
		}
	} else {
		ev.cls.begin(&ev.clsHash, g.len())
		for i, k := range g.keys {
			cid = append(cid, int32(ev.cls.add(k&e.qiMask, g.counts[i])))
		}
	}
	ev.cls.end()
	n := ev.cls.len()
	if cap(ev.offsets) < n+1 {
		ev.offsets = make([]int32, n+1)
	}
	ev.offsets = ev.offsets[:n+1]
	clear(ev.offsets)
	for _, c := range cid {
		ev.offsets[c+1]++
	}
	for i := 1; i <= n; i++ {
		ev.offsets[i] += ev.offsets[i-1]
	}
	if cap(ev.member) < len(cid) {
		ev.member = make([]int32, len(cid))
	}
	ev.member = ev.member[:len(cid)]
	pos := make([]int32, n)
	copy(pos, ev.offsets[:n])
	for i, c := range cid {
		ev.member[pos[c]] = int32(i)
		pos[c]++
	}
	ev.fill = cid
}

// histogram returns the distribution of sensitive attribute si over the
// given entries of g.
func (ev *evaluator) histogram(g *groups, members []int32, si int) []sensCount {
	s := ev.e.sens[si]
	ev.hist = ev.hist[:0]
	at := ev.scratch[si]
	for _, m := range members {
		code := int32((g.keys[m] >> s.shift) & s.mask)
		if p := at[code]; p >= 0 {
			ev.hist[p].n += g.counts[m]
			continue
		}
		at[code] = int32(len(ev.hist))
		ev.hist = append(ev.hist, sensCount{code, g.counts[m]})
	}
	for _, h := range ev.hist {
		at[h.code] = -1
	}
	return ev.hist
}
