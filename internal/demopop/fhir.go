package demopop

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/gateway/fhir"
)

type obj = map[string]any

func coding(system, code, display string) obj {
	c := obj{"system": system, "code": code}
	if display != "" {
		c["display"] = display
	}
	return obj{"coding": []obj{c}}
}

func quantity(v float64, unit string) obj {
	return obj{"value": json.Number(strconv.FormatFloat(v, 'f', -1, 64)), "unit": unit, "system": fhir.SystemUCUM, "code": unit}
}

// Resources renders the patient as FHIR R4 JSON resources, one per record in the order a
// clinic would send them: the Patient, then each diagnosis with its drugs, then the lab
// series. subject is the patient's pseudonym, referenced as "Patient/{subject}"; "" leaves
// the references out (for resources that stay in memory).
func (p *Patient) Resources(subject string) [][]byte {
	ref := func(o obj, elem string) obj {
		if subject != "" {
			o[elem] = obj{"reference": "Patient/" + subject}
		}
		return o
	}
	out := make([][]byte, 0, 1+len(p.Conditions)+len(p.Medications)+len(p.Labs))
	add := func(o obj) {
		b, err := json.Marshal(o)
		if err != nil {
			panic(err) // maps of strings and numbers always marshal
		}
		out = append(out, b)
	}
	patient := obj{
		"resourceType": "Patient",
		"meta":         obj{"profile": []string{"https://www.medizininformatik-initiative.de/fhir/core/modul-person/StructureDefinition/Patient"}},
		"name":         []obj{{"use": "official", "family": p.Family, "given": []string{p.Given}}},
		"gender":       p.Sex,
		"birthDate":    p.BirthDate.Format(time.DateOnly),
		"address":      []obj{{"type": "both", "city": p.Place.City, "postalCode": p.Place.PostalCode, "country": "DE"}},
	}
	if subject != "" {
		patient["id"] = subject // so that a Bundle's references resolve to it
	}
	add(patient)
	for _, d := range p.Conditions {
		add(ref(obj{
			"resourceType":       "Condition",
			"clinicalStatus":     coding("http://terminology.hl7.org/CodeSystem/condition-clinical", "active", "Active"),
			"verificationStatus": coding("http://terminology.hl7.org/CodeSystem/condition-ver-status", "confirmed", "Confirmed"),
			"code":               coding(fhir.SystemICD10GM, d.Code, d.Display),
			"onsetDateTime":      d.Onset.Format(time.DateOnly),
			"recordedDate":       d.Onset.Format(time.DateOnly),
		}, "subject"))
	}
	for _, m := range p.Medications {
		dose := obj{"timing": obj{"repeat": obj{"frequency": m.PerDay, "period": 1, "periodUnit": "d"}}}
		if m.DoseMG > 0 {
			dose["doseAndRate"] = []obj{{"doseQuantity": quantity(m.DoseMG, "mg")}}
		} else {
			dose["text"] = "nach Schema"
		}
		add(ref(obj{
			"resourceType":              "MedicationStatement",
			"status":                    "active",
			"medicationCodeableConcept": coding(fhir.SystemATC, m.ATC, m.Display),
			"effectivePeriod":           obj{"start": m.Start.Format(time.DateOnly)},
			"dateAsserted":              m.Start.Format(time.DateOnly),
			"dosage":                    []obj{dose},
		}, "subject"))
	}
	for _, l := range p.Labs {
		rng := obj{"high": quantity(l.Test.High, l.Test.Unit)}
		if l.Test.Low > 0 {
			rng["low"] = quantity(l.Test.Low, l.Test.Unit)
		}
		flag := "N"
		switch {
		case l.Value > l.Test.High:
			flag = "H"
		case l.Value < l.Test.Low:
			flag = "L"
		}
		add(ref(obj{
			"resourceType":      "Observation",
			"status":            "final",
			"category":          []obj{coding("http://terminology.hl7.org/CodeSystem/observation-category", "laboratory", "Laboratory")},
			"code":              coding(fhir.SystemLOINC, l.Test.LOINC, l.Test.Display),
			"effectiveDateTime": l.Date.Format(time.DateOnly),
			"valueQuantity":     quantity(l.Value, l.Test.Unit),
			"interpretation":    []obj{coding("http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", flag, "")},
			"referenceRange":    []obj{rng},
		}, "subject"))
	}
	return out
}

// Bundle renders the patient as one FHIR R4 collection Bundle of Resources(subject), as a
// clinic would send a patient's record in one upload.
func (p *Patient) Bundle(subject string) []byte {
	rs := p.Resources(subject)
	entries := make([]obj, len(rs))
	for i, r := range rs {
		entries[i] = obj{"resource": json.RawMessage(r)}
	}
	if subject != "" {
		entries[0]["fullUrl"] = "Patient/" + subject
	}
	b, err := json.Marshal(obj{"resourceType": "Bundle", "type": "collection", "entry": entries})
	if err != nil {
		panic(err) // valid JSON resources always marshal
	}
	return b
}

// Criteria is the patient in the criteria evaluator's form, as criteria.FromFHIR would read
// it from Resources, without rendering JSON.
func (p *Patient) Criteria() criteria.Patient {
	c := criteria.Patient{BirthDate: p.BirthDate, Sex: p.Sex,
		Events: make([]criteria.Event, 0, len(p.Conditions)+len(p.Medications)+len(p.Labs))}
	for _, d := range p.Conditions {
		c.Events = append(c.Events, criteria.Event{Kind: criteria.KindCondition, Code: d.Code, Date: d.Onset})
	}
	for _, m := range p.Medications {
		c.Events = append(c.Events, criteria.Event{Kind: criteria.KindMedication, Code: m.ATC, Date: m.Start})
	}
	for _, l := range p.Labs {
		c.Events = append(c.Events, criteria.Event{Kind: criteria.KindLab, Code: l.Test.LOINC, Date: l.Date, Value: l.Value, HasValue: true, Unit: l.Test.Unit})
	}
	c.Sort()
	return c
}
