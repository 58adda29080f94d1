package directory

// The directory's entries in the shapes of FHIR R4 Practitioner, PractitionerRole and
// Organization, so that clinic systems can read them as they read any other directory.

// PseudonymSystem and MSPSystem are the identifier systems of a pseudonym and an MSP ID.
const (
	PseudonymSystem = "urn:careledger:pseudonym"
	MSPSystem       = "urn:careledger:msp"
)

// Resources are an entry as FHIR resources.
type Resources struct {
	Practitioner     map[string]any `json:"practitioner"`
	PractitionerRole map[string]any `json:"practitionerRole"`
	Organization     map[string]any `json:"organization"`
}

// FHIR returns e as FHIR R4 resources; orgName is the organisation's human name.
func (e Entry) FHIR(orgName string) Resources {
	role := map[string]any{
		"resourceType": "PractitionerRole",
		"id":           e.Pseudonym,
		"active":       true,
		"practitioner": map[string]any{"reference": "Practitioner/" + e.Pseudonym, "display": e.Name},
		"organization": map[string]any{"reference": "Organization/" + e.MSP, "display": orgName},
		"code":         []any{map[string]any{"text": e.Profession}},
	}
	if e.Department != "" {
		role["specialty"] = []any{map[string]any{"text": e.Department}}
	}
	return Resources{
		Practitioner: map[string]any{
			"resourceType": "Practitioner",
			"id":           e.Pseudonym,
			"identifier":   []any{map[string]any{"system": PseudonymSystem, "value": e.Pseudonym}},
			"name":         []any{map[string]any{"text": e.Name}},
		},
		PractitionerRole: role,
		Organization: map[string]any{
			"resourceType": "Organization",
			"id":           e.MSP,
			"identifier":   []any{map[string]any{"system": MSPSystem, "value": e.MSP}},
			"name":         orgName,
		},
	}
}
