package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/gateway/fhir"
)

// historyHeader is the table of released records: when each version was added and under
// which basis it was released, then what it is and says.
var historyHeader = []string{"ADDED", "RECORD", "CATEGORY", "VERSION", "BASIS", "WHAT", "VALUE", "RANGE", "FLAG", "DATE"}

// maxWhat bounds the WHAT column, so a long test name does not push the values off screen.
const maxWhat = 48

// historyTable turns released records into the person they are about (from the newest
// Patient resource among them, "" if none) and table rows. Content is read with
// fhir.Describe, never validated again, so records stored before validation was strict
// still show what can be read; what cannot be read says so in its row. Dates are in words in
// the zone of now; now also dates ages.
func historyTable(rels []client.Release, now time.Time) (person string, rows [][]string) {
	var personAdded time.Time
	for _, r := range rels {
		row := []string{day(r.Version.CreatedAt), r.Record.ID, r.Record.Category, strconv.Itoa(r.Version.Number), r.Basis}
		if r.Media != fhir.MediaType || len(r.Resource) == 0 {
			rows = append(rows, append(row, fmt.Sprintf("Document (%s, %d bytes)", r.Media, len(r.Data)), "", "", "", ""))
			continue
		}
		res, err := fhir.Describe(r.Resource)
		if err != nil {
			rows = append(rows, append(row, "Unreadable entry", "", "", "", ""))
			continue
		}
		s := res.Summary
		if p := s.Patient; p != nil && !r.Version.CreatedAt.Before(personAdded) {
			person, personAdded = joinWords(p.Name, p.Line(now)), r.Version.CreatedAt
		}
		what := fhir.KindWords(res.Type)
		if s.Title != "" {
			what += ": " + s.Title
		}
		date := s.Effective
		if date == nil {
			date = s.Recorded
		}
		rows = append(rows, append(row, clip(what, maxWhat), valueOf(res.Type, s, now), s.Observation.Range(), flagOf(s.Observation), date.Words(now.Location())))
		if o := s.Observation; o != nil {
			for _, c := range o.Components {
				rows = append(rows, []string{"", "", "", "", "", clip("  "+c.Title, maxWhat), firstNonEmpty(c.Value.String(), c.ValueText), "", flagWords(c.Flag), ""})
			}
		}
	}
	return person, rows
}

// valueOf is what a record says in one cell: a result's value, a medicine's dose, a
// diagnosis's code, an allergy's risk, a document's type and file, a patient's line.
func valueOf(resourceType string, s fhir.Summary, now time.Time) string {
	switch {
	case s.Observation != nil:
		return firstNonEmpty(s.Observation.Value.String(), s.Observation.ValueText)
	case s.Medication != nil:
		return s.Medication.Dose
	case s.Allergy != nil:
		return joinWords(append([]string{s.Allergy.Risk()}, s.Allergy.Reactions...)...)
	case s.Document != nil:
		return joinWords(s.Document.TypeWords(), s.Document.File())
	case s.Patient != nil:
		return s.Patient.Line(now)
	case resourceType == "Condition", resourceType == "Procedure", resourceType == "Immunization":
		return s.Code.Label()
	}
	return ""
}

func flagOf(o *fhir.ObservationSummary) string {
	if o == nil {
		return ""
	}
	return flagWords(o.Flag)
}

// flagWords writes a flag as its symbol and its word: "▲ high".
func flagWords(f fhir.Flag) string {
	if f == "" {
		return ""
	}
	return strings.TrimSpace(f.Symbol() + " " + f.Words())
}

// clip shortens s to n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// joinWords joins the parts that say something with commas.
func joinWords(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, ", ")
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
