package fhir

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Summary is what views show of a resource: the few facts a clinician or patient reads
// first, already picked out of FHIR's many ways of saying them. Fields a resource type does
// not have stay empty.
type Summary struct {
	// Title is what a person reads first: the patient's name, the test, diagnosis,
	// procedure, drug, vaccine or substance, or the document's title.
	Title string `json:"title,omitempty"`
	// Code is the main code, preferring the MII systems (ICD-10-GM, OPS, LOINC, ATC) over
	// others.
	Code *Coding `json:"code,omitempty"`
	// Status is the resource's status, or the clinical status of a Condition or
	// AllergyIntolerance.
	Status string `json:"status,omitempty"`
	// Effective is when it happened or was true: effective[x], onset[x], performed[x],
	// occurrence[x] (the start of a period).
	Effective *Date `json:"effective,omitempty"`
	// Recorded is when it was written down: issued, recordedDate, dateAsserted, date,
	// dateTime.
	Recorded *Date `json:"recorded,omitempty"`
	// Notes are free-text notes and conclusions.
	Notes []string `json:"notes,omitempty"`

	Patient     *PatientSummary     `json:"patient,omitempty"`
	Observation *ObservationSummary `json:"observation,omitempty"`
	Medication  *MedicationSummary  `json:"medication,omitempty"`
	Document    *DocumentSummary    `json:"document,omitempty"`
	Allergy     *AllergySummary     `json:"allergy,omitempty"`
}

// Coding is one code from a code system.
type Coding struct {
	System  string `json:"system,omitempty"`
	Code    string `json:"code,omitempty"`
	Display string `json:"display,omitempty"`
}

// PatientSummary is a Patient's demographics.
type PatientSummary struct {
	// Name is the official (else the first) name as a person writes it: given names, then
	// the family name.
	Name      string   `json:"name,omitempty"`
	Family    string   `json:"family,omitempty"`
	Given     []string `json:"given,omitempty"`
	BirthDate *Date    `json:"birthDate,omitempty"`
	// Sex is FHIR's administrative gender: male, female, other or unknown.
	Sex      string `json:"sex,omitempty"`
	Deceased bool   `json:"deceased,omitempty"`
}

// Quantity is a measured amount. Value is the decimal as written, so no precision is lost
// or invented ("13.20" stays "13.20").
type Quantity struct {
	Value string `json:"value,omitempty"`
	// Comparator is <, <=, >= or > when the value is a limit ("<0.01").
	Comparator string `json:"comparator,omitempty"`
	// Unit is the unit as shown to people; Code is its UCUM code when System is UCUM.
	Unit   string `json:"unit,omitempty"`
	System string `json:"system,omitempty"`
	Code   string `json:"code,omitempty"`
}

// Float returns the value as a number.
func (q *Quantity) Float() (float64, bool) {
	if q == nil || q.Value == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(q.Value, 64)
	return f, err == nil
}

// String writes the quantity as people read it: "<0.01 mg/dL".
func (q *Quantity) String() string {
	if q == nil {
		return ""
	}
	unit := q.Unit
	if unit == "" {
		unit = q.Code
	}
	return strings.TrimSpace(q.Comparator + q.Value + " " + unit)
}

// Flag says how a result compares with its reference range.
type Flag string

// Flags, from HL7's ObservationInterpretation codes or computed from the reference range.
const (
	FlagNormal       Flag = "normal"
	FlagHigh         Flag = "high"
	FlagLow          Flag = "low"
	FlagCriticalHigh Flag = "critical-high"
	FlagCriticalLow  Flag = "critical-low"
	FlagAbnormal     Flag = "abnormal"
	FlagCritical     Flag = "critical"
)

// interpretationFlags maps v3 ObservationInterpretation codes to flags.
var interpretationFlags = map[string]Flag{
	"N": FlagNormal, "H": FlagHigh, "HU": FlagHigh, ">": FlagHigh, "L": FlagLow, "LU": FlagLow,
	"<": FlagLow, "HH": FlagCriticalHigh, "LL": FlagCriticalLow, "A": FlagAbnormal,
	"AA": FlagCritical,
}

