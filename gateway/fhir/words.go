package fhir

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Summaries in words, as the web pages and the command line show them to people, in English.
// Each returns "" when there is nothing to say.

// Words writes the date as precisely as it was given: a moment in words in zone
// ("12 March 2026, 09:30"); a day, month or year as the calendar date it names ("12 August
// 1964", "March 2015", "1998"), never shifted, so a birth date does not move a day for a
// reader elsewhere.
func (d *Date) Words(zone *time.Location) string {
	if d == nil {
		return ""
	}
	switch d.Precision {
	case PrecisionYear:
		return d.Time.Format("2006")
	case PrecisionMonth:
		return d.Time.Format("January 2006")
	case PrecisionDay:
		return d.Time.Format("2 January 2006")
	}
	return d.Time.In(zone).Format("2 January 2006, 15:04")
}

// Age is the age in whole years on the day of now of someone born on d ("62"); a birth year
// alone gives "about 62", as the age may be a year less. It is "" for a birth after now.
func (d Date) Age(now time.Time) string {
	b := d.Time
	years := now.Year() - b.Year()
	switch d.Precision {
	case PrecisionYear:
		if years < 0 {
			return ""
		}
		return "about " + strconv.Itoa(years)
	case PrecisionMonth:
		if now.Month() < b.Month() {
			years--
		}
	default:
		if now.Month() < b.Month() || (now.Month() == b.Month() && now.Day() < b.Day()) {
			years--
		}
	}
	if years < 0 {
		return ""
	}
	return strconv.Itoa(years)
}

// Line sums up a patient in one line: "born 12 August 1964 (age 62), female". now, in the
// reader's zone, dates the age.
func (p *PatientSummary) Line(now time.Time) string {
	if p == nil {
		return ""
	}
	var parts []string
	if p.BirthDate != nil {
		b := "born " + p.BirthDate.Words(now.Location())
		if age := p.BirthDate.Age(now); age != "" && !p.Deceased {
			b += " (age " + age + ")"
		}
		parts = append(parts, b)
	}
	if p.Sex != "" {
		parts = append(parts, p.Sex)
	}
	if p.Deceased {
		parts = append(parts, "deceased")
	}
	return strings.Join(parts, ", ")
}

// kindWords name resource types as people call them.
var kindWords = map[string]string{
	"Patient": "Personal details", "Observation": "Result", "DiagnosticReport": "Report",
	"Condition": "Diagnosis", "Procedure": "Procedure", "MedicationStatement": "Medicine",
	"MedicationAdministration": "Medicine given", "MedicationRequest": "Prescription",
	"Immunization": "Vaccination", "AllergyIntolerance": "Allergy", "DocumentReference": "Document",
	"Binary": "Document", "Consent": "Consent", "QuestionnaireResponse": "Questionnaire",
	"Communication": "Note",
}

// KindWords names a resource type as people call it: "Result" for an Observation; a type
// without a name of its own is called by its type.
func KindWords(resourceType string) string {
	if w, ok := kindWords[resourceType]; ok {
		return w
	}
	return resourceType
}

var flagWords = map[Flag][2]string{
	FlagNormal:       {"", "normal"},
	FlagHigh:         {"▲", "high"},
	FlagLow:          {"▼", "low"},
	FlagCriticalHigh: {"▲▲", "critically high"},
	FlagCriticalLow:  {"▼▼", "critically low"},
	FlagAbnormal:     {"!", "abnormal"},
	FlagCritical:     {"!!", "critical"},
}

// Words says the flag in words: "high", "critically low".
func (f Flag) Words() string {
	if w, ok := flagWords[f]; ok {
		return w[1]
	}
	return string(f)
}

// Symbol is a symbol that goes with the flag's words, never instead of them: "▲" for high,
// "▼▼" for critically low, "" for normal.
func (f Flag) Symbol() string { return flagWords[f][0] }

// Range writes the first reference range: "4.0 to 5.6 %", "60 mL/min or more", "up to 115
// mg/dL", with its text after it in brackets, or the text alone.
func (o *ObservationSummary) Range() string {
	if o == nil {
		return ""
	}
	low, high := o.Low, o.High
	var r string
	switch {
	case low != nil && high != nil && low.Value != "" && high.Value != "":
		if low.Unit == high.Unit && low.Code == high.Code {
			r = low.Comparator + low.Value + " to " + high.String()
		} else {
			r = low.String() + " to " + high.String()
		}
	case low != nil && low.Value != "":
		r = low.String() + " or more"
	case high != nil && high.Value != "":
		r = "up to " + high.String()
	}
	switch {
	case r == "":
		return o.RangeText
	case o.RangeText != "":
		return r + " (" + o.RangeText + ")"
	}
	return r
}

// systemNames are the code systems people know by name.
var systemNames = map[string]string{
	SystemICD10GM: "ICD-10-GM", SystemOPS: "OPS", SystemATC: "ATC", SystemLOINC: "LOINC",
	SystemSNOMED: "SNOMED CT", "http://hl7.org/fhir/sid/icd-10": "ICD-10",
	"http://fhir.de/CodeSystem/dimdi/icd-10-gm": "ICD-10-GM", "http://fhir.de/CodeSystem/dimdi/ops": "OPS",
	"http://fhir.de/CodeSystem/dimdi/atc": "ATC", "http://www.whocc.no/atc": "ATC",
}

// Label writes the code with its system's name when people know it: "E11.9 (ICD-10-GM)".
func (c *Coding) Label() string {
	if c == nil || c.Code == "" {
		return ""
	}
	if name, ok := systemNames[c.System]; ok {
		return c.Code + " (" + name + ")"
	}
	return c.Code
}

// Risk says the allergy's criticality in words.
func (a *AllergySummary) Risk() string {
	if a == nil {
		return ""
	}
	switch a.Criticality {
	case "high":
		return "high risk: a reaction may be life-threatening"
	case "low":
		return "low risk"
	case "unable-to-assess":
		return "risk not known"
	}
	return a.Criticality
}

// File writes the attachment's kind and size: "PDF, 857 bytes", "image/png, 3 KB".
func (d *DocumentSummary) File() string {
	if d == nil {
		return ""
	}
	kind := d.ContentType
	if kind == "application/pdf" {
		kind = "PDF"
	}
	switch {
	case d.Size <= 0:
		return kind
	case d.Size < 1024:
		return fmt.Sprintf("%s, %d bytes", kind, d.Size)
	case d.Size < 1<<20:
		return fmt.Sprintf("%s, %d KB", kind, (d.Size+1023)/1024)
	}
	return fmt.Sprintf("%s, %.1f MB", kind, float64(d.Size)/(1<<20))
}

// TypeWords names the document's type: its display, else its code.
func (d *DocumentSummary) TypeWords() string {
	if d == nil || d.Type == nil {
		return ""
	}
	if d.Type.Display != "" {
		return d.Type.Display
	}
	return d.Type.Code
}
