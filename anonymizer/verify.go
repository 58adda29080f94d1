package anonymizer

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// ErrPrivacyViolation reports a released table that does not satisfy its
// privacy models; publication must stop.
var ErrPrivacyViolation = errors.New("privacy models violated")

// Verify checks a table as it would be released (quasi-identifiers already
// generalised) against the criteria, independently of how it was produced.
// Every equivalence class must satisfy every criterion, except the class of
// records whose quasi-identifiers are all "*": those are suppressed records
// and may fail, if they are at most suppressionLimit (a share of all
// records). Distributions for t-closeness are taken over the whole table.
// It returns nil or an error wrapping ErrPrivacyViolation. The cohort
// publisher calls it on every output before anything leaves the trust
// centre.
func Verify(ctx context.Context, released *Table, criteria []Criterion, suppressionLimit float64) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(criteria) == 0 {
		return fmt.Errorf("verify: no privacy model: %w", ErrMalformedInput)
	}
	if !(suppressionLimit >= 0 && suppressionLimit <= 1) {
		return fmt.Errorf("verify: suppression limit %v: %w", suppressionLimit, ErrMalformedInput)
	}
	qis := released.QuasiIdentifiers()
	if len(qis) == 0 {
		return fmt.Errorf("verify: no quasi-identifier: %w", ErrMalformedInput)
	}
	if released.rows == 0 {
		return nil
	}
	// Every released value is its own level-0 value of a one-level
	// hierarchy: the lattice has a single node, the table as it is.
	hs := map[string]*Hierarchy{}
	for _, q := range qis {
		c, _ := released.col(q)
		rows := make([][]string, len(c.dict))
		for i, v := range c.dict {
			rows[i] = []string{v}
		}
		h, err := NewHierarchy(rows)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		hs[q] = h
	}
	cfg := Config{Hierarchies: hs, Criteria: criteria}
	e, err := encode(released, hs, cfg.sensitive())
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	ev, err := newEvaluator(e, criteria, e.n, NonUniformEntropy)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	ev.wantPass = true
	r := ev.evaluate(e.base, make([]int, len(e.qis)))
	keys, counts := e.base.keys, e.base.counts
	if len(e.sens) > 0 {
		keys, counts = ev.cls.keys, ev.cls.counts
	}
	// The key of the all-star class, if every dictionary has a "*".
	var star uint64
	hasStar := true
	for qi := range e.qis {
		c := slices.Index(e.t.cols[e.qis[qi].col].dict, "*")
		if c < 0 {
			hasStar = false
			break
		}
		star |= uint64(c) << e.qis[qi].shift
	}
	failing := 0
	for i, ok := range ev.classOK {
		if ok {
			continue
		}
		if hasStar && keys[i]&e.qiMask == star {
			if float64(counts[i]) > suppressionLimit*float64(e.n)+1e-9 {
				return fmt.Errorf("verify: %d of %d records suppressed, limit %v: %w", counts[i], e.n, suppressionLimit, ErrPrivacyViolation)
			}
			continue
		}
		failing += int(counts[i])
	}
	if failing > 0 {
		return fmt.Errorf("verify: %d released records in classes that fail %v: %w", failing, criteria, ErrPrivacyViolation)
	}
	// A table of nothing but suppressed records passed the checks above.
	if !r.anonymous && r.suppressed < e.n {
		return fmt.Errorf("verify: dataset-level model fails: %w", ErrPrivacyViolation)
	}
	return nil
}
