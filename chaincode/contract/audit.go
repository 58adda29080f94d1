package contract

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

const (
	maxAuditBatch = 500
	// Accesses are reported after the content was released; a gateway that was down reports
	// late. Older reports are refused so the trail cannot be back-filled arbitrarily.
	maxAuditDelay = 30 * 24 * time.Hour
	maxClockSkew  = 5 * time.Minute
)

// RecordAccesses appends a batch of content releases to the patients' audit trails in one
// transaction. Each report must be backed by the ledger: at the time of access the accessor must
// have been allowed the action on that record version on the basis given (owner, the named
// grant, the named emergency access, or research consent). A member reports their own accesses;
// an organisation's gateway reports those of its own organisation's members. Reports already on
// the ledger (same ID) are skipped, so a batch replayed after a crash is recorded once.
func (c *Contract) RecordAccesses(ctx contractapi.TransactionContextInterface, batch string) (*model.AuditResult, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient, model.RoleClinician, model.RoleAnonymizer, model.RoleGateway); err != nil {
		return nil, err
	}
	var reports []model.AccessReport
	if err := decode("batch", batch, &reports); err != nil {
		return nil, err
	}
	if len(reports) == 0 || len(reports) > maxAuditBatch {
		return nil, model.Errorf(model.CodeInvalidArgument, "batch must hold 1 to %d reports", maxAuditBatch)
	}
	gatewayForAll := t.caller.Role == model.RoleGateway && t.caller.Via == ""
	res := &model.AuditResult{}
	seen := make(map[string]bool, len(reports))
	nonces := map[string]bool{}
	views := map[string]*view{}
	marks := map[string]time.Time{} // refusal marks written in this batch (state reads do not see them)
	type cachedRecord struct {
		rec    *model.Record
		exists bool
	}
	records := map[string]cachedRecord{}
	for i := range reports {
		r := &reports[i]
		if err := t.checkReport(i, r, gatewayForAll); err != nil {
			return nil, err
		}
		idKey := t.key(kindAccessID, r.ID)
		dup, err := t.exists(idKey)
		if err != nil {
			return nil, err
		}
		if dup || seen[r.ID] {
			res.Duplicates++
			continue
		}
		seen[r.ID] = true
		// A record that does not exist is refused like one the accessor could not read. A
		// batch names the same records many times (each search page of each clinician), and
		// nothing here writes them, so each is read once; whether it exists is kept with it,
		// for a refused attempt on a record that does not exist is not recorded.
		cached, ok := records[r.RecordID]
		if !ok {
			if cached.rec, cached.exists, err = t.recordOrPhantom(r.RecordID); err != nil {
				return nil, err
			}
			records[r.RecordID] = cached
		}
		rec, exists := cached.rec, cached.exists
		vk := rec.Owner + "\x00" + r.Accessor.MSP + "\x00" + r.Accessor.ID + "\x00" + string(r.Accessor.Role)
		v := views[vk]
		if v == nil {
			if v, err = t.view(rec.Owner, r.Accessor); err != nil {
				return nil, err
			}
			views[vk] = v
		}
		if r.Basis == model.BasisRefused {
			// A refusal that cannot be shown never fails the batch: the reads in it must be
			// recorded whatever became of the refusals.
			record, err := t.refusalToRecord(v, rec, exists, r, marks)
			if err != nil {
				return nil, err
			}
			if !record {
				res.Skipped++
				continue
			}
		} else if backed, err := reportBacked(v, rec, r); err != nil {
			return nil, err
		} else if !backed {
			return nil, model.Errorf(model.CodeForbidden, "report %d: the ledger does not show that access as allowed on basis %s at %s", i, r.Basis, r.AccessedAt.Format(time.RFC3339))
		}
		if r.Version > rec.Versions {
			return nil, model.Errorf(model.CodeInvalidArgument, "report %d: record %s has no version %d", i, r.RecordID, r.Version)
		}
		assurance, err := t.assurance(i, r, rec, nonces)
		if err != nil {
			return nil, err
		}
		entry := model.AccessEntry{
			ID: r.ID, RecordID: r.RecordID, Version: r.Version, Owner: rec.Owner, Action: r.Action,
			Accessor: r.Accessor, Basis: r.Basis, GrantID: r.GrantID, Purpose: r.Purpose,
			AccessedAt: r.AccessedAt, Reason: r.Reason, RecordedBy: t.caller.ID, TxID: t.id, Assurance: assurance,
		}
		stored, err := encodeAuditEntry(&entry)
		if err != nil {
			return nil, err
		}
		if err := t.stub.PutState(t.key(kindAudit, rec.Owner, r.AccessedAt.Format(sortableTime), r.ID), stored); err != nil {
			return nil, model.Errorf(model.CodeInternal, "write state: %v", err)
		}
		if err := t.index(idKey); err != nil {
			return nil, err
		}
		res.Recorded++
	}
	if res.Recorded == 0 {
		return res, nil
	}
	return res, t.emit(model.EventAccessesRecorded, model.Event{Count: res.Recorded, Actor: t.caller.ID})
}

