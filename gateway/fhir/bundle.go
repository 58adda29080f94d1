package fhir

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Bundle is an uploaded Bundle of one patient's records, split into entries that the API
// stores each as its own record version: all of them, or, if any is refused, none.
type Bundle struct {
	// Type is "collection" or "transaction".
	Type string `json:"type"`
	// Patient is the reference every entry about a patient resolves to: the Patient entry's
	// fullUrl (else "Patient/" and its id), or the one patient reference all entries share.
	// It is empty when no entry names a patient.
	Patient string `json:"patient,omitempty"`
	// PatientID is the patient's logical id: the Patient entry's id, else the id in the
	// "Patient/{id}" reference all entries share. It is empty when the Bundle names its
	// patient only by a urn:uuid; the API decides what id the patient gets (in CareLedger,
	// the pseudonym).
	PatientID string `json:"patientId,omitempty"`
	// Entries are the Bundle's entries in order.
	Entries []Entry `json:"entries"`
}

// Entry is one entry of a Bundle.
type Entry struct {
	// FullURL is the entry's fullUrl; other entries may refer to the resource by it.
	FullURL string `json:"fullUrl,omitempty"`
	// Request is what a transaction entry asks for; nil in a collection.
	Request *Request `json:"request,omitempty"`
	// Data is the entry's resource as sent: what is stored as the record version.
	Data json.RawMessage `json:"-"`
	// Resource is what the entry's resource is.
	Resource *Resource `json:"resource"`
}

