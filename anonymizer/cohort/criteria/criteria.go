package criteria

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Version is the language version this package reads.
const Version = 1

// Limits on a definition, so that a query cannot be made expensive or used to smuggle data.
const (
	// MaxBytes bounds a definition's JSON.
	MaxBytes = 32 << 10
	// MaxCriteria bounds the inclusion and exclusion criteria together.
	MaxCriteria = 50
	// MaxWindowDays bounds a window's ends, before or after the index event.
	MaxWindowDays = 36500
)

// ErrInvalid is wrapped by every error about a malformed or meaningless definition.
var ErrInvalid = errors.New("invalid cohort definition")

// Error names the element of a definition that is wrong.
type Error struct {
	// Path is the element, as in "include[2].lab.unit"; empty for the whole document.
	Path    string
	Message string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return "cohort definition: " + e.Message
	}
	return "cohort definition: " + e.Path + ": " + e.Message
}

// Unwrap makes every *Error match ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

func invalid(path, format string, args ...any) error {
	return &Error{Path: path, Message: fmt.Sprintf(format, args...)}
}

// Definition is a cohort definition.
type Definition struct {
	// Version is the language version; 1.
	Version int `json:"version"`
	// ReferenceDate (YYYY-MM-DD) is when ages are computed; events dated after it are
	// ignored. When empty, the evaluator's reference date applies (the query's day).
	ReferenceDate string `json:"referenceDate,omitempty"`
	// Index is the index event: a patient's first event matching it. Windows are relative
	// to its date, and a patient without one is not in the cohort.
	Index *Criterion `json:"index,omitempty"`
	// Include are criteria that must all hold.
	Include []Criterion `json:"include,omitempty"`
	// Exclude are criteria of which none may hold.
	Exclude []Criterion `json:"exclude,omitempty"`
}

// Criterion is one test of a patient. Exactly one of Condition, Procedure, Medication, Lab,
// Age, Sex and AnyOf is set.
type Criterion struct {
	// Condition is an ICD-10-GM code or a prefix of one: "E11" matches E11.0 to E11.9x,
	// "E1" matches every code from E10 to E16 (E10 to E14 are the diabetes mellitus).
	Condition string `json:"condition,omitempty"`
	// Procedure is an OPS code or a prefix of one: "5-47" matches 5-470 to 5-479.
	Procedure string `json:"procedure,omitempty"`
	// Medication is an ATC code at any level: "A10" matches every drug used in diabetes,
	// "A10BA02" metformin only.
	Medication string `json:"medication,omitempty"`
	// Lab is a lab value.
	Lab *Lab `json:"lab,omitempty"`
	// Age is the patient's age in whole years.
	Age *Age `json:"age,omitempty"`
	// Sex lists the administrative genders that match (female, male, other, unknown).
	Sex []string `json:"sex,omitempty"`
	// AnyOf holds when at least one of its 2 to 10 criteria does ("metformin or a
	// sulfonylurea"); they may have windows but no AnyOf of their own.
	AnyOf []Criterion `json:"anyOf,omitempty"`
	// Window limits a condition, procedure, medication or lab criterion to events within a
	// number of days of the index event.
	Window *Window `json:"window,omitempty"`
}

// MaxAnyOf bounds the alternatives of one AnyOf.
const MaxAnyOf = 10

// Lab matches an Observation with a LOINC code whose quantity compares with Value in Unit.
type Lab struct {
	// LOINC is the test's LOINC code with its check digit (4548-4).
	LOINC string `json:"loinc"`
	// Comparator is <, <=, =, >= or >. Without a comparator, Value and Unit, any result of
	// the test matches.
	Comparator string `json:"comparator,omitempty"`
	// Value is compared with the result converted to Unit.
	Value *float64 `json:"value,omitempty"`
	// Unit is a UCUM unit code (%, mg/dL, mmol/L).
	Unit string `json:"unit,omitempty"`
}

// Age bounds a patient's age in whole years; both ends are inclusive.
type Age struct {
	Min *int `json:"min,omitempty"`
	Max *int `json:"max,omitempty"`
	// At is "reference" (the default: the reference date) or "index" (the index event).
	At string `json:"at,omitempty"`
}

// Window is a range of days relative to the index event, both ends inclusive: {0, 90} is
// the index day and the 90 days after it, {-365, -1} the year before it.
type Window struct {
	FromDays int `json:"fromDays"`
	ToDays   int `json:"toDays"`
}

