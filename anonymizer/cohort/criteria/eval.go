package criteria

import (
	"math"
	"slices"
	"strings"
	"time"
)

// Query is a validated definition ready to evaluate, with its reference date fixed. It is
// safe for concurrent use.
type Query struct {
	def *Definition
	// ref is the end of the reference day: events dated before it count.
	ref     time.Time
	refDate time.Time
	// include is d.Include in evaluation order.
	include []Criterion
}

// Compile validates d and fixes its reference date: d.ReferenceDate, else the calendar day
// of today (which the caller passes in; this package has no clock).
func Compile(d *Definition, today time.Time) (*Query, error) {
	if d == nil {
		return nil, invalid("", "no definition")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	ref := today.UTC().Truncate(24 * time.Hour)
	if d.ReferenceDate != "" {
		ref, _ = time.Parse(time.DateOnly, d.ReferenceDate) // Validate checked it
	}
	q := &Query{def: d, refDate: ref, ref: ref.Add(24 * time.Hour)}
	// Inclusion criteria all must hold, so the cheap ones (sex, age) are tried first.
	q.include = slices.Clone(d.Include)
	slices.SortStableFunc(q.include, func(a, b Criterion) int { return cost(&a) - cost(&b) })
	return q, nil
}

// cost orders criteria for evaluation: demographics before event scans.
func cost(c *Criterion) int {
	switch {
	case c.AnyOf != nil:
		return 2
	case c.isEvent():
		return 1
	}
	return 0
}

// Definition returns the definition the query was compiled from.
func (q *Query) Definition() *Definition { return q.def }

// ReferenceDate returns the day ages are computed at.
func (q *Query) ReferenceDate() time.Time { return q.refDate }

// Outcome is the evaluation of one patient.
type Outcome struct {
	// Match is whether the patient is in the cohort.
	Match bool
	// Index is the date of the patient's index event, when the definition has one and it
	// was found; zero otherwise.
	Index time.Time
	// Incomparable lists lab units, as "result unit→criterion unit", that a result of a
	// test named by a lab criterion was in and that could not be converted to the
	// criterion's unit; such results did not match.
	Incomparable []string
}

// Evaluate decides whether the patient is in the cohort. p.Events must be sorted by date
// (FromFHIR and Patient.Sort do that).
func (q *Query) Evaluate(p *Patient) Outcome {
	var out Outcome
	var index time.Time
	if q.def.Index != nil {
		e := q.first(p, q.def.Index, time.Time{}, true, &out)
		if e == nil {
			return out
		}
		index = e.Date
		out.Index = index
	}
	for i := range q.include {
		if !q.holds(p, &q.include[i], index, &out) {
			return out
		}
	}
	for i := range q.def.Exclude {
		if q.holds(p, &q.def.Exclude[i], index, &out) {
			return out
		}
	}
	out.Match = true
	return out
}

// holds evaluates one criterion for the patient.
func (q *Query) holds(p *Patient, c *Criterion, index time.Time, out *Outcome) bool {
	switch {
	case c.AnyOf != nil:
		for i := range c.AnyOf {
			if q.holds(p, &c.AnyOf[i], index, out) {
				return true
			}
		}
		return false
	case c.Sex != nil:
		return p.Sex != "" && slices.Contains(c.Sex, p.Sex)
	case c.Age != nil:
		at := q.refDate
		if c.Age.At == "index" {
			at = index
		}
		if p.BirthDate.IsZero() || at.IsZero() {
			return false
		}
		age := yearsBetween(p.BirthDate, at)
		return (c.Age.Min == nil || age >= *c.Age.Min) && (c.Age.Max == nil || age <= *c.Age.Max)
	}
	return q.first(p, c, index, false, out) != nil
}

// first returns the earliest event that matches an event criterion within its window (and
// before the end of the reference day), or nil. An index event must be dated.
func (q *Query) first(p *Patient, c *Criterion, index time.Time, needDate bool, out *Outcome) *Event {
	for i := range p.Events {
		e := &p.Events[i]
		if !e.Date.IsZero() && !e.Date.Before(q.ref) {
			break // sorted: everything after is later still
		}
		if (needDate || c.Window != nil) && e.Date.IsZero() {
			continue
		}
		if c.Window != nil {
			d := daysBetween(index, e.Date)
			if d < c.Window.FromDays {
				continue
			}
			if d > c.Window.ToDays {
				break
			}
		}
		if matches(c, e, out) {
			return e
		}
	}
	return nil
}

// matches tests one event against an event criterion.
func matches(c *Criterion, e *Event, out *Outcome) bool {
	switch {
	case c.Condition != "":
		return e.Kind == KindCondition && strings.HasPrefix(e.Code, c.Condition)
	case c.Procedure != "":
		return e.Kind == KindProcedure && strings.HasPrefix(e.Code, c.Procedure)
	case c.Medication != "":
		return e.Kind == KindMedication && strings.HasPrefix(e.Code, c.Medication)
	case c.Lab != nil:
		if e.Kind != KindLab || e.Code != c.Lab.LOINC {
			return false
		}
		l := c.Lab
		if l.Comparator == "" {
			return true
		}
		if !e.HasValue {
			return false
		}
		f, ok := factor(e.Unit, l.Unit)
		if !ok {
			if !slices.ContainsFunc(out.Incomparable, func(n string) bool { return isNote(n, e.Unit, l.Unit) }) {
				out.Incomparable = append(out.Incomparable, e.Unit+noteArrow+l.Unit)
			}
			return false
		}
		return compare(e.Value*f, l.Comparator, *l.Value)
	}
	return false
}

const noteArrow = "→"

// isNote reports whether n is the note for from→to, without building it: the evaluation of
// a large population must not allocate per lab value.
func isNote(n, from, to string) bool {
	return len(n) == len(from)+len(noteArrow)+len(to) && strings.HasPrefix(n, from) &&
		strings.HasPrefix(n[len(from):], noteArrow) && strings.HasSuffix(n, to)
}

// compare applies a comparator with a relative tolerance, so that 7 % read as 0.07 (and
// back) still equals 7 %.
func compare(v float64, op string, x float64) bool {
	eq := math.Abs(v-x) <= 1e-9*math.Max(math.Abs(v), math.Abs(x))
	switch op {
	case "<":
		return v < x && !eq
	case "<=":
		return v < x || eq
	case "=":
		return eq
	case ">=":
		return v > x || eq
	case ">":
		return v > x && !eq
	}
	return false
}

// yearsBetween is the age in whole years on day at of someone born on birth.
func yearsBetween(birth, at time.Time) int {
	y := at.Year() - birth.Year()
	if at.Month() < birth.Month() || (at.Month() == birth.Month() && at.Day() < birth.Day()) {
		y--
	}
	return y
}

// daysBetween counts calendar days (UTC) from a to b.
func daysBetween(a, b time.Time) int {
	da := a.UTC().Truncate(24 * time.Hour)
	db := b.UTC().Truncate(24 * time.Hour)
	return int(db.Sub(da) / (24 * time.Hour))
}