// Request is a transaction entry's request: POST to create a record, PUT to update one.
type Request struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// ParseBundle validates an uploaded collection or transaction Bundle and splits it into its
// entries. Every entry is validated as Parse validates a resource (errors name it, as in
// Bundle.entry[3].resource.Observation.status), and all entries must be about one patient:
// at most one Patient entry, and every subject or patient reference resolving to it (or, in
// a Bundle without a Patient, to one and the same reference).
func ParseBundle(data []byte) (*Bundle, error) {
	root, err := check(data)
	if err != nil {
		return nil, err
	}
	if rt := root.text("resourceType"); rt != "Bundle" {
		return nil, invalid(rt, fmt.Sprintf("a %s is not a Bundle", rt))
	}
	var raw struct {
		Type  string `json:"type"`
		Entry []struct {
			FullURL  string          `json:"fullUrl"`
			Resource json.RawMessage `json:"resource"`
			Request  *Request        `json:"request"`
		} `json:"entry"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, invalid("Bundle", "does not have the shape of a Bundle")
	}
	if raw.Type != "collection" && raw.Type != "transaction" {
		return nil, invalid("Bundle.type", fmt.Sprintf("%q is not accepted for upload: send a collection or a transaction", raw.Type))
	}
	if len(raw.Entry) == 0 {
		return nil, invalid("Bundle.entry", "is empty: there is nothing to store")
	}
	b := &Bundle{Type: raw.Type, Entries: make([]Entry, len(raw.Entry))}
	subjects := make([]string, len(raw.Entry))
	fullURLs := make(map[string]int)
	for i, e := range raw.Entry {
		at := fmt.Sprintf("Bundle.entry[%d]", i)
		if len(e.Resource) == 0 {
			return nil, invalid(at+".resource", "is required: every entry is stored as a record")
		}
		if e.FullURL != "" {
			if j, dup := fullURLs[e.FullURL]; dup {
				return nil, invalid(at+".fullUrl", fmt.Sprintf("repeats the fullUrl of Bundle.entry[%d]", j))
			}
			fullURLs[e.FullURL] = i
		}
		if err := checkRequest(at, raw.Type, e.Request); err != nil {
			return nil, err
		}
		rt := root.get("entry").items[i].get("resource").text("resourceType")
		if rt == "Bundle" {
			return nil, invalid(at+".resource.Bundle", "a Bundle inside a Bundle is not accepted: send its entries")
		}
		res, elem := describe(rt, e.Resource)
		if e.Request != nil {
			if err := checkRequestURL(at, e.Request, res); err != nil {
				return nil, err
			}
		}
		b.Entries[i] = Entry{FullURL: e.FullURL, Request: e.Request, Data: e.Resource, Resource: res}
		if elem != "" {
			subjects[i] = at + ".resource." + rt + "." + elem
		}
	}
	resolveMedications(b)
	patient, err := onePatient(b, subjects)
	if err != nil {
		return nil, err
	}
	b.Patient = patient
	b.PatientID = referenceID(patient, "Patient")
	for _, e := range b.Entries {
		if e.Resource.Type == "Patient" && e.Resource.ID != "" {
			b.PatientID = e.Resource.ID
		}
	}
	return b, nil
}

// resolveMedications names and codes the drugs of medication entries that refer to a
// Medication entry of the same Bundle, so views need not look it up.
func resolveMedications(b *Bundle) {
	meds := map[string]*Resource{}
	for _, e := range b.Entries {
		if e.Resource.Type != "Medication" {
			continue
		}
		if e.FullURL != "" {
			meds[normalizeReference(e.FullURL)] = e.Resource
		}
		if e.Resource.ID != "" {
			meds["Medication/"+e.Resource.ID] = e.Resource
		}
	}
	for _, e := range b.Entries {
		s := &e.Resource.Summary
		if s.Medication == nil || s.Medication.Reference == "" || s.Code != nil {
			continue
		}
		if m, ok := meds[normalizeReference(s.Medication.Reference)]; ok {
			s.Code = m.Summary.Code
			if s.Title == "" {
				s.Title = m.Summary.Title
			}
		}
	}
}

// checkRequest checks an entry's request against the Bundle's type (FHIR's bdl-3).
func checkRequest(at, bundleType string, r *Request) error {
	switch {
	case bundleType == "transaction" && r == nil:
		return invalid(at+".request", "is required in a transaction")
	case bundleType != "transaction" && r != nil:
		return invalid(at+".request", "is only allowed in a transaction")
	case r == nil:
		return nil
	case r.Method != "POST" && r.Method != "PUT":
		return invalid(at+".request.method", fmt.Sprintf("%q is not accepted: an upload creates (POST) or updates (PUT) records", r.Method))
	}
	return nil
}

// checkRequestURL checks that a transaction entry's request names its resource: POST to
// the type, PUT to type/id.
func checkRequestURL(at string, r *Request, res *Resource) error {
	path, _, _ := strings.Cut(r.URL, "?")
	want := res.Type
	if r.Method == "PUT" {
		want = res.Type + "/" + res.ID
		if res.ID == "" {
			return invalid(at+".resource."+res.Type+".id", "is required to update with PUT")
		}
	}
	if path != want {
		return invalid(at+".request.url", fmt.Sprintf("%q does not name the entry's resource (%s)", shorten(r.URL), want))
	}
	return nil
}

// onePatient checks that every entry is about the same patient and returns that patient's
// reference. subjects[i] names entry i's subject or patient element, if it has one.
func onePatient(b *Bundle, subjects []string) (string, error) {
	// The names the Bundle's patient goes by.
	names := map[string]bool{}
	patient := ""
	for i, e := range b.Entries {
		if e.Resource.Type != "Patient" {
			continue
		}
		if patient != "" {
			return "", invalid(fmt.Sprintf("Bundle.entry[%d].resource.Patient", i), "is a second patient: a Bundle holds one patient's records")
		}
		if e.FullURL != "" {
			names[normalizeReference(e.FullURL)] = true
			patient = e.FullURL
		}
		if e.Resource.ID != "" {
			names["Patient/"+e.Resource.ID] = true
			if patient == "" {
				patient = "Patient/" + e.Resource.ID
			}
		}
		if patient == "" {
			// A Patient with neither fullUrl nor id cannot be referred to.
			for j := range b.Entries {
				if subjects[j] != "" {
					return "", invalid(fmt.Sprintf("Bundle.entry[%d].resource.Patient.id", i), "is required (or the entry's fullUrl), so that the other entries can refer to the patient")
				}
			}
			patient = fmt.Sprintf("Bundle.entry[%d]", i)
		}
	}
	for i, e := range b.Entries {
		if subjects[i] == "" {
			continue
		}
		ref := e.Resource.Subject
		if ref == "" {
			return "", invalid(subjects[i], "must refer to the patient with a reference, so that the Bundle can be checked to hold one patient's records")
		}
		norm := normalizeReference(ref)
		if typ, _, ok := strings.Cut(norm, "/"); ok && !strings.HasPrefix(norm, "urn:") && typ != "Patient" {
			return "", invalid(subjects[i], fmt.Sprintf("refers to a %s: every entry must be about the Bundle's patient", typ))
		}
		if len(names) == 0 {
			names[norm] = true
			patient = ref
			continue
		}
		if !names[norm] {
			return "", invalid(subjects[i], fmt.Sprintf("refers to %q, but the Bundle is about %q: a Bundle holds one patient's records", shorten(ref), shorten(patient)))
		}
	}
	return patient, nil
}

// referenceID returns the id in a reference to a resource of type rt ("Patient/123",
// "https://ehr.example/fhir/Patient/123"), or "".
func referenceID(ref, rt string) string {
	typ, id, ok := strings.Cut(normalizeReference(ref), "/")
	if !ok || typ != rt || strings.HasPrefix(ref, "urn:") {
		return ""
	}
	return id
}

// normalizeReference reduces an absolute reference to its type/id tail, so
// "https://ehr.example/fhir/Patient/123" and "Patient/123" name the same patient; urn:uuid
// and urn:oid references stay as they are.
func normalizeReference(ref string) string {
	if strings.HasPrefix(ref, "urn:") {
		return ref
	}
	ref, _, _ = strings.Cut(ref, "/_history/")
	parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return ref
}