// ObservationSummary is a result: its value, the range it is judged against and the flag.
type ObservationSummary struct {
	// Value is a quantitative result; ValueText a coded, textual or yes/no one.
	Value     *Quantity `json:"value,omitempty"`
	ValueText string    `json:"valueText,omitempty"`
	// Low and High are the first reference range's limits; RangeText its text.
	Low       *Quantity `json:"low,omitempty"`
	High      *Quantity `json:"high,omitempty"`
	RangeText string    `json:"rangeText,omitempty"`
	// Flag is the sender's interpretation, or, when none is coded, the value compared with
	// the reference range (then FlagComputed is true).
	Flag         Flag `json:"flag,omitempty"`
	FlagComputed bool `json:"flagComputed,omitempty"`
	// Components are the parts of a multi-part result, such as systolic and diastolic blood
	// pressure.
	Components []ObservationComponent `json:"components,omitempty"`
}

// ObservationComponent is one part of a multi-part result.
type ObservationComponent struct {
	Title     string    `json:"title,omitempty"`
	Code      *Coding   `json:"code,omitempty"`
	Value     *Quantity `json:"value,omitempty"`
	ValueText string    `json:"valueText,omitempty"`
	Flag      Flag      `json:"flag,omitempty"`
}

// MedicationSummary is how a drug is (or was) taken or given; the drug itself is the
// Summary's Title and Code (ATC).
type MedicationSummary struct {
	// Dose is the dosage in words: the sender's dosage text, else built from dose, timing
	// and route ("1 tablet, 2 times per day, oral").
	Dose         string    `json:"dose,omitempty"`
	DoseQuantity *Quantity `json:"doseQuantity,omitempty"`
	Route        string    `json:"route,omitempty"`
	// Reference is the Medication resource the drug is described in when it is not coded
	// in place (medicationReference), as the MII medication module does. ParseBundle fills
	// the Summary's Title and Code from it when the Medication travels in the same Bundle.
	Reference string `json:"reference,omitempty"`
}

// DocumentSummary describes a document: a DocumentReference's type and attachment, or a
// Binary's content.
type DocumentSummary struct {
	Type *Coding `json:"type,omitempty"`
	// ContentType is the attachment's media type, such as application/pdf.
	ContentType string `json:"contentType,omitempty"`
	// Size is the content's length in bytes when known.
	Size int `json:"size,omitempty"`
	// URL is where the content is when it is not inline (a Binary or another server).
	URL string `json:"url,omitempty"`
	// Inline is true when the content travels in the resource itself.
	Inline bool `json:"inline,omitempty"`
}

// AllergySummary is what an AllergyIntolerance warns of; the substance is the Summary's
// Title and Code.
type AllergySummary struct {
	// Criticality is low, high or unable-to-assess.
	Criticality string `json:"criticality,omitempty"`
	// Reactions are the manifestations seen, in words.
	Reactions []string `json:"reactions,omitempty"`
}

