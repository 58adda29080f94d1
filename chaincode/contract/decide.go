package contract

import (
	"slices"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// CheckAccess answers whether the caller may perform action ("read" or "append") on the record
// now, and on what basis. purpose, if given, must match the grant's purpose of use. A refusal is
// an answer, not an error: Allowed is false and Reason says why.
func (c *Contract) CheckAccess(ctx contractapi.TransactionContextInterface, recordID, action, purpose string) (*model.Decision, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	_, d, err := t.decideNow(recordID, action, purpose)
	return d, err
}

// AuthorizeRead decides whether the caller may read version of the record now (0: the latest)
// for purpose, as CheckAccess does for "read", and when it may, returns the record and that
// version's metadata in the same answer: the gateway evaluates it as the caller before it
// releases any content, one evaluation per read. A refusal is an answer, not an error, and
// carries no record; a version the record does not have is NOT_FOUND, said only to a caller
// who may read the record.
func (c *Contract) AuthorizeRead(ctx contractapi.TransactionContextInterface, recordID string, version int, purpose string) (*model.ReadAuthorization, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, model.Errorf(model.CodeInvalidArgument, "version must be 0 (the latest) or a version number")
	}
	rec, d, err := t.decideNow(recordID, model.ActionRead, purpose)
	if err != nil {
		return nil, err
	}
	out := &model.ReadAuthorization{Decision: *d}
	if !d.Allowed {
		return out, nil
	}
	if version == 0 {
		version = rec.Versions
	}
	var v model.Version
	if ok, err := t.get(t.key(kindVersion, rec.ID, versionKey(version)), &v); err != nil {
		return nil, err
	} else if !ok {
		return nil, model.Errorf(model.CodeNotFound, "record %s has no version %d", rec.ID, version)
	}
	out.Record, out.Version = rec, &v
	return out, nil
}

// decideNow is the decision of CheckAccess and AuthorizeRead, with the record it was taken on
// (a phantom when the ID names no record; it is then refused).
func (t *txn) decideNow(recordID, action, purpose string) (*model.Record, *model.Decision, error) {
	if err := checkID("recordId", recordID); err != nil {
		return nil, nil, err
	}
	if err := checkOneOf("action", action, model.Actions); err != nil {
		return nil, nil, err
	}
	if purpose != "" {
		if err := checkOneOf("purpose", purpose, append(slices.Clone(model.Purposes), model.ResearchPurposes...)); err != nil {
			return nil, nil, err
		}
	}
	// A record that does not exist is decided like one the caller has no grant for, with the
	// same reads, so that the answer does not tell whether an ID exists.
	rec, _, err := t.recordOrPhantom(recordID)
	if err != nil {
		return nil, nil, err
	}
	v, err := t.view(rec.Owner, t.caller.Party)
	if err != nil {
		return nil, nil, err
	}
	d, err := v.decide(rec, action, purpose, t.now)
	if err != nil {
		return nil, nil, err
	}
	if !d.Allowed {
		// A refused caller learns nothing about the record, not even whose it is.
		d.Owner, d.Category = "", ""
	}
	return rec, &d, nil
}

// view is what the ledger says about one patient that bears on one accessor's access: the
// patient's erasure, research consent and the grants in force naming the accessor. It is loaded
// once and then decides for any number of the patient's records.
//
// Its cost does not grow with the grants the pair has had: a pair has at most MaxActiveGrants
// grants in force per grantee key, and grants that ended are read only to explain a refusal,
// at most one per scope of the record (see grantindex.go).
type view struct {
	t       *txn
	patient string
	who     model.Party
	erased  *model.Erasure
	consent *model.ResearchConsent
	grants  []model.Grant // in force, or ended since the pair's last Grant
	// named are the grants audit reports named, by ID (nil: no such grant), read once.
	named map[string]*model.Grant
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
	if v.grants, err = t.liveGrants(patient, who); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *view) decide(rec *model.Record, action, purpose string, at time.Time) (model.Decision, error) {
	d := decideAt(rec, v.who, action, purpose, at, v.grants, v.erased, v.consent)
	if d.Allowed || !slices.Contains(grantRefusals, d.Reason) {
		return d, nil
	}
	// Refused for want of a grant: the newest grant that ended and covered the access, if it
	// disclosed the record to the accessor, explains the refusal better.
	ended, err := v.t.endedGrants(v.patient, v.who, rec, action, purpose)
	if err != nil || len(ended) == 0 {
		return d, err
	}
	return decideAt(rec, v.who, action, purpose, at, append(slices.Clip(v.grants), ended...), v.erased, v.consent), nil
}

// grantRefusals are the refusal reasons that a grant explains.
var grantRefusals = []string{model.DenyNoGrant, model.DenyGrantExpired, model.DenyGrantRevoked, model.DenyGrantNotYetValid}

// refusal is why the accessor may not see the record at all: the reason for reading, or for
// appending when reading says no more than that no grant covers it.
func (v *view) refusal(rec *model.Record) (string, error) {
	for _, action := range model.Actions {
		d, err := v.decide(rec, action, "", v.t.now)
		if err != nil || d.Reason != model.DenyNoGrant {
			return d.Reason, err
		}
	}
	return model.DenyNoGrant, nil
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
		// Say "erased" only to whom the record was disclosed (the owner, a grantee, the
		// anonymiser of a patient who once gave research consent); anyone else learns what
		// they would learn of a record that does not exist.
		base := decideAt(rec, who, action, purpose, at, grants, nil, consent)
		if base.Allowed || base.Reason != model.DenyNoGrant && slices.Contains(grantRefusals, base.Reason) ||
			who.Role == model.RoleAnonymizer && consent != nil {
			return deny(model.DenyErased)
		}
		return base
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

	var chosen, newest *model.Grant
	for i := range grants {
		g := &grants[i]
		if !grantCovers(g, rec, who, action, purpose) {
			continue
		}
		if g.StatusAt(at) != model.GrantActive {
			// Explain the refusal by the newest grant that disclosed the record.
			if disclosed(g, rec, at) && (newest == nil || createdBefore(newest.CreatedAt, newest.ID, g.CreatedAt, g.ID)) {
				newest = g
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
		if newest == nil {
			return deny(model.DenyNoGrant)
		}
		return deny(statusRefusal[newest.StatusAt(at)])
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

// createdBefore orders grants by creation time; the ID breaks ties between grants of one
// transaction time.
func createdBefore(at time.Time, id string, thanAt time.Time, thanID string) bool {
	return at.Before(thanAt) || at.Equal(thanAt) && id < thanID
}

// disclosed reports whether g, not active at time at, ever let its grantee know of the record:
// a record grant names it; a category grant was in force at some time after the record was
// created. Only such a grant explains a refusal, so that a refusal never tells a former grantee
// that a record created since exists.
func disclosed(g *model.Grant, rec *model.Record, at time.Time) bool {
	if len(g.RecordIDs) > 0 {
		return true
	}
	end := at
	if g.ValidUntil != nil && g.ValidUntil.Before(end) {
		end = *g.ValidUntil
	}
	if g.Revoked && g.RevokedAt != nil && g.RevokedAt.Before(end) {
		end = *g.RevokedAt
	}
	start := g.ValidFrom
	if rec.CreatedAt.After(start) {
		start = rec.CreatedAt
	}
	return start.Before(end)
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
