package contract_test

import (
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestAuditTrailRecordsBackedAccessesOnceAndOnlyForThePatient(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	doc.mustSubmit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e1", Patient: p.id(), Reason: "life-threatening"}))
	t0 := w.now
	w.advance(time.Minute)

	batch := []model.AccessReport{
		{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", Purpose: "TREAT", AccessedAt: t0.Add(10 * time.Second)},
		{ID: "a2", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisEmergency, GrantID: "e1", AccessedAt: t0.Add(20 * time.Second)},
		{ID: "a3", RecordID: "lab-1", Version: 1, Action: "read", Accessor: p.party(), Basis: model.BasisOwner, AccessedAt: t0.Add(30 * time.Second)},
	}
	// The patient cannot report the clinician's accesses, nor the clinic's gateway the patient's.
	_, err := p.submit("RecordAccesses", js(batch))
	requireCode(t, err, model.CodeForbidden)
	_, err = cs.gateway.submit("RecordAccesses", js(batch))
	requireCode(t, err, model.CodeForbidden)

	res := decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js(batch[:2])))
	require.Equal(t, model.AuditResult{Recorded: 2}, res)
	res = decodeAs[model.AuditResult](t, p.mustSubmit("RecordAccesses", js(batch[2:])))
	require.Equal(t, model.AuditResult{Recorded: 1}, res)

	// A batch replayed after a crash is recorded once.
	res = decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js(append(batch[:2], batch[0]))))
	require.Equal(t, model.AuditResult{Recorded: 0, Duplicates: 3}, res)

	trail := decodeAs[model.AccessPage](t, p.mustEvaluate("ListAccessLog", "", "0", ""))
	require.Len(t, trail.Entries, 3)
	require.Equal(t, []string{"a1", "a2", "a3"}, []string{trail.Entries[0].ID, trail.Entries[1].ID, trail.Entries[2].ID}, "oldest first")
	require.Equal(t, model.BasisEmergency, trail.Entries[1].Basis)
	require.Equal(t, cs.gateway.id(), trail.Entries[0].RecordedBy)
	require.Equal(t, doc.party(), trail.Entries[0].Accessor)

	page := decodeAs[model.AccessPage](t, p.mustEvaluate("ListAccessLog", "", "2", ""))
	require.Len(t, page.Entries, 2)
	page = decodeAs[model.AccessPage](t, p.mustEvaluate("ListAccessLog", "", "2", page.Bookmark))
	require.Len(t, page.Entries, 1)
	require.Empty(t, page.Bookmark)

	for _, m := range []*member{doc, cs.other, cs.manufacturer, cs.admin, cs.gateway, cs.anonymizer} {
		_, err := m.evaluate("ListAccessLog", p.id(), "0", "")
		requireCode(t, err, model.CodeForbidden)
	}
}

func TestAuditReportsNotBackedByTheLedgerAreRefusedWhole(t *testing.T) {
	w, cs := labGrantedImagingNot(t)
	p, doc := cs.patient, cs.clinician
	granted := w.now
	w.advance(time.Hour)
	p.mustSubmit("RevokeGrant", "g1")
	w.advance(time.Hour)

	good := model.AccessReport{ID: "ok", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: granted.Add(time.Minute)}
	cases := map[string]func(r *model.AccessReport){
		"after revocation":     func(r *model.AccessReport) { r.AccessedAt = w.now.Add(-time.Minute) },
		"before the grant":     func(r *model.AccessReport) { r.AccessedAt = granted.Add(-time.Minute) },
		"category not granted": func(r *model.AccessReport) { r.RecordID = "img-1" },
		"action not granted":   func(r *model.AccessReport) { r.Action = "append" },
		"wrong basis":          func(r *model.AccessReport) { r.Basis = model.BasisEmergency },
		"owner basis":          func(r *model.AccessReport) { r.Basis, r.GrantID = model.BasisOwner, "" },
		"unknown grant":        func(r *model.AccessReport) { r.GrantID = "nope" },
		"other accessor":       func(r *model.AccessReport) { r.Accessor = cs.colleague.party() },
		"version not existing": func(r *model.AccessReport) { r.Version = 2 },
		"in the future":        func(r *model.AccessReport) { r.AccessedAt = w.now.Add(time.Hour) },
		"too old":              func(r *model.AccessReport) { r.AccessedAt = w.now.Add(-31 * 24 * time.Hour) },
		"grant id w/o grant":   func(r *model.AccessReport) { r.Basis = model.BasisResearch },
		"bad purpose":          func(r *model.AccessReport) { r.Purpose = "curiosity" },
		"unknown record":       func(r *model.AccessReport) { r.RecordID = "missing" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			bad := good
			bad.ID = "bad"
			mutate(&bad)
			before := w.ledger.Snapshot()
			_, err := cs.gateway.submit("RecordAccesses", js([]model.AccessReport{good, bad}))
			require.Error(t, err)
			require.Equal(t, before, w.ledger.Snapshot(), "a refused batch writes nothing")
		})
	}
	res := decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{good})))
	require.Equal(t, 1, res.Recorded, "an access made while the grant was in force is recorded after its revocation")

	_, err := cs.gateway.submit("RecordAccesses", "[]")
	requireCode(t, err, model.CodeInvalidArgument)
	big := make([]model.AccessReport, 501)
	for i := range big {
		big[i] = good
	}
	_, err = cs.gateway.submit("RecordAccesses", js(big))
	requireCode(t, err, model.CodeInvalidArgument)
}