// The JSON shapes summaries are read from: only the elements they use, so reading stays
// cheap on the read path. Elements whose JSON shape differs between resource types
// (category, type, dosage) are read per type.
type (
	jCoding struct {
		System  string `json:"system"`
		Code    string `json:"code"`
		Display string `json:"display"`
	}
	jConcept struct {
		Coding []jCoding `json:"coding"`
		Text   string    `json:"text"`
	}
	jQuantity struct {
		Value      json.Number `json:"value"`
		Comparator string      `json:"comparator"`
		Unit       string      `json:"unit"`
		System     string      `json:"system"`
		Code       string      `json:"code"`
	}
	jReference struct {
		Reference string `json:"reference"`
		Display   string `json:"display"`
	}
	jPeriod struct {
		Start string `json:"start"`
		End   string `json:"end"`
	}
	jRange struct {
		Low  *jQuantity `json:"low"`
		High *jQuantity `json:"high"`
		Text string     `json:"text"`
	}
	jAttachment struct {
		ContentType string `json:"contentType"`
		Data        string `json:"data"`
		URL         string `json:"url"`
		Title       string `json:"title"`
		Size        int    `json:"size"`
		Creation    string `json:"creation"`
	}
	jDosage struct {
		Text   string `json:"text"`
		Timing *struct {
			Code   *jConcept `json:"code"`
			Repeat *struct {
				Frequency  int         `json:"frequency"`
				Period     json.Number `json:"period"`
				PeriodUnit string      `json:"periodUnit"`
				When       []string    `json:"when"`
			} `json:"repeat"`
		} `json:"timing"`
		Route       *jConcept `json:"route"`
		DoseAndRate []struct {
			DoseQuantity *jQuantity `json:"doseQuantity"`
		} `json:"doseAndRate"`
		// MedicationAdministration.dosage
		Dose *jQuantity `json:"dose"`
	}
	jValue struct {
		ValueQuantity        *jQuantity `json:"valueQuantity"`
		ValueCodeableConcept *jConcept  `json:"valueCodeableConcept"`
		ValueString          *string    `json:"valueString"`
		ValueBoolean         *bool      `json:"valueBoolean"`
		ValueInteger         *int64     `json:"valueInteger"`
		Interpretation       []jConcept `json:"interpretation"`
		ReferenceRange       []jRange   `json:"referenceRange"`
	}
	jResource struct {
		ResourceType string          `json:"resourceType"`
		ID           string          `json:"id"`
		Status       string          `json:"status"`
		Subject      *jReference     `json:"subject"`
		Patient      *jReference     `json:"patient"`
		Code         *jConcept       `json:"code"`
		Category     json.RawMessage `json:"category"`
		Type         json.RawMessage `json:"type"`
		Note         []struct {
			Text string `json:"text"`
		} `json:"note"`

		// Patient
		Name []struct {
			Use    string   `json:"use"`
			Text   string   `json:"text"`
			Family string   `json:"family"`
			Given  []string `json:"given"`
		} `json:"name"`
		Gender           string `json:"gender"`
		BirthDate        string `json:"birthDate"`
		DeceasedBoolean  *bool  `json:"deceasedBoolean"`
		DeceasedDateTime string `json:"deceasedDateTime"`

		// Observation
		jValue
		EffectiveDateTime string   `json:"effectiveDateTime"`
		EffectivePeriod   *jPeriod `json:"effectivePeriod"`
		EffectiveInstant  string   `json:"effectiveInstant"`
		Issued            string   `json:"issued"`
		Component         []struct {
			Code *jConcept `json:"code"`
			jValue
		} `json:"component"`

		// Condition, AllergyIntolerance
		ClinicalStatus *jConcept `json:"clinicalStatus"`
		OnsetDateTime  string    `json:"onsetDateTime"`
		OnsetPeriod    *jPeriod  `json:"onsetPeriod"`
		RecordedDate   string    `json:"recordedDate"`
		RecordedAt     string    `json:"recorded"` // Immunization
		Criticality    string    `json:"criticality"`
		Reaction       []struct {
			Manifestation []jConcept `json:"manifestation"`
		} `json:"reaction"`

		// Procedure
		PerformedDateTime string   `json:"performedDateTime"`
		PerformedPeriod   *jPeriod `json:"performedPeriod"`

		// MedicationStatement, MedicationAdministration
		MedicationCodeableConcept *jConcept       `json:"medicationCodeableConcept"`
		MedicationReference       *jReference     `json:"medicationReference"`
		Dosage                    json.RawMessage `json:"dosage"`
		DateAsserted              string          `json:"dateAsserted"`

		// DiagnosticReport
		Conclusion string `json:"conclusion"`

		// DocumentReference, Binary
		Description string `json:"description"`
		Date        string `json:"date"`
		Content     []struct {
			Attachment jAttachment `json:"attachment"`
		} `json:"content"`
		ContentType string `json:"contentType"`
		Data        string `json:"data"`

		// Immunization
		VaccineCode        *jConcept `json:"vaccineCode"`
		OccurrenceDateTime string    `json:"occurrenceDateTime"`

		// Consent
		Scope    *jConcept `json:"scope"`
		DateTime string    `json:"dateTime"`
	}
)

// preferredSystems are the code systems a summary's Code is taken from first.
var preferredSystems = []string{
	SystemICD10GM, SystemOPS, SystemLOINC, SystemATC, "http://fhir.de/CodeSystem/dimdi/icd-10-gm",
	"http://fhir.de/CodeSystem/dimdi/ops", "http://fhir.de/CodeSystem/dimdi/atc",
	"http://www.whocc.no/atc", "http://hl7.org/fhir/sid/icd-10", SystemSNOMED,
}

