package fhir

// The resource types this interface serves, with what it does with each. The router
// dispatches on this table and the CapabilityStatement is generated from it, so the
// statement lists exactly what is supported.

// paramKind is a search parameter's FHIR type.
type paramKind string

const (
	kindToken     paramKind = "token"
	kindDate      paramKind = "date"
	kindReference paramKind = "reference"
)

// searchParam is one search parameter of a type: the elements it looks at (choice elements
// without their type suffix: "effective" covers effectiveDateTime, effectivePeriod and
// effectiveInstant).
type searchParam struct {
	name     string
	kind     paramKind
	elements []string
	doc      string
}

// resourceType is a type the interface serves.
type resourceType struct {
	name string
	// categories are the ledger categories a record of this type is filed under (by
	// gateway/fhir); empty for types that are not records (Consent, AuditEvent).
	categories []string
	// search says whether search-type is supported; params are its parameters.
	search bool
	params []searchParam
	// read says whether read, vread and history-instance are supported.
	read bool
	// create says whether create is supported (Consent: prepared for offline signing).
	create bool
}

var (
	patientParam = searchParam{"patient", kindReference, []string{"subject", "patient"}, "Patient/{pseudonym}, or the pseudonym; patients may leave it out"}
	codeParam    = func(elem string) searchParam {
		return searchParam{"code", kindToken, []string{elem}, "system|code, code, |code or system|; commas for any of several"}
	}
	categoryParam = searchParam{"category", kindToken, []string{"category"}, "system|code or code; laboratory, vital-signs, imaging and survey also narrow what is read"}
	dateParam     = func(name, elem string) searchParam {
		return searchParam{name, kindDate, []string{elem}, "a FHIR date or dateTime with prefix eq, ne, lt, le, gt, ge, sa, eb or ap; repeat for a range"}
	}
)

var resourceTypes = []resourceType{
	// A Patient is filed as demographics; records stored before the ledger knew that
	// category stay under note.
	{name: "Patient", categories: []string{"demographics", "note"}, read: true, search: true,
		params: []searchParam{{"_id", kindToken, []string{"id"}, "the patient's pseudonym"}}},
	{name: "Observation", categories: []string{"lab", "vital-signs", "imaging", "questionnaire"}, read: true, search: true,
		params: []searchParam{patientParam, categoryParam, codeParam("code"), dateParam("date", "effective")}},
	{name: "Condition", categories: []string{"diagnosis"}, read: true, search: true,
		params: []searchParam{patientParam, categoryParam, codeParam("code"), dateParam("onset-date", "onset"), dateParam("recorded-date", "recordedDate")}},
	{name: "Procedure", categories: []string{"procedure"}, read: true, search: true,
		params: []searchParam{patientParam, categoryParam, codeParam("code"), dateParam("date", "performed")}},
	{name: "MedicationStatement", categories: []string{"medication"}, read: true, search: true,
		params: []searchParam{patientParam, categoryParam, codeParam("medicationCodeableConcept"), dateParam("effective", "effective")}},
	{name: "DiagnosticReport", categories: []string{"lab", "imaging"}, read: true, search: true,
		params: []searchParam{patientParam, categoryParam, codeParam("code"), dateParam("date", "effective")}},
	{name: "DocumentReference", categories: []string{"document"}, read: true, search: true,
		params: []searchParam{patientParam, categoryParam,
			{"type", kindToken, []string{"type"}, "the document's type: system|code or code"},
			{"status", kindToken, []string{"status"}, "current, superseded or entered-in-error"},
			dateParam("date", "date")}},
	{name: "AllergyIntolerance", categories: []string{"allergy"}, read: true},
	{name: "Immunization", categories: []string{"immunization"}, read: true},
	{name: "MedicationAdministration", categories: []string{"medication"}, read: true},
	{name: "List", categories: []string{"note"}, read: true},
	{name: "Binary", categories: []string{"document"}, read: true},
	{name: "Consent", read: true, search: true, create: true,
		params: []searchParam{{"patient", kindReference, []string{"patient"}, "Patient/{pseudonym}; without it, a patient's own grants, or a clinician's grants to them"}}},
	{name: "AuditEvent", search: true,
		params: []searchParam{{"patient", kindReference, []string{"entity"}, "Patient/{pseudonym}; without it, the calling patient's own trail"}}},
}

// typeNamed returns the served type with this name.
func typeNamed(name string) (*resourceType, bool) {
	for i := range resourceTypes {
		if resourceTypes[i].name == name {
			return &resourceTypes[i], true
		}
	}
	return nil, false
}

// updatable says whether update is supported: on record types other than Binary (a
// document's new version goes through /v1).
func (t *resourceType) updatable() bool {
	return t.read && t.categories != nil && t.name != "Binary"
}

func (t *resourceType) param(name string) (*searchParam, bool) {
	for i := range t.params {
		if t.params[i].name == name {
			return &t.params[i], true
		}
	}
	return nil, false
}

// Interactions lists every operation the interface serves, as "METHOD /fhir/path" with the
// resource type filled in ("GET /fhir/Observation/{id}"), from the same table that the router
// dispatches on and the CapabilityStatement describes: the API's authorisation matrix tries
// each of them as every kind of caller, so no type or interaction can be left out.
func Interactions() []string {
	ops := []string{"GET /fhir/metadata", "POST /fhir", "GET /fhir/Patient/{id}/$everything"}
	for _, t := range resourceTypes {
		if t.search {
			ops = append(ops, "GET /fhir/"+t.name)
		}
		if t.create {
			ops = append(ops, "POST /fhir/"+t.name)
		}
		if t.read {
			ops = append(ops, "GET /fhir/"+t.name+"/{id}")
		}
		if t.read && t.categories != nil {
			ops = append(ops, "GET /fhir/"+t.name+"/{id}/_history", "GET /fhir/"+t.name+"/{id}/_history/{vid}")
		}
		if t.updatable() {
			ops = append(ops, "PUT /fhir/"+t.name+"/{id}")
		}
	}
	return ops
}
