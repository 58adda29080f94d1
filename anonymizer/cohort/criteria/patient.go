package criteria

import (
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/gateway/fhir"
)

// Kind is what an event is.
type Kind uint8

// Event kinds.
const (
	KindCondition Kind = iota + 1
	KindProcedure
	KindMedication
	KindLab
)

// Patient is what criteria are evaluated over: demographics and dated coded events, taken
// from one patient's FHIR resources. It holds no identifier.
type Patient struct {
	// BirthDate is zero when unknown; age criteria then do not match.
	BirthDate time.Time
	// Sex is FHIR's administrative gender, "" when unknown.
	Sex    string
	Events []Event
}

// Event is one coded fact: a diagnosis (ICD-10-GM), procedure (OPS), medication (ATC) or
// lab result (LOINC with its quantity).
type Event struct {
	Kind Kind
	// Code is the code in its system's form, ICD-10-GM without its secondary-code mark.
	Code string
	// Date is when it happened or was true (else when it was recorded), in UTC; zero when
	// unknown, and then the event matches only criteria without a window and cannot be an
	// index event.
	Date time.Time
	// Value and Unit (a UCUM code, else the unit as written) are a lab result's quantity;
	// HasValue is false for results without a plain number (a limit like "<0.01", text).
	Value    float64
	HasValue bool
	Unit     string

	// medication is the "Medication/{id}" a drug given by reference names, until FromFHIR
	// has looked up its code.
	medication string
}

// Code systems read for each kind; others are ignored (a SNOMED CT-only diagnosis is not an
// ICD-10-GM one).
var (
	icdSystems = []string{fhir.SystemICD10GM, "http://fhir.de/CodeSystem/dimdi/icd-10-gm", "http://hl7.org/fhir/sid/icd-10"}
	opsSystems = []string{fhir.SystemOPS, "http://fhir.de/CodeSystem/dimdi/ops"}
	atcSystems = []string{fhir.SystemATC, "http://fhir.de/CodeSystem/dimdi/atc", "http://www.whocc.no/atc"}
)

// FromFHIR builds a patient from their FHIR R4 JSON resources (one resource each; Bundles
// are split on upload). Resources it cannot read, of other types, refuted or entered in
// error, or without a code of the expected system, are left out: one bad record degrades
// that record, not the patient.
//
// A drug given by reference to a Medication resource (medicationReference, as the MII
// medication module does) takes the Medication's ATC code when that Medication is among the
// resources ("Medication/{id}", relative or absolute).
func FromFHIR(resources [][]byte) Patient {
	var p Patient
	var drugs map[string]string // Medication/{id} → ATC code
	var byReference []Event     // drugs whose code is in a Medication resource
	for _, data := range resources {
		r, err := fhir.Describe(data)
		if err != nil {
			continue
		}
		switch r.Type {
		case "Patient":
			if ps := r.Summary.Patient; ps != nil {
				p.Sex = ps.Sex
				if ps.BirthDate != nil {
					p.BirthDate = ps.BirthDate.Time.UTC()
				}
			}
			continue
		case "Medication":
			if c := r.Summary.Code; c != nil && r.ID != "" && slices.Contains(atcSystems, c.System) {
				if drugs == nil {
					drugs = map[string]string{}
				}
				drugs["Medication/"+r.ID] = c.Code
			}
			continue
		}
		e, ok := eventOf(r, data)
		switch {
		case ok && e.Code == "":
			byReference = append(byReference, e)
		case ok:
			p.Events = append(p.Events, e)
		}
	}
	for _, e := range byReference {
		if code, ok := drugs[e.medication]; ok {
			e.Code, e.medication = code, ""
			p.Events = append(p.Events, e)
		}
	}
	p.Sort()
	return p
}

// Sort orders the events by date, undated first, so the first matching event is the
// earliest.
func (p *Patient) Sort() {
	slices.SortStableFunc(p.Events, func(a, b Event) int { return a.Date.Compare(b.Date) })
}