// main picks a concept's most useful coding.
func (c *jConcept) main() *Coding {
	if c == nil || len(c.Coding) == 0 {
		return nil
	}
	best := c.Coding[0]
	rank := len(preferredSystems)
	for _, cd := range c.Coding {
		if i := slices.Index(preferredSystems, cd.System); i >= 0 && i < rank {
			best, rank = cd, i
		}
	}
	return &Coding{System: best.System, Code: best.Code, Display: best.Display}
}

// words is a concept as people read it: its text, else a display, else a code.
func (c *jConcept) words() string {
	if c == nil {
		return ""
	}
	if c.Text != "" {
		return c.Text
	}
	if m := c.main(); m != nil {
		if m.Display != "" {
			return m.Display
		}
		for _, cd := range c.Coding {
			if cd.Display != "" {
				return cd.Display
			}
		}
		return m.Code
	}
	return ""
}

func (q *jQuantity) quantity() *Quantity {
	if q == nil || (q.Value == "" && q.Unit == "" && q.Code == "") {
		return nil
	}
	return &Quantity{Value: q.Value.String(), Comparator: q.Comparator, Unit: q.Unit, System: q.System, Code: q.Code}
}

func (p *jPeriod) start() string {
	if p == nil {
		return ""
	}
	return p.Start
}

// firstOf returns the first non-empty string.
func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// summarize reads a resource's summary, subject reference and category codes. It trusts
// nothing: content stored before validation was strict reads as well as it can.
func summarize(data []byte) (j *jResource, s Summary, catCodes []string) {
	j = &jResource{}
	_ = json.Unmarshal(data, j) // best effort: a wrongly shaped element stays empty
	var cats []jConcept
	if json.Unmarshal(j.Category, &cats) == nil {
		for _, c := range cats {
			for _, cd := range c.Coding {
				catCodes = append(catCodes, cd.Code)
			}
		}
	}
	for _, n := range j.Note {
		if n.Text != "" {
			s.Notes = append(s.Notes, n.Text)
		}
	}
	s.Status = j.Status
	switch j.ResourceType {
	case "Patient":
		s.Patient = patientSummary(j)
		s.Title = s.Patient.Name
	case "Observation":
		s.Title, s.Code = j.Code.words(), j.Code.main()
		s.Effective = dateOf(firstOf(j.EffectiveDateTime, j.EffectivePeriod.start(), j.EffectiveInstant))
		s.Recorded = dateOf(j.Issued)
		s.Observation = observationSummary(j)
	case "Condition":
		s.Title, s.Code = j.Code.words(), j.Code.main()
		s.Status = firstOf(clinicalStatus(j.ClinicalStatus), j.Status)
		s.Effective = dateOf(firstOf(j.OnsetDateTime, j.OnsetPeriod.start()))
		s.Recorded = dateOf(j.RecordedDate)
	case "Procedure":
		s.Title, s.Code = j.Code.words(), j.Code.main()
		s.Effective = dateOf(firstOf(j.PerformedDateTime, j.PerformedPeriod.start()))
	case "MedicationStatement", "MedicationAdministration":
		if j.MedicationCodeableConcept != nil {
			s.Title, s.Code = j.MedicationCodeableConcept.words(), j.MedicationCodeableConcept.main()
		} else if j.MedicationReference != nil {
			s.Title = j.MedicationReference.Display
		}
		s.Effective = dateOf(firstOf(j.EffectiveDateTime, j.EffectivePeriod.start()))
		s.Recorded = dateOf(j.DateAsserted)
		s.Medication = medicationSummary(j)
		if j.MedicationReference != nil {
			s.Medication.Reference = j.MedicationReference.Reference
		}
	case "DiagnosticReport":
		s.Title, s.Code = j.Code.words(), j.Code.main()
		s.Effective = dateOf(firstOf(j.EffectiveDateTime, j.EffectivePeriod.start()))
		s.Recorded = dateOf(j.Issued)
		if j.Conclusion != "" {
			s.Notes = append(s.Notes, j.Conclusion)
		}
	case "DocumentReference":
		s.Document = documentSummary(j)
		var typ jConcept
		_ = json.Unmarshal(j.Type, &typ)
		s.Document.Type = typ.main()
		title := ""
		if len(j.Content) > 0 {
			title = j.Content[0].Attachment.Title
		}
		s.Title = firstOf(j.Description, title, typ.words())
		s.Code = typ.main()
		if len(j.Content) > 0 {
			s.Effective = dateOf(j.Content[0].Attachment.Creation)
		}
		s.Recorded = dateOf(j.Date)
	case "Binary":
		s.Document = &DocumentSummary{ContentType: j.ContentType, Size: base64.StdEncoding.DecodedLen(len(j.Data)) - padding(j.Data), Inline: j.Data != ""}
		s.Title = j.ContentType
	case "Immunization":
		s.Title, s.Code = j.VaccineCode.words(), j.VaccineCode.main()
		s.Effective = dateOf(j.OccurrenceDateTime)
		s.Recorded = dateOf(j.RecordedAt)
	case "AllergyIntolerance":
		s.Title, s.Code = j.Code.words(), j.Code.main()
		s.Status = firstOf(clinicalStatus(j.ClinicalStatus), j.Status)
		s.Effective = dateOf(firstOf(j.OnsetDateTime, j.OnsetPeriod.start()))
		s.Recorded = dateOf(j.RecordedDate)
		s.Allergy = &AllergySummary{Criticality: j.Criticality}
		for _, r := range j.Reaction {
			for _, m := range r.Manifestation {
				if w := m.words(); w != "" {
					s.Allergy.Reactions = append(s.Allergy.Reactions, w)
				}
			}
		}
	case "Consent":
		s.Title, s.Code = j.Scope.words(), j.Scope.main()
		var cats []jConcept
		if json.Unmarshal(j.Category, &cats) == nil && len(cats) > 0 {
			s.Title, s.Code = firstOf(cats[0].words(), s.Title), cats[0].main()
		}
		s.Recorded = dateOf(j.DateTime)
	default:
		s.Title, s.Code = j.Code.words(), j.Code.main()
	}
	return j, s, catCodes
}

