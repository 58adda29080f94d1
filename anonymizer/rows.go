package anonymizer

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// FieldKind says how a RowBuilder field turns typed input into a cell.
type FieldKind int

// Field kinds for rows derived from FHIR resources.
const (
	// FieldText is stored as given (trimmed).
	FieldText FieldKind = iota
	// FieldAge is a whole-year age computed from a birth date at the
	// builder's reference date (FHIR Patient.birthDate).
	FieldAge
	// FieldSex is a FHIR administrative gender: male, female, other, unknown.
	FieldSex
	// FieldPostalCode is a postal code, upper-cased without spaces.
	FieldPostalCode
	// FieldICD10 is an ICD-10 code (FHIR Condition.code), normalised.
	FieldICD10
	// FieldATC is an ATC code (FHIR MedicationStatement), normalised.
	FieldATC
	// FieldDate is a calendar date (e.g. Encounter.period.start), YYYY-MM-DD.
	FieldDate
	// FieldNumber is a numeric value (e.g. Observation.valueQuantity),
	// rounded to the field's decimals.
	FieldNumber
)

// Field declares one column of a RowBuilder.
type Field struct {
	Name string
	Kind FieldKind
	Type AttributeType
	// Decimals is the rounding of FieldNumber values.
	Decimals int
}

// RowBuilder builds a Table from typed values, as the cohort builder does
// from FHIR resources: every value is validated and normalised so that the
// same fact always yields the same cell (and the same hierarchy entry).
type RowBuilder struct {
	fields []Field
	ref    time.Time
	t      *Table
}

// NewRowBuilder declares the columns; ages are computed at reference.
func NewRowBuilder(reference time.Time, fields ...Field) (*RowBuilder, error) {
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.Name
		if f.Kind < FieldText || f.Kind > FieldNumber {
			return nil, fmt.Errorf("new row builder: field %q: kind %d: %w", f.Name, f.Kind, ErrMalformedInput)
		}
	}
	t, err := NewTable(names...)
	if err != nil {
		return nil, fmt.Errorf("new row builder: %w", err)
	}
	for i, f := range fields {
		t.cols[i].typ = f.Type
	}
	return &RowBuilder{fields: fields, ref: reference, t: t}, nil
}

// Row is a record being assembled; set fields by name, then Add it.
type Row map[string]any

// Add validates and appends one record. Values by kind: FieldAge takes the
// birth date as time.Time; FieldDate takes time.Time; FieldNumber takes
// float64 or int; others take string. A missing field is an error. On error
// nothing is appended.
func (b *RowBuilder) Add(r Row) error {
	vals := make([]string, len(b.fields))
	var errs []error
	for i, f := range b.fields {
		v, ok := r[f.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("field %q missing", f.Name))
			continue
		}
		s, err := b.cell(f, v)
		if err != nil {
			errs = append(errs, fmt.Errorf("field %q: %w", f.Name, err))
			continue
		}
		vals[i] = s
	}
	if len(errs) > 0 {
		return &RowError{Source: "record", Row: b.t.rows + 1, Err: errors.Join(errs...)}
	}
	return b.t.AppendRow(vals...)
}

// Table returns the table built so far (shared, not copied).
func (b *RowBuilder) Table() *Table { return b.t }

func (b *RowBuilder) cell(f Field, v any) (string, error) {
	str := func() (string, error) {
		s, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want string, got %T", v)
		}
		return strings.TrimSpace(s), nil
	}
	switch f.Kind {
	case FieldAge:
		birth, ok := v.(time.Time)
		if !ok {
			return "", fmt.Errorf("want birth date, got %T", v)
		}
		a, err := AgeAt(birth, b.ref)
		if err != nil {
			return "", err
		}
		return strconv.Itoa(a), nil
	case FieldDate:
		d, ok := v.(time.Time)
		if !ok {
			return "", fmt.Errorf("want date, got %T", v)
		}
		return d.Format(time.DateOnly), nil
	case FieldNumber:
		var x float64
		switch n := v.(type) {
		case float64:
			x = n
		case int:
			x = float64(n)
		default:
			return "", fmt.Errorf("want number, got %T", v)
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", errors.New("not a finite number")
		}
		return strconv.FormatFloat(x, 'f', max(f.Decimals, 0), 64), nil
	case FieldSex:
		s, err := str()
		if err != nil {
			return "", err
		}
		switch g := strings.ToLower(s); g {
		case "male", "female", "other", "unknown":
			return g, nil
		}
		return "", fmt.Errorf("administrative gender %q", s)
	case FieldPostalCode:
		s, err := str()
		if err != nil {
			return "", err
		}
		s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
		if s == "" || strings.Contains(s, "*") {
			return "", fmt.Errorf("postal code %q", s)
		}
		return s, nil
	case FieldICD10:
		s, err := str()
		if err != nil {
			return "", err
		}
		return NormalizeICD10(s)
	case FieldATC:
		s, err := str()
		if err != nil {
			return "", err
		}
		return NormalizeATC(s)
	default:
		return str()
	}
}

// AgeAt returns the age in whole years at ref of someone born on birth.
func AgeAt(birth, ref time.Time) (int, error) {
	if birth.After(ref) {
		return 0, fmt.Errorf("birth date %s after reference date %s: %w", birth.Format(time.DateOnly), ref.Format(time.DateOnly), ErrMalformedInput)
	}
	y1, m1, d1 := birth.Date()
	y2, m2, d2 := ref.Date()
	a := y2 - y1
	if m2 < m1 || (m2 == m1 && d2 < d1) {
		a--
	}
	return a, nil
}
