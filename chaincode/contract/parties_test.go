package contract_test

import (
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestGrantsAreRefusedToRolesThatNeverReadRecords: once a member with a role that grants never
// reach has changed the ledger, grants to their pseudonym are refused; members the ledger has
// not seen, and patients and clinicians, can still be granted.
func TestGrantsAreRefusedToRolesThatNeverReadRecords(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	w.registerRecord(p, "lab-1", p.id(), "lab")
	grant := func(id, to string) error {
		_, err := p.submit("Grant", js(model.GrantRequest{ID: id, Grantee: model.Grantee{ID: to}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}))
		return err
	}

	// Not seen yet: nothing can be known.
	require.NoError(t, grant("g-anon-early", cs.anonymizer.id()))
	require.NoError(t, grant("g-gw-early", cs.gateway.id()))

	cs.anonymizer.mustSubmit("PublishCohort", js(validPublication("c1")))
	w.grant(p, model.GrantRequest{ID: "g-doc", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: cs.clinician.party(), Basis: model.BasisGrant, GrantID: "g-doc", AccessedAt: w.now}}))
	cs.admin.mustSubmit("SetRolePolicy", js(standardPolicy))
	for _, m := range []*member{cs.anonymizer, cs.gateway, cs.admin} {
		err := grant("g-late", m.id())
		requireCode(t, err, model.CodeInvalidArgument)
		require.Contains(t, err.Error(), "never reads records")
	}

	// The known limit: a manufacturer only reads, so the ledger never learns its pseudonym.
	_, err := cs.manufacturer.submit("ListCohorts", "0", "")
	require.NoError(t, err)
	require.NoError(t, grant("g-maker", cs.manufacturer.id()))

	// Patients and clinicians the ledger has seen can be granted.
	cs.clinician.through(cs.gateway).mustSubmit("RecordAccesses", js([]model.AccessReport{{ID: "a2", RecordID: "lab-1", Version: 1, Action: "read", Accessor: cs.clinician.party(), Basis: model.BasisGrant, GrantID: "g-doc", AccessedAt: w.now}}))
	require.NoError(t, grant("g-doc-2", cs.clinician.id()))
	cs.other.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}}))
	require.NoError(t, grant("g-relative", cs.other.id()))
}

// TestBreakGlassNeedsAPatientTheLedgerKnows: a patient is known by their registration, or, on a
// ledger written before the registry, by a record or a grant of theirs.
func TestBreakGlassNeedsAPatientTheLedgerKnows(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	doc := cs.clinician
	open := func(id string, patient *member) error {
		_, err := doc.submit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: id, Patient: patient.id(), Reason: "life-threatening"}))
		return err
	}
	requireCode(t, open("e0", cs.patient), model.CodeNotFound)

	// Registered by a transaction that changed nothing of records or grants.
	cs.patient.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}}))
	require.NoError(t, open("e1", cs.patient))

	// A clinician's pseudonym is not a patient's.
	cs.colleague.mustSubmit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e2", Patient: cs.patient.id(), Reason: "life-threatening"}))
	requireCode(t, open("e3", cs.colleague), model.CodeNotFound)

	// Without the registry (an older ledger), records and grants still make a patient known.
	w.registerRecord(cs.other, "lab-9", cs.other.id(), "lab")
	old := map[string][]byte{}
	for k, v := range w.ledger.Snapshot() {
		if !strings.HasPrefix(k, "\x00cl.party\x00") {
			old[k] = v
		}
	}
	w.ledger.Restore(old)
	require.NoError(t, open("e4", cs.other))
	require.NoError(t, open("e5", cs.patient), "known by the emergency grant e1 on their records")
	stranger := w.join("PatientsMSP", model.RolePatient)
	requireCode(t, open("e6", stranger), model.CodeNotFound)
}
