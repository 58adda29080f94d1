package fhir

import (
	"fmt"
	"strings"
)

// MediaType is the FHIR JSON media type.
const MediaType = "application/fhir+json"

// MaxResourceBytes bounds a FHIR resource or Bundle; larger content belongs in a document.
const MaxResourceBytes = 4 << 20

// Resource is what CareLedger understands of a FHIR resource.
type Resource struct {
	// Type is the resource type, such as Observation.
	Type string `json:"type"`
	// ID is the resource's logical id, if it has one.
	ID string `json:"id,omitempty"`
	// Category is the ledger category the resource is filed under.
	Category string `json:"category"`
	// Subject is the reference to the patient the resource is about, as written
	// ("Patient/123", "urn:uuid:…"): its subject or patient element. It is empty for a
	// Patient itself and for resources that name no patient (Binary, Medication).
	Subject string `json:"subject,omitempty"`
	// Summary is what views show of it.
	Summary Summary `json:"summary"`
}

// SubjectID returns the logical id of the patient the resource is about when its Subject is
// a "Patient/{id}" reference (relative or absolute), and "" otherwise. The API compares it
// with the patient's pseudonym, which is the patient's FHIR id.
func (r *Resource) SubjectID() string { return referenceID(r.Subject, "Patient") }

// Parse validates a FHIR R4 JSON resource and says what it is. It refuses, with a
// *ValidationError naming the element (all of them wrap ErrInvalid):
//   - JSON that FHIR forbids: a member name twice in one object, invalid UTF-8, a number
//     that is not finite, anything after the resource;
//   - what FHIR R4 forbids: an unknown resource type or element, a missing required
//     element, a malformed primitive (a date, an id, a decimal), a code outside a required
//     value set ("status":"bogus-status"), a reference to a resource type the element does
//     not allow;
//   - codes of the MII code systems (ICD-10-GM, OPS, LOINC, ATC, UCUM, SNOMED CT) that do
//     not have their system's form. Codes of other systems are kept as they are.
//
// When several elements are wrong the error joins up to ten of them in path order;
// errors.As finds the first.
func Parse(data []byte) (*Resource, error) {
	root, err := check(data)
	if err != nil {
		return nil, err
	}
	r, _ := describe(root.text("resourceType"), data)
	return r, nil
}

// Validate is Parse under the name its first callers use.
func Validate(data []byte) (*Resource, error) { return Parse(data) }

// Describe says what a resource is without validating it, for content that was validated
// when it was stored (or stored before validation was strict): views read summaries of
// records on every request, and validating again would cost far more than reading. It fails
// only when data is not a JSON object with a resourceType.
func Describe(data []byte) (*Resource, error) {
	j, _, _ := summarize(data)
	if j.ResourceType == "" {
		return nil, invalid("resourceType", "is required")
	}
	r, _ := describe(j.ResourceType, data)
	return r, nil
}

// describe builds the Resource for data of type rt, and names the element its Subject came
// from ("subject" or "patient"; "" if none).
func describe(rt string, data []byte) (*Resource, string) {
	j, s, cats := summarize(data)
	r := &Resource{Type: rt, ID: j.ID, Category: categoryOf(rt, cats), Summary: s}
	switch {
	case j.Subject != nil:
		r.Subject = j.Subject.Reference
		return r, "subject"
	case j.Patient != nil:
		r.Subject = j.Patient.Reference
		return r, "patient"
	}
	return r, ""
}

// check runs every validation step on one resource and returns its JSON tree.
func check(data []byte) (*node, error) {
	if len(strings.TrimSpace(string(data))) == 0 {
		return nil, invalid("", "empty FHIR resource")
	}
	if len(data) > MaxResourceBytes {
		return nil, invalid("", fmt.Sprintf("FHIR resource larger than %d bytes", MaxResourceBytes))
	}
	root, jsonErr := readJSON(data)
	if root == nil {
		return nil, jsonErr
	}
	if root.kind != 'o' {
		return nil, invalid("", "a FHIR resource is a JSON object")
	}
	switch rt := root.get("resourceType"); {
	case rt == nil:
		return nil, invalid("resourceType", "is required")
	case rt.kind != 's' || rt.str == "":
		return nil, invalid("resourceType", "must be a resource type name")
	}
	if jsonErr != nil {
		return nil, jsonErr
	}
	if err := checkR4(data, root); err != nil {
		return nil, err
	}
	if err := checkContained(root); err != nil {
		return nil, err
	}
	if err := checkCodes(root); err != nil {
		return nil, err
	}
	return root, nil
}
