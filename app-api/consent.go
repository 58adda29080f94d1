package api

import (
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

// FHIR R4 Consent export of grants. Only the structures CareLedger fills are modelled; every
// value is a pseudonym, a code or a time, so the export carries no personal data either.

// Coding is a FHIR Coding.
type Coding struct {
	System  string `json:"system"`
	Code    string `json:"code"`
	Display string `json:"display,omitempty"`
}

// CodeableConcept is a FHIR CodeableConcept.
type CodeableConcept struct {
	Coding []Coding `json:"coding"`
	Text   string   `json:"text,omitempty"`
}

// Identifier is a FHIR Identifier.
type Identifier struct {
	System string `json:"system"`
	Value  string `json:"value"`
}

// Reference is a FHIR Reference by identifier (CareLedger has no Patient resources to point
// at: people are pseudonyms).
type Reference struct {
	Type       string     `json:"type,omitempty"`
	Identifier Identifier `json:"identifier"`
}

// Period is a FHIR Period.
type Period struct {
	Start string `json:"start,omitempty"`
	End   string `json:"end,omitempty"`
}

// ConsentActor is Consent.provision.actor.
type ConsentActor struct {
	Role      CodeableConcept `json:"role"`
	Reference Reference       `json:"reference"`
}

// ConsentData is Consent.provision.data.
type ConsentData struct {
	Meaning   string    `json:"meaning"`
	Reference Reference `json:"reference"`
}

// ConsentProvision is Consent.provision.
type ConsentProvision struct {
	Type    string            `json:"type"`
	Period  *Period           `json:"period,omitempty"`
	Actor   []ConsentActor    `json:"actor"`
	Action  []CodeableConcept `json:"action"`
	Purpose []Coding          `json:"purpose"`
	Code    []CodeableConcept `json:"code,omitempty"`
	Data    []ConsentData     `json:"data,omitempty"`
}

// Consent is a FHIR R4 Consent resource.
type Consent struct {
	ResourceType string            `json:"resourceType"`
	ID           string            `json:"id"`
	Identifier   []Identifier      `json:"identifier"`
	Status       string            `json:"status"`
	Scope        CodeableConcept   `json:"scope"`
	Category     []CodeableConcept `json:"category"`
	Patient      Reference         `json:"patient"`
	DateTime     string            `json:"dateTime"`
	Performer    []Reference       `json:"performer"`
	PolicyRule   CodeableConcept   `json:"policyRule"`
	Provision    ConsentProvision  `json:"provision"`
}

// BundleEntry is one entry of a Bundle.
type BundleEntry struct {
	FullURL  string  `json:"fullUrl"`
	Resource Consent `json:"resource"`
}

// Bundle is a FHIR R4 Bundle of Consent resources.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp"`
	Entry        []BundleEntry `json:"entry"`
}

// Identifier systems for CareLedger's own identifiers.
const (
	SystemPseudonym = "urn:careledger:pseudonym"
	SystemMSP       = "urn:careledger:msp"
	SystemGrant     = "urn:careledger:grant"
	SystemRecord    = "urn:careledger:record"
	SystemCategory  = "urn:careledger:category"
)

// consentStatus maps a grant status to Consent.status: a pending grant is "proposed", an
// expired or revoked one "inactive".
var consentStatus = map[string]string{
	model.GrantActive: "active", model.GrantPending: "proposed",
	model.GrantExpired: "inactive", model.GrantRevoked: "inactive",
}

// consentAction maps grant actions to the consentaction code system: reading is "access",
// appending a version is "correct" (amending the record).
var consentAction = map[string]string{model.ActionRead: "access", model.ActionAppend: "correct"}

func fhirTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// ConsentFromGrant exports a grant as a FHIR R4 Consent resource.
func ConsentFromGrant(g model.Grant) Consent {
	status := g.Status
	if status == "" {
		status = g.StatusAt(time.Now())
	}
	c := Consent{
		ResourceType: "Consent",
		ID:           fhirID(g.ID),
		Identifier:   []Identifier{{System: SystemGrant, Value: g.ID}},
		Status:       consentStatus[status],
		Scope:        CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/consentscope", Code: "patient-privacy", Display: "Privacy Consent"}}},
		Category:     []CodeableConcept{{Coding: []Coding{{System: "http://loinc.org", Code: "59284-0", Display: "Patient Consent"}}}},
		Patient:      Reference{Type: "Patient", Identifier: Identifier{System: SystemPseudonym, Value: g.Patient}},
		DateTime:     fhirTime(g.CreatedAt),
		Performer:    []Reference{{Identifier: Identifier{System: SystemPseudonym, Value: g.GrantedBy.ID}}},
		PolicyRule:   CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActCode", Code: "OPTIN"}}},
		Provision: ConsentProvision{
			Type:    "permit",
			Period:  &Period{Start: fhirTime(g.ValidFrom)},
			Purpose: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: g.Purpose}},
		},
	}
	if c.Status == "" {
		c.Status = "inactive"
	}
	end := g.ValidUntil
	if g.RevokedAt != nil && (end == nil || g.RevokedAt.Before(*end)) {
		end = g.RevokedAt
	}
	if end != nil {
		c.Provision.Period.End = fhirTime(*end)
	}
	recipient := CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", Code: "IRCP", Display: "information recipient"}}}
	if g.Grantee.ID != "" {
		c.Provision.Actor = []ConsentActor{{Role: recipient, Reference: Reference{Type: "Practitioner", Identifier: Identifier{System: SystemPseudonym, Value: g.Grantee.ID}}}}
	} else {
		c.Provision.Actor = []ConsentActor{{Role: recipient, Reference: Reference{Type: "Organization", Identifier: Identifier{System: SystemMSP, Value: g.Grantee.MSP}}}}
	}
	for _, a := range g.Actions {
		c.Provision.Action = append(c.Provision.Action, CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/consentaction", Code: consentAction[a]}}})
	}
	for _, cat := range g.Categories {
		c.Provision.Code = append(c.Provision.Code, CodeableConcept{Coding: []Coding{{System: SystemCategory, Code: cat}}})
	}
	for _, id := range g.RecordIDs {
		c.Provision.Data = append(c.Provision.Data, ConsentData{Meaning: "instance", Reference: Reference{Identifier: Identifier{System: SystemRecord, Value: id}}})
	}
	return c
}

// ConsentBundle exports grants as a FHIR R4 collection Bundle of Consent resources.
func ConsentBundle(grants []model.Grant) Bundle {
	b := Bundle{ResourceType: "Bundle", Type: "collection", Timestamp: fhirTime(time.Now()), Entry: []BundleEntry{}}
	for _, g := range grants {
		b.Entry = append(b.Entry, BundleEntry{FullURL: SystemGrant + ":" + g.ID, Resource: ConsentFromGrant(g)})
	}
	return b
}

// fhirID fits a grant ID into FHIR's id type ([A-Za-z0-9-.]{1,64}); the exact ID is always
// in the identifier.
func fhirID(id string) string {
	out := make([]byte, 0, len(id))
	for i := 0; i < len(id) && len(out) < 64; i++ {
		ch := id[i]
		if ch == '_' {
			ch = '-'
		}
		out = append(out, ch)
	}
	return string(out)
}