// TestRefusedAttemptsReachThePatientsTrailBounded: a refused attempt the ledger would also
// refuse is recorded with its reason; one on a record that does not exist, one the ledger
// would allow, and a second one by the same accessor on the same patient within
// model.RefusalWindow are skipped without failing the reads in the same batch. A batch reads
// each record once, and a record that does not exist stays one when named again.
func TestRefusedAttemptsReachThePatientsTrailBounded(t *testing.T) {
	w, cs := labGrantedImagingNot(t)
	p, doc := cs.patient, cs.clinician
	t0 := w.now
	w.advance(time.Minute)
	refused := func(id, record string, at time.Time, reason string) model.AccessReport {
		return model.AccessReport{ID: id, RecordID: record, Action: "read", Accessor: doc.party(), Basis: model.BasisRefused, Reason: reason, AccessedAt: at}
	}
	batch := []model.AccessReport{
		{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", Purpose: "TREAT", AccessedAt: t0.Add(10 * time.Second)},
		refused("r1", "img-1", t0.Add(20*time.Second), model.DenyNoGrant),
		refused("r2", "img-1", t0.Add(30*time.Second), model.DenyNoGrant),      // within the window
		refused("r3", "nope", t0.Add(40*time.Second), model.DenyNoGrant),       // no such record
		refused("r3b", "nope", t0.Add(45*time.Second), model.DenyNoGrant),      // still none (from the batch's record cache)
		refused("r4", "lab-1", t0.Add(50*time.Second), model.DenyNoGrant),      // the ledger allows it
		refused("r5", "img-1", t0.Add(55*time.Second), model.DenyGrantExpired), // not that reason
	}
	res := decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js(batch)))
	require.Equal(t, model.AuditResult{Recorded: 2, Skipped: 5}, res)
	w.advance(model.RefusalWindow)
	res = decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{
		refused("r6", "img-1", t0.Add(30*time.Second), model.DenyNoGrant),                  // still within the window of r1
		refused("r7", "img-1", t0.Add(model.RefusalWindow+time.Minute), model.DenyNoGrant), // a new window
	})))
	require.Equal(t, model.AuditResult{Recorded: 1, Skipped: 1}, res)

	trail := decodeAs[model.AccessPage](t, p.mustEvaluate("ListAccessLog", "", "0", ""))
	require.Len(t, trail.Entries, 3)
	require.Equal(t, model.BasisRefused, trail.Entries[1].Basis)
	require.Equal(t, model.DenyNoGrant, trail.Entries[1].Reason)
	require.Equal(t, "img-1", trail.Entries[1].RecordID)
	require.Zero(t, trail.Entries[1].Version)

	for name, r := range map[string]model.AccessReport{
		"no reason":        {ID: "b1", RecordID: "img-1", Action: "read", Accessor: doc.party(), Basis: model.BasisRefused, AccessedAt: w.now},
		"reason on a read": {ID: "b2", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", Reason: model.DenyNoGrant, AccessedAt: w.now},
		"erased reason":    refused("b3", "img-1", w.now, model.DenyErased),
		"version 0 read":   {ID: "b4", RecordID: "lab-1", Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: w.now},
	} {
		_, err := cs.gateway.submit("RecordAccesses", js([]model.AccessReport{r}))
		requireCode(t, err, model.CodeInvalidArgument)
		_ = name
	}
}

// labGrantedImagingNot is a patient with a lab record and an imaging record who granted the
// clinician read access to lab results (grant g1).
func labGrantedImagingNot(t *testing.T) (*world, cast) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "img-1", p.id(), "imaging")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	return w, cs
}
