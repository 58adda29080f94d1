package fhir

import (
	"encoding/json"
	"time"

	r4 "github.com/careledger/careledger/gateway/fhir"
)

// matches reports whether a served resource passes every filter of q.
func (q *query) matches(s *served, now time.Time) bool {
	for _, f := range q.tokens {
		if !f.matches(s.fields) {
			return false
		}
	}
	for _, f := range q.dates {
		if !f.matches(s.fields, now) {
			return false
		}
	}
	return true
}

type jsonCoding struct {
	System string `json:"system"`
	Code   string `json:"code"`
}

type jsonConcept struct {
	Coding []jsonCoding `json:"coding"`
}

// codings reads the codes of an element that is a code, a CodeableConcept or a list of
// CodeableConcepts.
func codings(raw json.RawMessage) []jsonCoding {
	var code string
	if json.Unmarshal(raw, &code) == nil {
		return []jsonCoding{{Code: code}}
	}
	var one jsonConcept
	if json.Unmarshal(raw, &one) == nil && one.Coding != nil {
		return one.Coding
	}
	var many []jsonConcept
	_ = json.Unmarshal(raw, &many)
	var out []jsonCoding
	for _, c := range many {
		out = append(out, c.Coding...)
	}
	return out
}

func (f tokenFilter) matches(fields map[string]json.RawMessage) bool {
	for _, elem := range f.param.elements {
		for _, c := range codings(fields[elem]) {
			for _, t := range f.any {
				if t.matches(c) {
					return true
				}
			}
		}
	}
	return false
}

func (t token) matches(c jsonCoding) bool {
	switch {
	case !t.hasSystem:
		return c.Code == t.code
	case t.code == "":
		return c.System == t.system
	}
	return c.System == t.system && c.Code == t.code
}

// ranges reads the time ranges of a date element: element itself (a date or a Period), or
// the choice element's DateTime, Instant and Period forms.
func ranges(fields map[string]json.RawMessage, elem string) [][2]time.Time {
	var out [][2]time.Time
	for _, name := range []string{elem, elem + "DateTime", elem + "Instant", elem + "Period"} {
		raw, ok := fields[name]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if d, err := r4.ParseDate(s); err == nil {
				lo, hi := span(d)
				out = append(out, [2]time.Time{lo, hi})
			}
			continue
		}
		var p struct{ Start, End string }
		if json.Unmarshal(raw, &p) != nil {
			continue
		}
		r := [2]time.Time{time.Time{}, time.Unix(1<<40, 0)} // an open end is for ever
		if d, err := r4.ParseDate(p.Start); err == nil {
			r[0], _ = span(d)
		}
		if d, err := r4.ParseDate(p.End); err == nil {
			_, r[1] = span(d)
		}
		out = append(out, r)
	}
	return out
}

func (f dateFilter) matches(fields map[string]json.RawMessage, now time.Time) bool {
	for _, elem := range f.param.elements {
		for _, r := range ranges(fields, elem) {
			for _, c := range f.any {
				if c.matches(r[0], r[1], now) {
					return true
				}
			}
		}
	}
	return false
}

// matches applies FHIR's date prefixes to the target range [lo, hi) against the search
// range [c.lo, c.hi).
func (c dateCond) matches(lo, hi time.Time, now time.Time) bool {
	switch c.prefix {
	case "ne":
		return !(!lo.Before(c.lo) && !hi.After(c.hi))
	case "lt":
		return lo.Before(c.lo)
	case "le":
		return lo.Before(c.hi)
	case "gt":
		return hi.After(c.hi)
	case "ge":
		return hi.After(c.lo)
	case "sa":
		return !lo.Before(c.hi)
	case "eb":
		return !hi.After(c.lo)
	case "ap":
		// Approximately: the search range widened by a tenth of its distance from now (at
		// least a day) overlaps the target.
		gap := now.Sub(c.lo)
		if gap < 0 {
			gap = -gap
		}
		gap = max(gap/10, 24*time.Hour)
		return lo.Before(c.hi.Add(gap)) && hi.After(c.lo.Add(-gap))
	}
	return !lo.Before(c.lo) && !hi.After(c.hi) // eq
}