// Sexes are FHIR's administrative genders.
var Sexes = []string{"female", "male", "other", "unknown"}

// Comparators a lab criterion may use.
var Comparators = []string{"<", "<=", "=", ">=", ">"}

var (
	// A letter, up to two digits, and after two digits up to two more after a dot.
	icdPrefix = regexp.MustCompile(`^[A-Z]([0-9]|[0-9]{2}(\.[0-9]{1,2})?)?$`)
	// The chapter digit, then up to three characters after the hyphen, then up to two after
	// a dot.
	opsPrefix = regexp.MustCompile(`^[1-9](-[0-9]{1,2}|-[0-9]{2}[0-9a-z](\.[0-9a-z]{1,2})?)?$`)
	atcLevel  = regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`)
	loincCode = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
)

// Parse reads a definition strictly (no unknown members, nothing after the document, at most
// MaxBytes) and validates it. Errors wrap ErrInvalid and name the element.
func Parse(data []byte) (*Definition, error) {
	if len(data) > MaxBytes {
		return nil, invalid("", "larger than %d bytes", MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var d Definition
	if err := dec.Decode(&d); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, invalid(typeErr.Field, "has the wrong type")
		}
		return nil, invalid("", "not a JSON object of the cohort definition language: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, invalid("", "data after the JSON document")
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return &d, nil
}

// Validate checks that the definition means something: a known version, well-formed codes,
// units and dates, one kind per criterion, windows only with an index event.
func (d *Definition) Validate() error {
	if d.Version != Version {
		return invalid("version", "must be %d", Version)
	}
	if d.ReferenceDate != "" {
		if _, err := time.Parse(time.DateOnly, d.ReferenceDate); err != nil {
			return invalid("referenceDate", "must be a date as YYYY-MM-DD")
		}
	}
	if len(d.Include) == 0 && d.Index == nil {
		return invalid("include", "needs at least one criterion or an index event")
	}
	n := len(d.Include) + len(d.Exclude)
	for _, c := range append(slices.Clone(d.Include), d.Exclude...) {
		n += len(c.AnyOf)
	}
	if n > MaxCriteria {
		return invalid("", "has %d criteria; at most %d", n, MaxCriteria)
	}
	if d.Index != nil {
		if err := d.Index.validate("index", false); err != nil {
			return err
		}
		if !d.Index.isEvent() {
			return invalid("index", "must be a condition, procedure, medication or lab criterion")
		}
		if d.Index.Window != nil {
			return invalid("index.window", "the index event has no window")
		}
	}
	for _, part := range []struct {
		name string
		list []Criterion
	}{{"include", d.Include}, {"exclude", d.Exclude}} {
		for i := range part.list {
			if err := part.list[i].validate(fmt.Sprintf("%s[%d]", part.name, i), d.Index != nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Criterion) isEvent() bool {
	return c.Condition != "" || c.Procedure != "" || c.Medication != "" || c.Lab != nil
}

func (c *Criterion) validate(path string, hasIndex bool) error {
	kinds := 0
	for _, set := range []bool{c.Condition != "", c.Procedure != "", c.Medication != "", c.Lab != nil, c.Age != nil, c.Sex != nil, c.AnyOf != nil} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return invalid(path, "must have exactly one of condition, procedure, medication, lab, age, sex and anyOf")
	}
	switch {
	case c.AnyOf != nil:
		if len(c.AnyOf) < 2 || len(c.AnyOf) > MaxAnyOf {
			return invalid(path+".anyOf", "must list 2 to %d criteria", MaxAnyOf)
		}
		if c.Window != nil {
			return invalid(path+".window", "put windows on the criteria inside anyOf")
		}
		for i := range c.AnyOf {
			sub := fmt.Sprintf("%s.anyOf[%d]", path, i)
			if c.AnyOf[i].AnyOf != nil {
				return invalid(sub, "anyOf cannot hold another anyOf")
			}
			if err := c.AnyOf[i].validate(sub, hasIndex); err != nil {
				return err
			}
		}
	case c.Condition != "" && !icdPrefix.MatchString(c.Condition):
		return invalid(path+".condition", "%q is not an ICD-10-GM code or prefix (like E11 or E11.9)", shorten(c.Condition))
	case c.Procedure != "" && !opsPrefix.MatchString(c.Procedure):
		return invalid(path+".procedure", "%q is not an OPS code or prefix (like 5-470 or 5-470.11)", shorten(c.Procedure))
	case c.Medication != "" && !atcLevel.MatchString(c.Medication):
		return invalid(path+".medication", "%q is not an ATC code at any level (like A10 or A10BA02)", shorten(c.Medication))
	case c.Lab != nil:
		if err := c.Lab.validate(path + ".lab"); err != nil {
			return err
		}
	case c.Age != nil:
		if err := c.Age.validate(path+".age", hasIndex); err != nil {
			return err
		}
	case c.Sex != nil:
		if len(c.Sex) == 0 {
			return invalid(path+".sex", "must list at least one of %s", strings.Join(Sexes, ", "))
		}
		for i, s := range c.Sex {
			if !slices.Contains(Sexes, s) {
				return invalid(fmt.Sprintf("%s.sex[%d]", path, i), "%q is not one of %s", shorten(s), strings.Join(Sexes, ", "))
			}
			if slices.Contains(c.Sex[:i], s) {
				return invalid(fmt.Sprintf("%s.sex[%d]", path, i), "%q is listed twice", s)
			}
		}
	}
	if w := c.Window; w != nil {
		switch {
		case !hasIndex:
			return invalid(path+".window", "a window is relative to the index event, and the definition has none")
		case !c.isEvent():
			return invalid(path+".window", "only condition, procedure, medication and lab criteria have a window")
		case w.FromDays < -MaxWindowDays || w.ToDays > MaxWindowDays:
			return invalid(path+".window", "days must be within %d of the index event", MaxWindowDays)
		case w.FromDays > w.ToDays:
			return invalid(path+".window", "fromDays (%d) is after toDays (%d)", w.FromDays, w.ToDays)
		}
	}
	return nil
}

func (l *Lab) validate(path string) error {
	if !loincCode.MatchString(l.LOINC) || !validLOINC(l.LOINC) {
		return invalid(path+".loinc", "%q is not a LOINC code with its check digit (like 4548-4)", shorten(l.LOINC))
	}
	none := l.Comparator == "" && l.Value == nil && l.Unit == ""
	all := l.Comparator != "" && l.Value != nil && l.Unit != ""
	switch {
	case !none && !all:
		return invalid(path, "comparator, value and unit go together: give all three or none")
	case none:
		return nil
	case !slices.Contains(Comparators, l.Comparator):
		return invalid(path+".comparator", "%q is not one of %s", shorten(l.Comparator), strings.Join(Comparators, " "))
	case math.IsNaN(*l.Value) || math.IsInf(*l.Value, 0):
		return invalid(path+".value", "must be a finite number")
	}
	if _, ok := parseUnit(l.Unit); !ok && !plausibleUnit(l.Unit) {
		return invalid(path+".unit", "%q is not a UCUM unit code (like %%, mg/dL or mmol/L)", shorten(l.Unit))
	}
	return nil
}

func (a *Age) validate(path string, hasIndex bool) error {
	switch {
	case a.Min == nil && a.Max == nil:
		return invalid(path, "needs min, max or both")
	case a.Min != nil && (*a.Min < 0 || *a.Min > 150), a.Max != nil && (*a.Max < 0 || *a.Max > 150):
		return invalid(path, "min and max are ages from 0 to 150")
	case a.Min != nil && a.Max != nil && *a.Min > *a.Max:
		return invalid(path, "min (%d) is above max (%d)", *a.Min, *a.Max)
	case a.At != "" && a.At != "reference" && a.At != "index":
		return invalid(path+".at", "must be reference or index")
	case a.At == "index" && !hasIndex:
		return invalid(path+".at", "age at the index event needs an index event")
	}
	return nil
}

// Hash identifies a definition for the ledger: SHA-256 over its canonical JSON (members in
// the order of the Go types, no insignificant space), so the same question asked twice,
// however it was spaced, has the same hash.
func (d *Definition) Hash() string {
	b, err := json.Marshal(d)
	if err != nil {
		panic(fmt.Sprintf("marshal cohort definition: %v", err)) // plain types always marshal
	}
	sum := sha256.Sum256(append([]byte("careledger/cohort-definition/v1\n"), b...))
	return hex.EncodeToString(sum[:])
}

// validLOINC checks LOINC's mod-10 check digit.
func validLOINC(code string) bool {
	digits, check, _ := strings.Cut(code, "-")
	sum, double := 0, true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10-sum%10)%10 == int(check[0]-'0')
}

// shorten keeps error messages short whatever was sent.
func shorten(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return s
}
