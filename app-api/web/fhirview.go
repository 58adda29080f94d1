package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/careledger/careledger/gateway/fhir"
)

// entryView is record content made readable. It holds text only: nothing from a record is
// ever rendered as HTML (FHIR narrative included), so content cannot run in the page.
type entryView struct {
	// Kind is what the entry is, in plain words.
	Kind string
	// Title is the main line: the test, the condition, the medicine.
	Title string
	// Facts are labelled lines under the title.
	Facts []fact
	// Document is true for non-FHIR content, which is offered as a download only.
	Document bool
	// MediaType is the content's media type.
	MediaType string
	// Size is the content's length in bytes.
	Size int
}

type fact struct{ Label, Value string }

const maxFacts = 60

// viewContent renders record content for a timeline. It never fails: content it cannot read
// is described as such.
func viewContent(mediaType string, data []byte) entryView {
	v := entryView{MediaType: mediaType, Size: len(data)}
	if mediaType != fhir.MediaType {
		v.Document, v.Kind, v.Title = true, "Document", "A document ("+mediaType+")"
		return v
	}
	var r resource
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		v.Kind, v.Title = "Unreadable entry", "This entry could not be read."
		return v
	}
	v.Kind = r.str("resourceType")
	switch v.Kind {
	case "Observation":
		v.Kind = "Result"
		v.Title = r.concept("code")
		if q := r.obj("valueQuantity"); q != nil {
			v.add("Value", quantity(q))
		} else if s := r.str("valueString"); s != "" {
			v.add("Value", s)
		} else if c := r.concept("valueCodeableConcept"); c != "" {
			v.add("Value", c)
		}
		for _, c := range r.list("component") {
			if cr := resource(asObj(c)); cr != nil {
				if q := cr.obj("valueQuantity"); q != nil {
					v.add(cr.concept("code"), quantity(q))
				} else if s := cr.str("valueString"); s != "" {
					v.add(cr.concept("code"), s)
				}
			}
		}
		v.add("Interpretation", r.conceptList("interpretation"))
		v.add("Taken", r.str("effectiveDateTime"))
		v.add("Status", r.str("status"))
	case "Condition":
		v.Kind = "Diagnosis"
		v.Title = r.concept("code")
		v.add("Status", r.concept("clinicalStatus"))
		v.add("Since", r.str("onsetDateTime"))
		v.add("Recorded", r.str("recordedDate"))
		v.add("Severity", r.concept("severity"))
	case "MedicationStatement", "MedicationRequest":
		v.Kind = "Medicine"
		v.Title = r.concept("medicationCodeableConcept")
		for _, d := range r.list("dosage") {
			v.add("How to take", resource(asObj(d)).str("text"))
		}
		for _, d := range r.list("dosageInstruction") {
			v.add("How to take", resource(asObj(d)).str("text"))
		}
		if p := r.obj("effectivePeriod"); p != nil {
			v.add("From", p.str("start"))
			v.add("Until", p.str("end"))
		}
		v.add("Status", r.str("status"))
	case "QuestionnaireResponse":
		v.Kind = "Questionnaire"
		v.Title = r.str("questionnaire")
		if v.Title == "" {
			v.Title = "Answers"
		}
		v.addItems(r.list("item"), "")
		v.add("Status", r.str("status"))
		v.add("Filled in", r.str("authored"))
	case "Communication":
		v.Kind = "Note"
		for _, p := range r.list("payload") {
			v.add("Text", resource(asObj(p)).str("contentString"))
		}
		v.add("Written", r.str("sent"))
	case "DocumentReference":
		v.Kind = "Document"
		v.Title = r.str("description")
		for _, c := range r.list("content") {
			a := resource(asObj(c)).obj("attachment")
			v.add("File", a.str("title"))
			v.add("Type", a.str("contentType"))
		}
		v.add("Date", r.str("date"))
	case "AllergyIntolerance":
		v.Kind = "Allergy"
		v.Title = r.concept("code")
		v.add("Status", r.concept("clinicalStatus"))
	case "Immunization":
		v.Kind = "Vaccination"
		v.Title = r.concept("vaccineCode")
		v.add("Given", r.str("occurrenceDateTime"))
	case "Procedure":
		v.Kind = "Procedure"
		v.Title = r.concept("code")
		v.add("Done", r.str("performedDateTime"))
	case "":
		v.Kind = "Unreadable entry"
	default:
		v.Title = r.concept("code")
	}
	if v.Title == "" {
		v.Title = v.Kind
	}
	return v
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

func (r resource) conceptList(k string) string {
	var parts []string
	for _, c := range r.list(k) {
		if s := (resource{"c": c}).concept("c"); s != "" {
			parts = append(parts, s)
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