func (t *txn) checkReport(i int, r *model.AccessReport, gatewayForAll bool) error {
	fail := func(format string, args ...any) error {
		return model.Errorf(model.CodeInvalidArgument, "report %d: "+format, append([]any{i}, args...)...)
	}
	switch {
	case !model.ValidID(r.ID):
		return fail("id must be 1-128 letters, digits, '.', '_' or '-'")
	case !model.ValidID(r.RecordID):
		return fail("recordId must be 1-128 letters, digits, '.', '_' or '-'")
	case r.Version < 0 || (r.Version == 0 && r.Basis != model.BasisRefused):
		return fail("version must be 1 or more (0 only for a refused attempt)")
	case !slices.Contains(model.Actions, r.Action):
		return fail("unknown action %q", r.Action)
	case !model.ValidMSPID(r.Accessor.MSP) || !model.ValidPseudonym(r.Accessor.ID) || !r.Accessor.Role.Valid():
		return fail("accessor must have a valid msp, pseudonym id and role")
	case !slices.Contains([]string{model.BasisOwner, model.BasisGrant, model.BasisEmergency, model.BasisResearch, model.BasisRefused}, r.Basis):
		return fail("unknown basis %q", r.Basis)
	case (r.Basis == model.BasisRefused) != (r.Reason != ""):
		return fail("reason is required for basis refused, and only for it")
	case r.Reason != "" && !slices.Contains(model.RecordedRefusals, r.Reason):
		return fail("unknown refusal reason %q", r.Reason)
	case r.Basis == model.BasisRefused && r.Assertion != nil:
		return fail("a refused attempt carries no assertion")
	case (r.Basis == model.BasisGrant || r.Basis == model.BasisEmergency) != (r.GrantID != ""):
		return fail("grantId is required for basis grant and emergency, and only for them")
	case r.GrantID != "" && !model.ValidID(r.GrantID):
		return fail("grantId must be 1-128 letters, digits, '.', '_' or '-'")
	case r.Purpose != "" && !slices.Contains(model.Purposes, r.Purpose) && !slices.Contains(model.ResearchPurposes, r.Purpose):
		return fail("unknown purpose %q", r.Purpose)
	case r.AccessedAt.IsZero() || r.AccessedAt.After(t.now.Add(maxClockSkew)):
		return fail("accessedAt must be set and not in the future")
	case r.AccessedAt.Before(t.now.Add(-maxAuditDelay)):
		return fail("accessedAt is more than %d days old", int(maxAuditDelay.Hours()/24))
	}
	r.AccessedAt = *canonicalTime(&r.AccessedAt)
	if gatewayForAll {
		if r.Accessor.MSP != t.caller.MSP {
			return model.Errorf(model.CodeForbidden, "report %d: a gateway reports only its own organisation's accesses", i)
		}
		return nil
	}
	if r.Accessor != t.caller.Party {
		return model.Errorf(model.CodeForbidden, "report %d: a member reports only their own accesses", i)
	}
	return nil
}

