package fhir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	r4 "github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
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

// Reference is a FHIR Reference: by identifier (people are pseudonyms), and for the patient
// also literally, to Patient/{pseudonym} under /fhir.
type Reference struct {
	Reference  string     `json:"reference,omitempty"`
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
		Patient:      Reference{Reference: "Patient/" + g.Patient, Type: "Patient", Identifier: Identifier{System: SystemPseudonym, Value: g.Patient}},
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

// consent serves GET /fhir/Consent/{id}: the grant with that ID, to its patient, a delegate
// or the grantee.
func (h *handler) consent(w http.ResponseWriter, r *http.Request, m *Member, id string) {
	g, err := m.Ledger.GetGrant(r.Context(), id)
	if err != nil {
		if hidden(err) {
			err = notAccessible("Consent", id)
		}
		h.fail(w, r, err)
		return
	}
	writeResource(w, r, http.StatusOK, ConsentFromGrant(*g))
}

// searchConsents serves GET /fhir/Consent: a patient's grants (their own, or as delegate),
// or, for a clinician without patient, the grants naming them.
func (h *handler) searchConsents(ctx context.Context, r *http.Request, m *Member, q *query) (*Bundle, error) {
	page := ledger.Page{Size: q.count, Bookmark: q.cursor.Bookmark}
	var gp *model.GrantPage
	var err error
	if q.patient == "" && m.Role == model.RoleClinician {
		gp, err = m.Ledger.ListGrantsToMe(ctx, false, page)
	} else {
		gp, err = m.Ledger.ListGrants(ctx, q.patient, false, page)
	}
	if err != nil {
		return nil, err
	}
	b := newBundle("searchset", h.now())
	for _, g := range gp.Grants {
		c := ConsentFromGrant(g)
		b.match(r, "Consent/"+c.ID, c)
	}
	b.ledgerPage(r, q, gp.Bookmark, len(gp.Grants))
	return b, nil
}

// create serves POST /fhir/{type}; only Consent is created this way, and not by the
// server: the Consent is checked and turned into a Grant proposal that the patient signs on
// their own device (202, a Parameters resource with the proposal). The grant exists, and
// GET /fhir/Consent/{id} answers, once the signed transaction is committed through
// /v1/transactions/endorse, /submit and /commit.
func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	t, ok := typeNamed(chi.URLParam(r, "type"))
	if !ok || !t.create {
		h.fail(w, r, errMethod)
		return
	}
	if err := noParams(r); err != nil {
		h.fail(w, r, err)
		return
	}
	if h.cfg.Prepare == nil {
		h.fail(w, r, errNoPrepare)
		return
	}
	data, err := readBody(w, r, maxConsentBytes)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	g, err := grantFromConsent(data, h.now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	args, _ := json.Marshal(g)
	p, err := h.cfg.Prepare(r, "Grant", string(args))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Location", base(r)+"/Consent/"+g.ID)
	writeResource(w, r, http.StatusAccepted, proposalParameters(g.ID, p))
}

const maxConsentBytes = 64 << 10

// Parameters is a FHIR Parameters resource.
type Parameters struct {
	ResourceType string      `json:"resourceType"`
	Parameter    []Parameter `json:"parameter"`
}

// Parameter is one Parameters.parameter.
type Parameter struct {
	Name              string `json:"name"`
	ValueString       string `json:"valueString,omitempty"`
	ValueBase64Binary []byte `json:"valueBase64Binary,omitempty"`
	ValueURI          string `json:"valueUri,omitempty"`
	ValueCode         string `json:"valueCode,omitempty"`
	ValueID           string `json:"valueId,omitempty"`
}

// proposalParameters carries a prepared Grant: what /v1/grants returns, as FHIR.
func proposalParameters(grantID string, p *Proposal) Parameters {
	return Parameters{ResourceType: "Parameters", Parameter: []Parameter{
		{Name: "consent", ValueID: grantID},
		{Name: "transactionId", ValueString: p.TransactionID},
		{Name: "function", ValueCode: p.Function},
		{Name: "proposal", ValueBase64Binary: p.Proposal},
		{Name: "digest", ValueBase64Binary: p.Digest},
		{Name: "next", ValueURI: "/v1/transactions/endorse"},
	}}
}

// consentIn is what grantFromConsent reads of a Consent.
type consentIn struct {
	ResourceType string `json:"resourceType"`
	Status       string `json:"status"`
	Patient      *struct {
		Reference  string      `json:"reference"`
		Identifier *Identifier `json:"identifier"`
	} `json:"patient"`
	Provision *struct {
		Type   string `json:"type"`
		Period *struct {
			Start string `json:"start"`
			End   string `json:"end"`
		} `json:"period"`
		Actor []struct {
			Reference struct {
				Reference  string      `json:"reference"`
				Identifier *Identifier `json:"identifier"`
			} `json:"reference"`
		} `json:"actor"`
		Action  []jsonConcept `json:"action"`
		Purpose []jsonCoding  `json:"purpose"`
		Code    []jsonConcept `json:"code"`
		Data    []struct {
			Reference struct {
				Reference  string      `json:"reference"`
				Identifier *Identifier `json:"identifier"`
			} `json:"reference"`
		} `json:"data"`
	} `json:"provision"`
}

// grantFromConsent validates a Consent (FHIR R4, then what a grant needs) and turns it into
// a GrantRequest. Errors name the element.
func grantFromConsent(data []byte, now time.Time) (*model.GrantRequest, error) {
	if _, err := r4.Validate(data); err != nil {
		return nil, errors.Join(gateway.ErrInvalidContent, err)
	}
	var c consentIn
	if err := json.Unmarshal(data, &c); err != nil || c.ResourceType != "Consent" {
		return nil, unprocessable("Consent", "the body must be a Consent")
	}
	g := &model.GrantRequest{ID: uuid.NewString()}
	if c.Status != "active" {
		return nil, unprocessable("Consent.status", "must be active: a grant takes effect when the patient signs it")
	}
	if c.Patient != nil {
		id := patientID(c.Patient.Reference)
		if c.Patient.Identifier != nil && c.Patient.Identifier.System == SystemPseudonym {
			id = c.Patient.Identifier.Value
		}
		if !model.ValidPseudonym(id) {
			return nil, unprocessable("Consent.patient", "must be Patient/{pseudonym}")
		}
		g.Patient = id
	}
	p := c.Provision
	if p == nil || p.Type != "permit" {
		return nil, unprocessable("Consent.provision.type", "must be permit: a grant allows access")
	}
	if len(p.Actor) != 1 {
		return nil, unprocessable("Consent.provision.actor", "must name exactly one recipient")
	}
	ref := p.Actor[0].Reference
	switch {
	case ref.Identifier != nil && ref.Identifier.System == SystemMSP && model.ValidMSPID(ref.Identifier.Value):
		g.Grantee.MSP = ref.Identifier.Value
	case ref.Identifier != nil && ref.Identifier.System == SystemPseudonym && model.ValidPseudonym(ref.Identifier.Value):
		g.Grantee.ID = ref.Identifier.Value
	case model.ValidPseudonym(lastSegment(ref.Reference)):
		g.Grantee.ID = lastSegment(ref.Reference)
	default:
		return nil, unprocessable("Consent.provision.actor[0].reference", "must identify a clinician by pseudonym (system %s) or an organisation by MSP ID (system %s)", SystemPseudonym, SystemMSP)
	}
	for i, a := range p.Action {
		for _, cd := range a.Coding {
			switch cd.Code {
			case "access":
				g.Actions = append(g.Actions, model.ActionRead)
			case "correct":
				g.Actions = append(g.Actions, model.ActionAppend)
			default:
				return nil, unprocessable(fmt.Sprintf("Consent.provision.action[%d]", i), "must be access (read) or correct (append)")
			}
		}
	}
	if len(g.Actions) == 0 {
		return nil, unprocessable("Consent.provision.action", "must name access or correct")
	}
	for i, cc := range p.Code {
		for _, cd := range cc.Coding {
			if cd.System != SystemCategory || !slices.Contains(model.Categories, cd.Code) {
				return nil, unprocessable(fmt.Sprintf("Consent.provision.code[%d]", i), "must be a CareLedger record category (system %s)", SystemCategory)
			}
			g.Categories = append(g.Categories, cd.Code)
		}
	}
	for i, d := range p.Data {
		id := lastSegment(d.Reference.Reference)
		if d.Reference.Identifier != nil && d.Reference.Identifier.System == SystemRecord {
			id = d.Reference.Identifier.Value
		}
		if !model.ValidID(id) {
			return nil, unprocessable(fmt.Sprintf("Consent.provision.data[%d].reference", i), "must name a record")
		}
		g.RecordIDs = append(g.RecordIDs, id)
	}
	if len(g.Categories)+len(g.RecordIDs) == 0 {
		return nil, unprocessable("Consent.provision.code", "or provision.data must say what the grant covers")
	}
	if len(p.Purpose) != 1 || !slices.Contains(model.Purposes, p.Purpose[0].Code) || p.Purpose[0].Code == "ETREAT" {
		return nil, unprocessable("Consent.provision.purpose", "must be one HL7 PurposeOfUse code such as TREAT")
	}
	g.Purpose = p.Purpose[0].Code
	if p.Period != nil {
		if p.Period.Start != "" {
			d, err := r4.ParseDate(p.Period.Start)
			if err != nil {
				return nil, unprocessable("Consent.provision.period.start", "is not a dateTime")
			}
			g.ValidFrom = &d.Time
		}
		if p.Period.End != "" {
			d, err := r4.ParseDate(p.Period.End)
			if err != nil || !d.Time.After(now) {
				return nil, unprocessable("Consent.provision.period.end", "must be a dateTime in the future")
			}
			g.ValidUntil = &d.Time
		}
	}
	return g, nil
}

func lastSegment(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}
