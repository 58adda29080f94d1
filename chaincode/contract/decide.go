package contract

import (
	"slices"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// CheckAccess answers whether the caller may perform action ("read" or "append") on the record
// now, and on what basis. purpose, if given, must match the grant's purpose of use. A refusal is
// an answer, not an error: Allowed is false and Reason says why. The gateway evaluates this as
// the caller before it releases any content.
func (c *Contract) CheckAccess(ctx contractapi.TransactionContextInterface, recordID, action, purpose string) (*model.Decision, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID("recordId", recordID); err != nil {
		return nil, err
	}
	if err := checkOneOf("action", action, model.Actions); err != nil {
		return nil, err
	}
	if purpose != "" {
		if err := checkOneOf("purpose", purpose, append(slices.Clone(model.Purposes), model.ResearchPurposes...)); err != nil {
			return nil, err
		}
	}
	rec, err := t.record(recordID)
	if err != nil {
		return nil, err
	}
	v, err := t.view(rec.Owner, t.caller.Party)
	if err != nil {
		return nil, err
	}
	d, err := v.decide(rec, action, purpose, t.now)
	if err != nil {
		return nil, err
	}
	if !d.Allowed {
		// A refused caller learns nothing about the record, not even whose it is.
		d.Owner, d.Category = "", ""
	}
	return &d, nil
}

// view is what the ledger says about one patient that bears on one accessor's access: the
// patient's erasure, research consent and grants naming the accessor. It is loaded once and
// then decides for any number of the patient's records.
//
// Revoked grants are kept apart: a decision scans only the grants not revoked, so however many
// grants a patient revoked over the years, an allowed access costs the same. The revoked ones
// are loaded only to explain a refusal or to check an access reported for a past time.
type view struct {
	t       *txn
	patient string
	who     model.Party
	erased  *model.Erasure
	consent *model.ResearchConsent
	grants  []model.Grant // not revoked
	revoked []model.Grant // loaded on first need
	loaded  bool
}

func (t *txn) view(patient string, who model.Party) (*view, error) {
	v := &view{t: t, patient: patient, who: who}
	var err error
	if v.erased, err = t.erasure(patient); err != nil {
		return nil, err
	}
	if who.Role == model.RoleAnonymizer {
		if v.consent, err = t.researchConsent(patient); err != nil {
			return nil, err
		}
	}
	if v.grants, err = t.grantsFor(kindGranteeIdx, patient, who); err != nil {
		return nil, err
	}
	return v, nil
}

// allGrants returns every grant naming the accessor, revoked ones included.
func (v *view) allGrants() ([]model.Grant, error) {
	if !v.loaded {
		var err error
		if v.revoked, err = v.t.grantsFor(kindGranteeRev, v.patient, v.who); err != nil {
			return nil, err
		}
		v.loaded = true
	}
	return append(slices.Clip(v.grants), v.revoked...), nil
}

func (v *view) decide(rec *model.Record, action, purpose string, at time.Time) (model.Decision, error) {
	d := decideAt(rec, v.who, action, purpose, at, v.grants, v.erased, v.consent)
	if d.Allowed || d.Reason != model.DenyNoGrant && d.Reason != model.DenyGrantExpired && d.Reason != model.DenyGrantNotYetValid {
		return d, nil
	}
	// Refused: a revoked grant, if one covers the access, explains it best.
	all, err := v.allGrants()
	if err != nil {
		return model.Decision{}, err
	}
	return decideAt(rec, v.who, action, purpose, at, all, v.erased, v.consent), nil
}

// mayRead reports whether the accessor may see the record's metadata: with any action, for
// any purpose, now.
func (v *view) mayRead(rec *model.Record, now time.Time) bool {
	allowed := func(action, purpose string) bool {
		return decideAt(rec, v.who, action, purpose, now, v.grants, v.erased, v.consent).Allowed
	}
	for _, action := range model.Actions {
		if allowed(action, "") {
			return true
		}
	}
	if v.who.Role == model.RoleAnonymizer && v.consent != nil {
		for _, p := range model.ResearchPurposes {
			if allowed(model.ActionRead, p) {
				return true
			}
		}
	}
	return false
}

// decideAt is the access policy, as a pure function of the record, the accessor, the time and
// the ledger documents that bear on it:
//   - nobody reaches the records of an erased patient;
//   - manufacturers, administrators and gateways acting for nobody never reach records;
//   - the anonymiser reads, and only reads, records of patients whose research consent covers
//     the research purpose asked for;
//   - a patient may read and append to their own records;
//   - anyone else needs a grant from the owner, active at that time, naming them (or, for
//     clinicians, their organisation), the action, the purpose if one is asked for, and the
//     record or its category. Break-glass emergency grants count, marked as such.
func decideAt(rec *model.Record, who model.Party, action, purpose string, at time.Time, grants []model.Grant, erased *model.Erasure, consent *model.ResearchConsent) model.Decision {
	d := model.Decision{
		RecordID: rec.ID, Owner: rec.Owner, Category: rec.Category, Action: action,
		Accessor: who, Purpose: purpose, DecidedAt: at,
	}
	deny := func(reason string) model.Decision {
		d.Allowed, d.Reason = false, reason
		return d
	}
	if erased != nil && !at.Before(erased.RequestedAt) {
		return deny(model.DenyErased)
	}
	switch who.Role {
	case model.RoleAnonymizer:
		if action != model.ActionRead || consent == nil || !consent.ActiveFor(purpose, at) {
			return deny(model.DenyNoResearchConsent)
		}
		d.Allowed, d.Basis = true, model.BasisResearch
		return d
	case model.RolePatient:
		if who.ID == rec.Owner {
			d.Allowed, d.Basis = true, model.BasisOwner
			return d
		}
	case model.RoleClinician:
	default:
		return deny(model.DenyRoleNotPermitted)
	}

	reason := model.DenyNoGrant
	var chosen *model.Grant
	for i := range grants {
		g := &grants[i]
		if !grantCovers(g, rec, who, action, purpose) {
			continue
		}
		status := g.StatusAt(at)
		if status != model.GrantActive {
			// Explain the refusal by the most telling grant: revoked, then expired, then
			// not yet valid.
			if r := statusRefusal[status]; refusalRank(r) > refusalRank(reason) {
				reason = r
			}
			continue
		}
		// Prefer a consent grant to a break-glass one, so routine reads are not logged as
		// emergencies when the patient has granted access.
		if chosen == nil || (chosen.Emergency && !g.Emergency) {
			chosen = g
		}
	}
	if chosen == nil {
		return deny(reason)
	}
	d.Allowed, d.GrantID, d.ValidUntil, d.Purpose = true, chosen.ID, chosen.ValidUntil, chosen.Purpose
	d.Basis = model.BasisGrant
	if chosen.Emergency {
		d.Basis = model.BasisEmergency
	}
	return d
}

// statusRefusal is the refusal reason a grant in each inactive status gives.
var statusRefusal = map[string]string{
	model.GrantPending: model.DenyGrantNotYetValid,
	model.GrantExpired: model.DenyGrantExpired,
	model.GrantRevoked: model.DenyGrantRevoked,
}

// refusalRank orders refusal reasons from least to most telling.
func refusalRank(reason string) int {
	return slices.Index([]string{model.DenyNoGrant, model.DenyGrantNotYetValid, model.DenyGrantExpired, model.DenyGrantRevoked}, reason)
}

// grantCovers reports whether g, whatever its status, speaks about this accessor, record, action
// and purpose.
func grantCovers(g *model.Grant, rec *model.Record, who model.Party, action, purpose string) bool {
	if g.Patient != rec.Owner || !slices.Contains(g.Actions, action) {
		return false
	}
	switch {
	case g.Grantee.ID != "":
		if g.Grantee.ID != who.ID {
			return false
		}
	case g.Grantee.MSP != who.MSP || who.Role != model.RoleClinician:
		// An organisation grant reaches that organisation's clinicians only.
		return false
	}
	if purpose != "" && g.Purpose != purpose && !g.Emergency {
		return false
	}
	if len(g.RecordIDs) > 0 {
		return rec.ID != "" && slices.Contains(g.RecordIDs, rec.ID)
	}
	return slices.Contains(g.Categories, rec.Category)
}

// grantsFor loads the grants from patient in the grantee index kind (kindGranteeIdx: not
// revoked; kindGranteeRev: revoked) that name who or, for clinicians, who's organisation.
func (t *txn) grantsFor(kind, patient string, who model.Party) ([]model.Grant, error) {
	if who.Role != model.RolePatient && who.Role != model.RoleClinician {
		return nil, nil
	}
	keys := []string{model.Grantee{ID: who.ID}.Key()}
	if who.Role == model.RoleClinician {
		keys = append(keys, model.Grantee{MSP: who.MSP}.Key())
	}
	var out []model.Grant
	for _, gk := range keys {
		err := t.each(kind, []string{gk, patient}, func(key string, _ []byte) (bool, error) {
			id, err := t.lastAttr(key)
			if err != nil {
				return false, err
			}
			g, err := t.grant(id)
			if err != nil {
				return false, err
			}
			out = append(out, *g)
			return true, nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}