// assurance decides who vouches for a reported access, and checks the member's assertion if
// the report carries one.
//
// The assertion is verified here, in the audit write, rather than when the gateway asks the
// ledger for its decision: the decision is evaluated, never committed, so a check there would
// leave no trace and a gateway could simply skip it, whereas every release of content ends in
// this transaction, the entry it writes is what the patient reads (so the mark and the check
// cannot drift apart), and the member's certificate and signature go into the block with the
// report, where anyone can check them again. The gateway checks the same assertion before it
// releases anything (gateway.Service.Read), so a forged one is refused at once; this check is
// the one that counts.
//
// An access reported by the member's own transaction is member-signed: their key signed it.
func (t *txn) assurance(i int, r *model.AccessReport, rec *model.Record, used map[string]bool) (string, error) {
	fail := func(code model.Code, format string, args ...any) error {
		return model.Errorf(code, "report %d: "+format, append([]any{i}, args...)...)
	}
	if r.Assertion == nil {
		if r.Certificate != "" {
			return "", fail(model.CodeInvalidArgument, "a certificate comes only with an assertion")
		}
		if t.caller.Via == "" && r.Accessor == t.caller.Party {
			return model.AssuranceMemberSigned, nil
		}
		return model.AssuranceGatewayAsserted, nil
	}
	a := r.Assertion
	if err := a.Check(); err != nil {
		return "", inReport(i, err)
	}
	block, rest := pem.Decode([]byte(r.Certificate))
	if block == nil || block.Type != "CERTIFICATE" || len(bytes.TrimSpace(rest)) != 0 {
		return "", fail(model.CodeInvalidArgument, "certificate must be the accessor's PEM certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fail(model.CodeInvalidArgument, "certificate is not a valid certificate")
	}
	// The certificate is checked at the time the member signed, which lies within
	// AssertionWindow of the access: a certificate that expired since is no reason to drop
	// the record of an access made while it was valid.
	if err := t.verifyMember(r.Accessor.MSP, cert, a.At); err != nil {
		return "", inReport(i, err)
	}
	id, err := identityFromCert(r.Accessor.MSP, cert)
	if err != nil {
		return "", fail(model.CodeInvalidArgument, "cannot read the certificate's attributes")
	}
	id.role = permittedRole(t.policy, id)
	if id.party() != r.Accessor {
		return "", fail(model.CodeForbidden, "the certificate is not the accessor's")
	}
	if err := a.Covers(r, rec.Owner); err != nil {
		return "", inReport(i, err)
	}
	if err := r.Assertion.VerifySignature(cert); err != nil {
		return "", inReport(i, err)
	}
	// One assertion, one access of each record it covers: a replayed assertion is refused,
	// whether in this batch or an earlier one.
	key := t.key(kindNonce, r.Accessor.ID, a.Nonce, r.RecordID)
	replayed, err := t.exists(key)
	if err != nil {
		return "", err
	}
	if replayed || used[key] {
		return "", fail(model.CodeForbidden, "the member's assertion was already used for record %s (replayed)", r.RecordID)
	}
	used[key] = true
	if err := t.index(key); err != nil {
		return "", err
	}
	return model.AssuranceMemberSigned, nil
}

// inReport prefixes a coded error with the report it is about, keeping its code.
func inReport(i int, err error) error {
	var e *model.Error
	if errors.As(err, &e) {
		return model.Errorf(e.Code, "report %d: %s", i, e.Message)
	}
	return err
}

// refusalToRecord decides whether a reported refused attempt goes into the patient's trail:
// only on a record that exists, only if the ledger, deciding again at that time, refuses it
// for the reason reported, and at most once per model.RefusalWindow for one accessor and one
// patient (the mark is ledger state, so no gateway can lift the bound).
func (t *txn) refusalToRecord(v *view, rec *model.Record, exists bool, r *model.AccessReport, marks map[string]time.Time) (bool, error) {
	if !exists {
		return false, nil
	}
	d, err := v.decide(rec, r.Action, r.Purpose, r.AccessedAt)
	if err != nil || d.Allowed || d.Reason != r.Reason {
		return false, err
	}
	key := t.key(kindRefusal, rec.Owner, r.Accessor.ID)
	last, ok := marks[key]
	if !ok {
		if ok, err = t.get(key, &last); err != nil {
			return false, err
		}
	}
	if ok && r.AccessedAt.Sub(last).Abs() < model.RefusalWindow {
		return false, nil
	}
	if ok && last.After(r.AccessedAt) {
		return true, nil // a late report of an older attempt: the newer mark stays
	}
	marks[key] = r.AccessedAt
	return true, t.put(key, r.AccessedAt)
}

// reportBacked re-decides the reported access at the time it happened and checks that the
// ledger allowed it on the basis, and under the grant, the report names.
func reportBacked(v *view, rec *model.Record, r *model.AccessReport) (bool, error) {
	switch r.Basis {
	case model.BasisOwner, model.BasisResearch:
		d, err := v.decide(rec, r.Action, r.Purpose, r.AccessedAt)
		return d.Allowed && d.Basis == r.Basis, err
	}
	// The named grant, which may have ended since the access: one read, however many grants
	// the pair has had. grantCovers checks that it is the owner's and names the accessor.
	g, err := v.grantNamed(r.GrantID)
	if err != nil || g == nil || g.Emergency != (r.Basis == model.BasisEmergency) || granteeKeys(r.Accessor) == nil {
		return false, err
	}
	erased := v.erased != nil && !r.AccessedAt.Before(v.erased.RequestedAt)
	return !erased && grantCovers(g, rec, r.Accessor, r.Action, r.Purpose) && g.StatusAt(r.AccessedAt) == model.GrantActive, nil
}

// grantNamed reads the grant a report names (nil if there is none), once per view: the
// reports of a batch name the same few grants again and again, and nothing in the batch
// writes them.
func (v *view) grantNamed(id string) (*model.Grant, error) {
	if g, ok := v.named[id]; ok {
		return g, nil
	}
	var g model.Grant
	ok, err := v.t.get(v.t.key(kindGrant, id), &g)
	if err != nil {
		return nil, err
	}
	if v.named == nil {
		v.named = map[string]*model.Grant{}
	}
	v.named[id] = nil
	if ok {
		v.named[id] = &g
	}
	return v.named[id], nil
}

// ListAccessLog returns a patient's audit trail, oldest first: who read or wrote which record
// version, when, on which basis and under which grant. Only the patient and their delegates
// read it. patientID "" means the caller. Evaluate it; do not submit it.
func (c *Contract) ListAccessLog(ctx contractapi.TransactionContextInterface, patientID string, pageSize int, bookmark string) (*model.AccessPage, error) {
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
	out := &model.AccessPage{Entries: []model.AccessEntry{}}
	out.Bookmark, err = t.page(kindAudit, []string{patientID}, bookmark, size, func(key string, value []byte) (bool, error) {
		_, attrs, err := t.stub.SplitCompositeKey(key)
		if err != nil {
			return false, model.Errorf(model.CodeInternal, "split key: %v", err)
		}
		e, err := decodeAuditEntry(attrs, value)
		if err != nil {
			return false, err
		}
		if e.Assurance == "" {
			// Written before assurance was recorded: the gateway's word was all there was.
			e.Assurance = model.AssuranceGatewayAsserted
		}
		out.Entries = append(out.Entries, e)
		return true, nil
	})
	return out, err
}
