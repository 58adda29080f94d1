package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/gateway/fhir"
)

// entryView is record content made readable. It holds text only: nothing from a record is
// ever rendered as HTML (FHIR narrative included), so content cannot run in the page. It is
// built from fhir.Describe's Summary, which reads the few elements views need without
// validating: records stored before validation was strict still show what can be read.
type entryView struct {
	// Kind is what the entry is, in plain words.
	Kind string
	// Title is the main line: the test, the condition, the medicine.
	Title string
	// Results are a result's values with their reference range and flag: one for a
	// single value, one per part for a multi-part result such as blood pressure.
	Results []resultView
	// Facts are labelled lines under the title.
	Facts []fact
	// Notes are the sender's free-text notes and conclusions.
	Notes []string
	// Patient is set for a patient's own details (a FHIR Patient).
	Patient *patientView
	// Document is true for non-FHIR content, which is offered as a download only.
	Document bool
	// MediaType is the content's media type.
	MediaType string
	// Size is the content's length in bytes.
	Size int
}

type fact struct{ Label, Value string }

// resultView is one measured value as a clinician reads it.
type resultView struct {
	// Label is what was measured: the test, or the part of a multi-part result.
	Label string
	Value string
	// Range is the reference range in words ("4.0 to 5.6 %", "up to 115 mg/dL").
	Range string
	Flag  flagView
}

// flagView says how a value compares with its range in a word and a symbol, never by colour
// alone; the symbol is hidden from screen readers, which read the word.
type flagView struct {
	// Class is the fhir.Flag, for the style sheet.
	Class  string
	Symbol string
	Word   string
	// Computed is true when CareLedger compared the value with the range because the
	// sender gave no interpretation.
	Computed bool
}

func flagOf(f fhir.Flag, computed bool) flagView {
	if f == "" {
		return flagView{}
	}
	return flagView{Class: string(f), Symbol: f.Symbol(), Word: f.Words(), Computed: computed}
}

// patientView is the head of a patient's page: who the records are about.
type patientView struct {
	Name string
	// Born is the birth date in words; Age the age in years today, if the date allows it.
	Born     string
	Age      string
	Sex      string
	Deceased bool
	// Line sums the patient up for lists: "born 12 August 1964 (age 62), female".
	Line string
}

// viewing is what a view needs to know of its reader: the time zone dates are written in,
// and today, for ages.
type viewing struct {
	zone *time.Location
	now  time.Time
}

const maxFacts = 60

// viewContent renders record content for a timeline. It never fails: content it cannot read
// is described as such.
func viewContent(mediaType string, data []byte, at viewing) entryView {
	v := entryView{MediaType: mediaType, Size: len(data)}
	if mediaType != fhir.MediaType {
		v.Document, v.Kind, v.Title = true, "Document", "A document ("+mediaType+")"
		return v
	}
	res, err := fhir.Describe(data)
	if err != nil {
		v.Kind, v.Title = "Unreadable entry", "This entry could not be read."
		return v
	}
	s := res.Summary
	v.Kind, v.Title = fhir.KindWords(res.Type), s.Title
	effective, recorded := "Date", "Recorded"
	switch res.Type {
	case "Patient":
		v.Patient = viewPatient(s.Patient, at)
		v.add("Born", v.Patient.Born)
		v.add("Age", v.Patient.Age)
		v.add("Sex", v.Patient.Sex)
		if v.Patient.Deceased {
			v.add("Deceased", "yes")
		}
	case "Observation":
		effective, recorded = "Taken", "Reported"
		v.Results = viewResults(s)
	case "DiagnosticReport":
		effective, recorded = "Taken", "Reported"
	case "Condition":
		effective = "Since"
	case "Procedure":
		effective = "Done"
	case "MedicationStatement", "MedicationAdministration":
		effective, recorded = "From", "Noted"
		if res.Type == "MedicationAdministration" {
			effective = "Given"
		}
		if m := s.Medication; m != nil {
			v.add("Dose", m.Dose)
			if !strings.Contains(m.Dose, m.Route) {
				v.add("Route", m.Route)
			}
		}
	case "Immunization":
		effective = "Given"
	case "AllergyIntolerance":
		effective = "Since"
		if a := s.Allergy; a != nil {
			v.add("Risk", a.Risk())
			v.add("Reactions", strings.Join(a.Reactions, ", "))
		}
	case "DocumentReference", "Binary":
		effective, recorded = "Written", "Dated"
		if d := s.Document; d != nil {
			v.add("Type", d.TypeWords())
			v.add("File", d.File())
		}
		if res.Type == "Binary" {
			v.Title = "A document"
		}
	case "Consent":
		recorded = "Signed"
	case "QuestionnaireResponse", "Communication", "MedicationRequest":
		// Summary reads no answers, messages or prescriptions yet: read them here.
		legacyFacts(&v, data, at)
	}
	if c := s.Code; c != nil && c.Code != "" && res.Type != "DocumentReference" {
		v.add("Code", c.Label())
	}
	if s.Status != "" && res.Type != "Patient" {
		v.add("Status", statusWords(s.Status))
	}
	v.add(effective, s.Effective.Words(at.zone))
	v.add(recorded, s.Recorded.Words(at.zone))
	for _, n := range s.Notes {
		if n = strings.TrimSpace(n); n != "" && len(v.Notes) < maxFacts {
			v.Notes = append(v.Notes, n)
		}
	}
	if v.Kind == "" {
		v.Kind = "Unreadable entry"
	}
	if v.Title == "" {
		v.Title = v.Kind
	}
	return v
}

