package contract

import (
	"encoding/base64"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Grant records a patient's consent for a grantee (one identity, or a whole organisation's
// clinicians) to read and/or append to some of the patient's records, by category or by record,
// for a purpose of use and a validity window. Only the patient, signing with their own key, or a
// delegate the patient named may grant. Emits GrantCreated.
func (c *Contract) Grant(ctx contractapi.TransactionContextInterface, request string) (*model.Grant, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	var req model.GrantRequest
	if err := decode("request", request, &req); err != nil {
		return nil, err
	}
	patient, err := t.consentActor(req.Patient)
	if err != nil {
		return nil, err
	}
	g, err := t.validateGrant(patient, &req)
	if err != nil {
		return nil, err
	}
	if err := t.storeGrant(g); err != nil {
		return nil, err
	}
	g.Status = g.StatusAt(t.now)
	grantee := g.Grantee
	return g, t.emit(model.EventGrantCreated, model.Event{Patient: g.Patient, GrantID: g.ID, Grantee: &grantee, Actor: t.caller.ID})
}

func (t *txn) validateGrant(patient string, req *model.GrantRequest) (*model.Grant, error) {
	if err := checkID("id", req.ID); err != nil {
		return nil, err
	}
	switch {
	case req.Grantee.ID != "" && req.Grantee.MSP != "", req.Grantee.ID == "" && req.Grantee.MSP == "":
		return nil, model.Errorf(model.CodeInvalidArgument, "grantee must name exactly one of id and msp")
	case req.Grantee.ID != "":
		if err := checkPseudonym("grantee.id", req.Grantee.ID); err != nil {
			return nil, err
		}
		if req.Grantee.ID == patient {
			return nil, model.Errorf(model.CodeInvalidArgument, "a patient cannot grant access to themselves")
		}
		// A grant reaches patients and clinicians only. A pseudonym reveals nothing, so the
		// ledger knows another role only for a party it has seen change the ledger.
		if p, err := t.party(req.Grantee.ID); err != nil {
			return nil, err
		} else if p != nil && p.Role != model.RolePatient && p.Role != model.RoleClinician {
			return nil, model.Errorf(model.CodeInvalidArgument, "grantee.id is an identity whose role never reads records")
		}
	default:
		if !model.ValidMSPID(req.Grantee.MSP) {
			return nil, model.Errorf(model.CodeInvalidArgument, "grantee.msp is not a valid MSP ID")
		}
		// An organisation grant reaches the organisation's clinicians: refuse it when the
		// role policy lets the organisation have none. Without a policy any may.
		policy, err := t.rolePolicy()
		if err != nil {
			return nil, err
		}
		if policy != nil && permittedRole(policy, identity{mspID: req.Grantee.MSP, role: model.RoleClinician}) == "" {
			return nil, model.Errorf(model.CodeInvalidArgument, "grantee.msp: the role policy lets %s have no clinicians", req.Grantee.MSP)
		}
	}
	actions, err := checkSet("actions", req.Actions, model.Actions)
	if err != nil {
		return nil, err
	}
	g := &model.Grant{
		ID: req.ID, Patient: patient, Grantee: req.Grantee, Actions: actions, Purpose: req.Purpose,
		GrantedBy: t.caller.Party, CreatedAt: t.now, TxID: t.id,
	}
	switch {
	case len(req.Categories) > 0 && len(req.RecordIDs) > 0, len(req.Categories) == 0 && len(req.RecordIDs) == 0:
		return nil, model.Errorf(model.CodeInvalidArgument, "a grant names either categories or recordIds")
	case len(req.Categories) > 0:
		if g.Categories, err = checkSet("categories", req.Categories, model.Categories); err != nil {
			return nil, err
		}
	default:
		if g.RecordIDs, err = checkSet("recordIds", req.RecordIDs, nil); err != nil {
			return nil, err
		}
		for _, id := range g.RecordIDs {
			if err := checkID("recordIds", id); err != nil {
				return nil, err
			}
			ok, err := t.exists(t.key(kindOwnerRecord, patient, id))
			if err != nil {
				return nil, err
			}
			if !ok {
				return nil, model.Errorf(model.CodeInvalidArgument, "recordIds: %s is not one of the patient's records", id)
			}
		}
	}
	if req.Purpose == emergencyPurpose {
		return nil, model.Errorf(model.CodeInvalidArgument, "purpose ETREAT is reserved for emergency access")
	}
	if err := checkOneOf("purpose", req.Purpose, model.Purposes); err != nil {
		return nil, err
	}
	g.ValidFrom = t.now
	if req.ValidFrom != nil {
		g.ValidFrom = *canonicalTime(req.ValidFrom)
	}
	g.ValidUntil = canonicalTime(req.ValidUntil)
	if g.ValidUntil != nil {
		if !g.ValidUntil.After(g.ValidFrom) {
			return nil, model.Errorf(model.CodeInvalidArgument, "validUntil must be after validFrom")
		}
		if !g.ValidUntil.After(t.now) {
			return nil, model.Errorf(model.CodeInvalidArgument, "validUntil is in the past")
		}
	}
	return g, nil
}

// emergencyPurpose is the purpose of use of break-glass access, which no consent grant has.
const emergencyPurpose = "ETREAT"

func (t *txn) storeGrant(g *model.Grant) error {
	if err := t.refuseErased(g.Patient); err != nil {
		return err
	}
	key := t.key(kindGrant, g.ID)
	if ok, err := t.exists(key); err != nil {
		return err
	} else if ok {
		return model.Errorf(model.CodeConflict, "grant %s already exists", g.ID)
	}
	inForce, err := t.settlePair(g.Grantee.Key(), g.Patient)
	if err != nil {
		return err
	}
	if inForce >= MaxActiveGrants {
		return model.Errorf(model.CodeConflict, "the patient already has %d grants in force for this grantee, the most allowed; revoke one first", MaxActiveGrants)
	}
	if err := t.put(key, g); err != nil {
		return err
	}
	if err := t.index(t.key(kindOwnerGrant, g.Patient, g.ID)); err != nil {
		return err
	}
	return t.putLive(g)
}

// consentActor returns the patient a consent transaction is for: the caller, when patient is
// empty or names the caller, or the patient who named the caller as an active delegate. It
// refuses gateways acting for someone: consent is signed with the person's own key.
func (t *txn) consentActor(patient string) (string, error) {
	if err := t.requireDirect(); err != nil {
		return "", err
	}
	if patient == "" || patient == t.caller.ID {
		if err := t.require(model.RolePatient); err != nil {
			return "", err
		}
		return t.caller.ID, nil
	}
	if err := checkPseudonym("patient", patient); err != nil {
		return "", err
	}
	if err := t.require(model.RolePatient, model.RoleClinician); err != nil {
		return "", err
	}
	ok, err := t.isDelegate(patient, t.caller.ID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", model.Errorf(model.CodeForbidden, "only the patient or a delegate the patient named may do this")
	}
	return patient, nil
}

// RevokeGrant revokes a grant from the next request on. The patient or their delegate may revoke
// any of the patient's grants; the clinician who opened an emergency access may close it.
// Emits GrantRevoked, which gateways use to drop cached decisions.
func (c *Contract) RevokeGrant(ctx contractapi.TransactionContextInterface, grantID string) (*model.Grant, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID("grantId", grantID); err != nil {
		return nil, err
	}
	g, err := t.grant(grantID)
	if err != nil {
		return nil, err
	}
	closingOwnEmergency := g.Emergency && t.caller.ID == g.GrantedBy.ID && t.caller.Role == model.RoleClinician
	if !closingOwnEmergency {
		if _, err := t.consentActor(g.Patient); err != nil {
			return nil, err
		}
	}
	if g.Revoked {
		return nil, model.Errorf(model.CodeConflict, "grant %s is already revoked", g.ID)
	}
	if err := t.revoke(g); err != nil {
		return nil, err
	}
	if err := t.put(t.key(kindGrant, g.ID), g); err != nil {
		return nil, err
	}
	g.Status = g.StatusAt(t.now)
	grantee := g.Grantee
	return g, t.emit(model.EventGrantRevoked, model.Event{Patient: g.Patient, GrantID: g.ID, Grantee: &grantee, Actor: t.caller.ID})
}

// revoke marks the grants revoked and moves them out of the index of grants in force, so
// access decisions no longer read them. Grants revoked in one transaction are revoked in one
// call (see end). The caller writes the grants.
func (t *txn) revoke(gs ...*model.Grant) error {
	now := t.now
	for _, g := range gs {
		g.Revoked, g.RevokedAt, g.RevokedBy, g.RevokedTxID = true, &now, t.caller.ID, t.id
	}
	return t.end(gs...)
}

func (t *txn) grant(id string) (*model.Grant, error) {
	var g model.Grant
	ok, err := t.get(t.key(kindGrant, id), &g)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.Errorf(model.CodeNotFound, "grant %s not found", id)
	}
	return &g, nil
}