// extra is what gateway/fhir's Summary does not (yet) carry: a Condition's verification
// status, and the drug and date of MedicationRequest and MedicationDispense.
type extra struct {
	VerificationStatus *struct {
		Coding []struct {
			Code string `json:"code"`
		} `json:"coding"`
	} `json:"verificationStatus"`
	MedicationCodeableConcept *struct {
		Coding []struct {
			System string `json:"system"`
			Code   string `json:"code"`
		} `json:"coding"`
	} `json:"medicationCodeableConcept"`
	MedicationReference *struct {
		Reference string `json:"reference"`
	} `json:"medicationReference"`
	AuthoredOn     string `json:"authoredOn"`
	WhenHandedOver string `json:"whenHandedOver"`
}

func eventOf(r *fhir.Resource, data []byte) (Event, bool) {
	s := r.Summary
	if s.Status == "entered-in-error" {
		return Event{}, false
	}
	var e Event
	var systems []string
	switch r.Type {
	case "Condition":
		e.Kind, systems = KindCondition, icdSystems
		var x extra
		_ = json.Unmarshal(data, &x)
		if x.VerificationStatus != nil {
			for _, c := range x.VerificationStatus.Coding {
				if c.Code == "refuted" || c.Code == "entered-in-error" {
					return Event{}, false
				}
			}
		}
	case "Procedure":
		e.Kind, systems = KindProcedure, opsSystems
	case "MedicationStatement", "MedicationAdministration", "MedicationRequest", "MedicationDispense":
		return medicationEvent(r, data)
	case "Observation":
		e.Kind, systems = KindLab, []string{fhir.SystemLOINC}
		if o := s.Observation; o != nil && o.Value != nil && o.Value.Comparator == "" {
			e.Value, e.HasValue = o.Value.Float()
			e.Unit = o.Value.Unit
			if o.Value.System == fhir.SystemUCUM && o.Value.Code != "" {
				e.Unit = o.Value.Code
			}
		}
	default:
		return Event{}, false
	}
	if s.Code == nil || !slices.Contains(systems, s.Code.System) || s.Code.Code == "" {
		return Event{}, false
	}
	e.Code = s.Code.Code
	if e.Kind == KindCondition {
		e.Code = strings.TrimRight(e.Code, "†*!")
	}
	switch {
	case s.Effective != nil:
		e.Date = s.Effective.Time.UTC()
	case s.Recorded != nil:
		e.Date = s.Recorded.Time.UTC()
	}
	return e, true
}

// medicationEvent reads a drug: its ATC code from medicationCodeableConcept, or, when the drug
// is given by reference, an event without a code that names the "Medication/{id}" it refers
// to (FromFHIR resolves it).
func medicationEvent(r *fhir.Resource, data []byte) (Event, bool) {
	var x extra
	_ = json.Unmarshal(data, &x)
	e := Event{Kind: KindMedication}
	if x.MedicationCodeableConcept != nil {
		for _, c := range x.MedicationCodeableConcept.Coding {
			if slices.Contains(atcSystems, c.System) && c.Code != "" {
				e.Code = c.Code
				break
			}
		}
	}
	if e.Code == "" {
		if x.MedicationReference == nil {
			return Event{}, false
		}
		ref := x.MedicationReference.Reference
		i := strings.LastIndex(ref, "Medication/")
		if i < 0 || i+len("Medication/") == len(ref) {
			return Event{}, false
		}
		e.medication = ref[i:]
	}
	s := r.Summary
	switch {
	case s.Effective != nil:
		e.Date = s.Effective.Time.UTC()
	case s.Recorded != nil:
		e.Date = s.Recorded.Time.UTC()
	default:
		if d, err := fhir.ParseDate(firstOf(x.AuthoredOn, x.WhenHandedOver)); err == nil {
			e.Date = d.Time.UTC()
		}
	}
	return e, true
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