// padding counts base64 padding characters, so Size is the decoded length.
func padding(b64 string) int {
	return len(b64) - len(strings.TrimRight(b64, "="))
}

func clinicalStatus(c *jConcept) string {
	if m := c.main(); m != nil {
		return m.Code
	}
	return ""
}

func patientSummary(j *jResource) *PatientSummary {
	p := &PatientSummary{Sex: j.Gender, BirthDate: dateOf(j.BirthDate)}
	p.Deceased = (j.DeceasedBoolean != nil && *j.DeceasedBoolean) || j.DeceasedDateTime != ""
	if len(j.Name) > 0 {
		n := j.Name[0]
		for _, cand := range j.Name {
			if cand.Use == "official" {
				n = cand
				break
			}
		}
		p.Family, p.Given = n.Family, n.Given
		p.Name = firstOf(n.Text, strings.TrimSpace(strings.Join(append(slices.Clone(n.Given), n.Family), " ")))
	}
	return p
}

func observationSummary(j *jResource) *ObservationSummary {
	o := &ObservationSummary{}
	o.Value, o.ValueText, o.Low, o.High, o.RangeText, o.Flag, o.FlagComputed = valueSummary(&j.jValue)
	for _, c := range j.Component {
		oc := ObservationComponent{Title: c.Code.words(), Code: c.Code.main()}
		oc.Value, oc.ValueText, _, _, _, oc.Flag, _ = valueSummary(&c.jValue)
		o.Components = append(o.Components, oc)
	}
	return o
}