// GetGrant returns one grant to its patient, their delegates, or the grantee.
func (c *Contract) GetGrant(ctx contractapi.TransactionContextInterface, grantID string) (*model.Grant, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkID("grantId", grantID); err != nil {
		return nil, err
	}
	g, err := t.grant(grantID)
	if err != nil {
		return nil, err
	}
	if !t.isGrantee(g) {
		if err := t.mayManage(g.Patient); err != nil {
			return nil, model.Errorf(model.CodeForbidden, "no permission to read grant %s", grantID)
		}
	}
	g.Status = g.StatusAt(t.now)
	return g, nil
}

func (t *txn) isGrantee(g *model.Grant) bool {
	if g.Grantee.ID != "" {
		return g.Grantee.ID == t.caller.ID && (t.caller.Role == model.RolePatient || t.caller.Role == model.RoleClinician)
	}
	return g.Grantee.MSP == t.caller.MSP && t.caller.Role == model.RoleClinician
}

// mayManage lets the patient themselves, directly or through their organisation's gateway, and
// their active delegates read the patient's own documents.
func (t *txn) mayManage(patient string) error {
	if t.caller.Role == model.RolePatient && t.caller.ID == patient {
		return nil
	}
	if t.caller.Role == model.RolePatient || t.caller.Role == model.RoleClinician {
		ok, err := t.isDelegate(patient, t.caller.ID)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
	return model.Errorf(model.CodeForbidden, "only the patient or a delegate the patient named may do this")
}

// managedPatient resolves the patient a read of someone's own documents is about ("" means
// the caller) and checks that the caller is that patient or their delegate.
func (t *txn) managedPatient(patientID string) (string, error) {
	if patientID == "" {
		patientID = t.caller.ID
	}
	if err := checkPseudonym("patientId", patientID); err != nil {
		return "", err
	}
	return patientID, t.mayManage(patientID)
}

// ListGrants lists the grants a patient made, including emergency accesses opened on their
// records; activeOnly leaves out revoked, expired and pending ones. patientID "" means the
// caller. Evaluate it; do not submit it.
func (c *Contract) ListGrants(ctx contractapi.TransactionContextInterface, patientID string, activeOnly bool, pageSize int, bookmark string) (*model.GrantPage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if patientID, err = t.managedPatient(patientID); err != nil {
		return nil, err
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	out := &model.GrantPage{Grants: []model.Grant{}}
	out.Bookmark, err = t.page(kindOwnerGrant, []string{patientID}, bookmark, size, t.collectGrant(activeOnly, &out.Grants))
	return out, err
}

// ListGrantsToMe lists the grants made to the caller: to their own identity and, for
// clinicians, to their organisation. Evaluate it; do not submit it.
func (c *Contract) ListGrantsToMe(ctx contractapi.TransactionContextInterface, activeOnly bool, pageSize int, bookmark string) (*model.GrantPage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient, model.RoleClinician); err != nil {
		return nil, err
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	// Grants in force first, then (unless activeOnly) those that ended; identity grants before
	// organisation grants. The bookmark says which phase to resume in.
	type phase struct {
		kind  string
		attrs []string
	}
	keys := []string{model.Grantee{ID: t.caller.ID}.Key()}
	if t.caller.Role == model.RoleClinician {
		keys = append(keys, model.Grantee{MSP: t.caller.MSP}.Key())
	}
	kinds := []string{kindGranteeIdx}
	if !activeOnly {
		kinds = append(kinds, kindGranteeEnd)
	}
	var phases []phase
	for _, k := range kinds {
		for _, gk := range keys {
			phases = append(phases, phase{k, []string{gk}})
		}
	}
	first := 0
	if bookmark != "" {
		raw, err := base64.RawURLEncoding.DecodeString(bookmark)
		first = -1
		for i, ph := range phases {
			if err == nil && strings.HasPrefix(string(raw), t.key(ph.kind, ph.attrs...)) {
				first = i
			}
		}
		if first < 0 {
			return nil, model.Errorf(model.CodeInvalidArgument, "bookmark does not belong to this listing")
		}
	}
	out := &model.GrantPage{Grants: []model.Grant{}}
	for i := first; i < len(phases); i++ {
		bm := ""
		if i == first {
			bm = bookmark
		}
		if len(out.Grants) == size {
			// This page is full exactly at a phase boundary: resume at the next phase's start.
			out.Bookmark = base64.RawURLEncoding.EncodeToString([]byte(t.key(phases[i].kind, phases[i].attrs...)))
			return out, nil
		}
		next, err := t.page(phases[i].kind, phases[i].attrs, bm, size-len(out.Grants), t.collectGrant(activeOnly, &out.Grants))
		if err != nil {
			return nil, err
		}
		if next != "" {
			out.Bookmark = next
			return out, nil
		}
	}
	return out, nil
}

func (t *txn) collectGrant(activeOnly bool, into *[]model.Grant) func(string, []byte) (bool, error) {
	return func(key string, _ []byte) (bool, error) {
		id, err := t.lastAttr(key)
		if err != nil {
			return false, err
		}
		g, err := t.grant(id)
		if err != nil {
			return false, err
		}
		g.Status = g.StatusAt(t.now)
		if activeOnly && g.Status != model.GrantActive {
			return false, nil
		}
		*into = append(*into, *g)
		return true, nil
	}
}

// Emergency access bounds: break-glass is for hours, not for routine care.
const (
	defaultEmergencyMinutes = 240
	maxEmergencyMinutes     = 24 * 60
)

// OpenEmergencyAccess lets a clinician open time-limited break-glass read access to all of a
// patient's records, for a reason from a fixed vocabulary. It is recorded as an emergency grant
// the patient sees and can revoke, marks every access under it as an emergency in the audit
// trail, and emits EmergencyAccessOpened so the patient is told.
func (c *Contract) OpenEmergencyAccess(ctx contractapi.TransactionContextInterface, request string) (*model.Grant, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RoleClinician); err != nil {
		return nil, err
	}
	var req model.EmergencyRequest
	if err := decode("request", request, &req); err != nil {
		return nil, err
	}
	if err := checkID("id", req.ID); err != nil {
		return nil, err
	}
	if err := checkPseudonym("patient", req.Patient); err != nil {
		return nil, err
	}
	if err := checkOneOf("reason", req.Reason, model.EmergencyReasons); err != nil {
		return nil, err
	}
	if known, err := t.knownPatient(req.Patient); err != nil {
		return nil, err
	} else if !known {
		return nil, model.Errorf(model.CodeNotFound, "patient %s has nothing on the ledger", req.Patient)
	}
	minutes := req.DurationMinutes
	if minutes == 0 {
		minutes = defaultEmergencyMinutes
	}
	if minutes < 1 || minutes > maxEmergencyMinutes {
		return nil, model.Errorf(model.CodeInvalidArgument, "durationMinutes must be between 1 and %d", maxEmergencyMinutes)
	}
	until := t.now.Add(time.Duration(minutes) * time.Minute)
	g := &model.Grant{
		ID: req.ID, Patient: req.Patient, Grantee: model.Grantee{ID: t.caller.ID},
		Actions: []string{model.ActionRead}, Categories: slices.Sorted(slices.Values(model.Categories)),
		Purpose: emergencyPurpose, ValidFrom: t.now, ValidUntil: &until, Emergency: true, Reason: req.Reason,
		GrantedBy: t.caller.Party, Via: t.caller.Via, CreatedAt: t.now, TxID: t.id,
	}
	if err := t.storeGrant(g); err != nil {
		return nil, err
	}
	g.Status = g.StatusAt(t.now)
	grantee := g.Grantee
	return g, t.emit(model.EventEmergencyAccess, model.Event{Patient: g.Patient, GrantID: g.ID, Grantee: &grantee, Actor: t.caller.ID})
}
