package fhir

import (
	"fmt"
	"regexp"
	"time"
)

// Precision is how much of a FHIR date or dateTime was given: a birth year, a month, a day,
// or a moment.
type Precision int

// Precisions, coarsest first.
const (
	PrecisionYear Precision = iota + 1
	PrecisionMonth
	PrecisionDay
	PrecisionTime
)

// Date is a FHIR date, dateTime or instant. Views show it in words in the viewer's time zone
// when it is a moment (Precision == PrecisionTime) and as the calendar date it names
// otherwise: a birth date must not move a day because the viewer is elsewhere.
type Date struct {
	// Raw is the value as written in the resource; it is what Date marshals to.
	Raw string
	// Time is the moment, or the start of the year, month or day (in UTC when the value
	// names no zone).
	Time      time.Time
	Precision Precision
}

var dateTimePattern = regexp.MustCompile(`^([0-9]{4})(-([0-9]{2})(-([0-9]{2})(T([0-9]{2}):([0-9]{2})(:([0-9]{2})(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?)?)?$`)

// ParseDate reads a FHIR date, dateTime or instant.
func ParseDate(s string) (Date, error) {
	m := dateTimePattern.FindStringSubmatch(s)
	if m == nil {
		return Date{}, fmt.Errorf("fhir: %q is not a FHIR date or dateTime", shorten(s))
	}
	var layout string
	var p Precision
	switch {
	case m[6] != "" && m[9] == "":
		layout, p = "2006-01-02T15:04", PrecisionTime
	case m[6] != "":
		layout, p = "2006-01-02T15:04:05", PrecisionTime
	case m[4] != "":
		layout, p = "2006-01-02", PrecisionDay
	case m[2] != "":
		layout, p = "2006-01", PrecisionMonth
	default:
		layout, p = "2006", PrecisionYear
	}
	if m[11] != "" {
		layout += ".999999999"
	}
	switch {
	case m[12] == "Z":
		layout += "Z07:00"
	case m[12] != "":
		layout += "-07:00"
	}
	t, err := time.Parse(layout, s)
	if err != nil {
		return Date{}, fmt.Errorf("fhir: %q is not a FHIR date or dateTime", shorten(s))
	}
	return Date{Raw: s, Time: t, Precision: p}, nil
}

// String returns the date as written.
func (d Date) String() string { return d.Raw }

// MarshalJSON writes the date as written, so summaries round-trip FHIR's own form.
func (d Date) MarshalJSON() ([]byte, error) { return []byte(fmt.Sprintf("%q", d.Raw)), nil }

// dateOf parses s, or returns nil when s is empty or not a date.
func dateOf(s string) *Date {
	if s == "" {
		return nil
	}
	d, err := ParseDate(s)
	if err != nil {
		return nil
	}
	return &d
}