// valueSummary reads a value[x] with its range and interpretation.
func valueSummary(v *jValue) (value *Quantity, text string, low, high *Quantity, rangeText string, flag Flag, computed bool) {
	value = v.ValueQuantity.quantity()
	switch {
	case v.ValueCodeableConcept != nil:
		text = v.ValueCodeableConcept.words()
	case v.ValueString != nil:
		text = *v.ValueString
	case v.ValueBoolean != nil:
		text = map[bool]string{true: "yes", false: "no"}[*v.ValueBoolean]
	case v.ValueInteger != nil:
		value = &Quantity{Value: strconv.FormatInt(*v.ValueInteger, 10)}
	}
	if len(v.ReferenceRange) > 0 {
		r := v.ReferenceRange[0]
		low, high, rangeText = r.Low.quantity(), r.High.quantity(), r.Text
	}
	for _, in := range v.Interpretation {
		for _, cd := range in.Coding {
			if f, ok := interpretationFlags[cd.Code]; ok {
				return value, text, low, high, rangeText, f, false
			}
		}
	}
	if len(v.Interpretation) > 0 {
		return value, text, low, high, rangeText, "", false // coded, in a way we do not read
	}
	if f := compareWithRange(value, low, high); f != "" {
		return value, text, low, high, rangeText, f, true
	}
	return value, text, low, high, rangeText, "", false
}

// compareWithRange flags a value against a range in the same unit. A value given as a limit
// ("<0.01") or a range in another unit is not judged: a wrong flag is worse than none.
func compareWithRange(v, low, high *Quantity) Flag {
	x, ok := v.Float()
	if !ok || v.Comparator != "" || (low == nil && high == nil) {
		return ""
	}
	same := func(r *Quantity) bool {
		return r == nil || (r.Code == "" && r.Unit == "") || (r.Code != "" && r.Code == v.Code) || (r.Code == "" && r.Unit == v.Unit)
	}
	if !same(low) || !same(high) {
		return ""
	}
	if l, ok := low.Float(); ok && x < l {
		return FlagLow
	}
	if h, ok := high.Float(); ok && x > h {
		return FlagHigh
	}
	return FlagNormal
}

func medicationSummary(j *jResource) *MedicationSummary {
	m := &MedicationSummary{}
	var d jDosage
	var list []jDosage
	if json.Unmarshal(j.Dosage, &list) == nil && len(list) > 0 {
		d = list[0] // MedicationStatement.dosage is a list
	} else {
		_ = json.Unmarshal(j.Dosage, &d) // MedicationAdministration.dosage is one
	}
	m.DoseQuantity = d.Dose.quantity()
	if len(d.DoseAndRate) > 0 {
		m.DoseQuantity = d.DoseAndRate[0].DoseQuantity.quantity()
	}
	m.Route = d.Route.words()
	if d.Text != "" {
		m.Dose = d.Text
		return m
	}
	var parts []string
	if s := m.DoseQuantity.String(); s != "" {
		parts = append(parts, s)
	}
	if t := d.Timing; t != nil {
		switch {
		case t.Code != nil && t.Code.words() != "":
			parts = append(parts, t.Code.words())
		case t.Repeat != nil && t.Repeat.Frequency > 0 && t.Repeat.PeriodUnit != "":
			parts = append(parts, frequency(t.Repeat.Frequency, t.Repeat.Period.String(), t.Repeat.PeriodUnit))
		}
	}
	if m.Route != "" {
		parts = append(parts, m.Route)
	}
	m.Dose = strings.Join(parts, ", ")
	return m
}

var unitWords = map[string]string{"s": "second", "min": "minute", "h": "hour", "d": "day", "wk": "week", "mo": "month", "a": "year"}

// frequency words a timing repeat: "2 times per day", "once every 8 hours".
func frequency(n int, period, unit string) string {
	times := fmt.Sprintf("%d times", n)
	if n == 1 {
		times = "once"
	}
	w := unitWords[unit]
	if w == "" {
		w = unit
	}
	if period == "" || period == "1" {
		return times + " per " + w
	}
	return fmt.Sprintf("%s every %s %ss", times, period, w)
}

func documentSummary(j *jResource) *DocumentSummary {
	d := &DocumentSummary{}
	if len(j.Content) == 0 {
		return d
	}
	a := j.Content[0].Attachment
	d.ContentType, d.URL, d.Size = a.ContentType, a.URL, a.Size
	if a.Data != "" {
		d.Inline = true
		if d.Size == 0 {
			d.Size = base64.StdEncoding.DecodedLen(len(a.Data)) - padding(a.Data)
		}
	}
	return d
}