// viewResults turns a result's value, or its parts' values, into rows.
func viewResults(s fhir.Summary) []resultView {
	o := s.Observation
	if o == nil {
		return nil
	}
	var rows []resultView
	if value := firstNonEmpty(o.Value.String(), o.ValueText); value != "" {
		rows = append(rows, resultView{Label: firstNonEmpty(s.Title, "Value"), Value: value, Range: o.Range(), Flag: flagOf(o.Flag, o.FlagComputed)})
	}
	for _, c := range o.Components {
		value := firstNonEmpty(c.Value.String(), c.ValueText)
		if value == "" || len(rows) >= maxFacts {
			continue
		}
		rows = append(rows, resultView{Label: firstNonEmpty(c.Title, "Value"), Value: value, Flag: flagOf(c.Flag, false)})
	}
	return rows
}

func viewPatient(p *fhir.PatientSummary, at viewing) *patientView {
	if p == nil {
		return &patientView{}
	}
	now := at.now.In(at.zone)
	pv := &patientView{Name: p.Name, Sex: p.Sex, Deceased: p.Deceased, Line: p.Line(now)}
	if p.BirthDate != nil {
		pv.Born = p.BirthDate.Words(at.zone)
		if !p.Deceased {
			pv.Age = p.BirthDate.Age(now)
		}
	}
	return pv
}

var statusWordsByCode = map[string]string{
	"final": "final", "preliminary": "preliminary, may change", "amended": "amended", "corrected": "corrected",
	"entered-in-error": "entered in error: not valid", "cancelled": "cancelled", "active": "active",
	"inactive": "no longer active", "resolved": "resolved", "remission": "in remission", "recurrence": "came back",
	"completed": "completed", "stopped": "stopped", "on-hold": "on hold", "not-taken": "not taken",
	"intended": "intended", "in-progress": "in progress", "current": "current", "superseded": "replaced by a newer one",
}

func statusWords(s string) string {
	if w, ok := statusWordsByCode[s]; ok {
		return w
	}
	return s
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// legacyFacts reads answers, messages and prescriptions, which Summary does not read.
func legacyFacts(v *entryView, data []byte, at viewing) {
	when := func(s string) string {
		if d, err := fhir.ParseDate(s); err == nil {
			return d.Words(at.zone)
		}
		return s
	}
	var r resource
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&r) != nil {
		return
	}
	switch r.str("resourceType") {
	case "MedicationRequest":
		v.Title = r.concept("medicationCodeableConcept")
		for _, d := range r.list("dosageInstruction") {
			v.add("Dose", resource(asObj(d)).str("text"))
		}
	case "QuestionnaireResponse":
		v.Title = r.str("questionnaire")
		if v.Title == "" {
			v.Title = "Answers"
		}
		v.addItems(r.list("item"), "")
		v.add("Filled in", when(r.str("authored")))
	case "Communication":
		for _, p := range r.list("payload") {
			v.add("Text", resource(asObj(p)).str("contentString"))
		}
		v.add("Written", when(r.str("sent")))
	}
}

func (v *entryView) add(label, value string) {
	value = strings.TrimSpace(value)
	if value == "" || len(v.Facts) >= maxFacts {
		return
	}
	if label == "" {
		label = "Value"
	}
	v.Facts = append(v.Facts, fact{Label: label, Value: value})
}

// addItems flattens questionnaire items and their answers; depth is bounded by maxFacts and
// by the JSON decoder's nesting limit.
func (v *entryView) addItems(items []any, prefix string) {
	for _, it := range items {
		item := resource(asObj(it))
		if item == nil || len(v.Facts) >= maxFacts {
			continue
		}
		q := item.str("text")
		if q == "" {
			q = item.str("linkId")
		}
		if prefix != "" {
			q = prefix + " › " + q
		}
		var answers []string
		for _, a := range item.list("answer") {
			ar := resource(asObj(a))
			if ar == nil {
				continue
			}
			answers = append(answers, ar.answer())
			v.addItems(ar.list("item"), q)
		}
		v.add(q, strings.Join(answers, ", "))
		v.addItems(item.list("item"), q)
	}
}

// resource is a decoded FHIR JSON object with forgiving accessors: a field of the wrong type
// reads as absent.
type resource map[string]any

func asObj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func (r resource) str(k string) string {
	switch x := r[k].(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func (r resource) obj(k string) resource { return resource(asObj(r[k])) }

func (r resource) list(k string) []any {
	l, _ := r[k].([]any)
	return l
}

// concept renders a CodeableConcept: its text, else its codings' displays, else their codes.
func (r resource) concept(k string) string {
	c := r.obj(k)
	if c == nil {
		return ""
	}
	if t := c.str("text"); t != "" {
		return t
	}
	var parts []string
	for _, cd := range c.list("coding") {
		cr := resource(asObj(cd))
		if d := cr.str("display"); d != "" {
			parts = append(parts, d)
		} else if code := cr.str("code"); code != "" {
			parts = append(parts, code)
		}
	}
	return strings.Join(parts, ", ")
}

// answer renders one QuestionnaireResponse answer of any value type.
func (r resource) answer() string {
	for _, k := range []string{"valueString", "valueBoolean", "valueInteger", "valueDecimal", "valueDate", "valueDateTime", "valueTime", "valueUri"} {
		if s := r.str(k); s != "" {
			if k == "valueBoolean" {
				if s == "true" {
					return "yes"
				}
				return "no"
			}
			return s
		}
	}
	if c := r.obj("valueCoding"); c != nil {
		if d := c.str("display"); d != "" {
			return d
		}
		return c.str("code")
	}
	if q := r.obj("valueQuantity"); q != nil {
		return quantity(q)
	}
	return ""
}

func quantity(q resource) string {
	val := q.str("value")
	unit := q.str("unit")
	if unit == "" {
		unit = q.str("code")
	}
	if c := q.str("comparator"); c != "" {
		val = c + " " + val
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s", val, unit))
}
