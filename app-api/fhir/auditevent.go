package fhir

import (
	"context"
	"net/http"
	"strconv"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// AuditEvent is a FHIR R4 AuditEvent shaped as an IHE BALP (Basic Audit Log Patterns)
// patient-privacy read: who (by pseudonym) read which record version of which patient, when,
// on what basis and for what purpose. Only the elements CareLedger fills are modelled.
type AuditEvent struct {
	ResourceType   string            `json:"resourceType"`
	ID             string            `json:"id"`
	Meta           auditMeta         `json:"meta"`
	Type           Coding            `json:"type"`
	Subtype        []Coding          `json:"subtype"`
	Action         string            `json:"action"`
	Recorded       string            `json:"recorded"`
	Outcome        string            `json:"outcome"`
	PurposeOfEvent []CodeableConcept `json:"purposeOfEvent,omitempty"`
	Agent          []auditAgent      `json:"agent"`
	Source         auditSource       `json:"source"`
	Entity         []auditEntity     `json:"entity"`
}

type auditMeta struct {
	Profile  []string `json:"profile"`
	Security []Coding `json:"security,omitempty"`
}

type auditAgent struct {
	Type      CodeableConcept `json:"type"`
	Who       Reference       `json:"who"`
	Requestor bool            `json:"requestor"`
	Policy    []string        `json:"policy,omitempty"`
}

type auditSource struct {
	Observer Reference `json:"observer"`
	Type     []Coding  `json:"type"`
}

type auditEntity struct {
	What   Reference     `json:"what"`
	Type   Coding        `json:"type"`
	Role   Coding        `json:"role"`
	Detail []auditDetail `json:"detail,omitempty"`
}

type auditDetail struct {
	Type        string `json:"type"`
	ValueString string `json:"valueString"`
}

const (
	balpPatientRead = "https://profiles.ihe.net/ITI/BALP/StructureDefinition/IHE.BasicAudit.PatientRead"
	dicomSystem     = "http://dicom.nema.org/resources/ontology/DCM"
)

// AuditEventFromAccess exports one entry of a patient's access trail as a BALP PatientRead.
func AuditEventFromAccess(e model.AccessEntry) AuditEvent {
	ev := AuditEvent{
		ResourceType: "AuditEvent", ID: fhirID(e.ID),
		Meta:     auditMeta{Profile: []string{balpPatientRead}},
		Type:     Coding{System: "http://terminology.hl7.org/CodeSystem/audit-event-type", Code: "rest", Display: "RESTful Operation"},
		Subtype:  []Coding{{System: "http://hl7.org/fhir/restful-interaction", Code: "read", Display: "read"}},
		Action:   "R",
		Recorded: lastUpdated(e.AccessedAt),
		Outcome:  "0",
		Agent: []auditAgent{
			{
				Type:      CodeableConcept{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", Code: "IRCP", Display: "information recipient"}}},
				Who:       Reference{Type: "Practitioner", Identifier: Identifier{System: SystemPseudonym, Value: e.Accessor.ID}},
				Requestor: true,
			},
			{
				Type: CodeableConcept{Coding: []Coding{{System: dicomSystem, Code: "110153", Display: "Source Role ID"}}},
				Who:  Reference{Type: "Device", Identifier: Identifier{System: SystemPseudonym, Value: e.RecordedBy}},
			},
		},
		Source: auditSource{
			Observer: Reference{Type: "Device", Identifier: Identifier{System: SystemMSP, Value: e.Accessor.MSP}},
			Type:     []Coding{{System: "http://terminology.hl7.org/CodeSystem/security-source-type", Code: "4", Display: "Application Server"}},
		},
		Entity: []auditEntity{
			{
				What: Reference{Reference: "Patient/" + e.Owner, Type: "Patient", Identifier: Identifier{System: SystemPseudonym, Value: e.Owner}},
				Type: Coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "1", Display: "Person"},
				Role: Coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "1", Display: "Patient"},
			},
			{
				What: Reference{Identifier: Identifier{System: SystemRecord, Value: e.RecordID}},
				Type: Coding{System: "http://terminology.hl7.org/CodeSystem/audit-entity-type", Code: "2", Display: "System Object"},
				Role: Coding{System: "http://terminology.hl7.org/CodeSystem/object-role", Code: "4", Display: "Domain Resource"},
				Detail: []auditDetail{
					{Type: "versionId", ValueString: strconv.Itoa(e.Version)},
					{Type: "basis", ValueString: e.Basis},
					{Type: "transaction", ValueString: e.TxID},
				},
			},
		},
	}
	if e.Accessor.Role == model.RolePatient {
		ev.Agent[0].Who.Type = "Patient"
	}
	if e.GrantID != "" {
		ev.Agent[0].Policy = []string{SystemGrant + ":" + e.GrantID}
	}
	purpose := e.Purpose
	if purpose == "" && e.Basis == model.BasisEmergency {
		purpose = "ETREAT"
	}
	if purpose != "" {
		ev.PurposeOfEvent = []CodeableConcept{{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: purpose}}}}
	}
	if e.Basis == model.BasisEmergency {
		ev.Meta.Security = []Coding{{System: "http://terminology.hl7.org/CodeSystem/v3-ActReason", Code: "BTG", Display: "break the glass"}}
	}
	return ev
}

// searchAudit serves GET /fhir/AuditEvent: a patient's access trail, oldest first, to the
// patient or a delegate (the ledger decides who).
func (h *handler) searchAudit(ctx context.Context, r *http.Request, m *Member, q *query) (*Bundle, error) {
	page, err := m.Ledger.ListAccessLog(ctx, q.patient, ledger.Page{Size: q.count, Bookmark: q.cursor.Bookmark})
	if err != nil {
		return nil, err
	}
	b := newBundle("searchset", h.now())
	for _, e := range page.Entries {
		ev := AuditEventFromAccess(e)
		b.match(r, "AuditEvent/"+ev.ID, ev)
	}
	b.ledgerPage(r, q, page.Bookmark, len(page.Entries))
	return b, nil
}
