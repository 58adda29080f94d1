package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestNoExistenceOracle: for every caller who may not see a record, another patient's record
// and an ID that names no record get the same answer on every path that takes a record ID:
// the same code, the same message but for the ID, and, for callers the owner never granted
// anything, the same reads of the ledger (what the answer's time follows).
func TestNoExistenceOracle(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	lab := w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "note-1", p.id(), "note")
	// A clinician who held a lab grant that ended before the second lab record existed.
	former := w.join("ClinicMSP", model.RoleClinician)
	w.grant(p, model.GrantRequest{ID: "g-former", Grantee: model.Grantee{ID: former.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: ptr(w.now.Add(time.Hour))})
	// A clinician who may read notes only.
	notes := w.join("ClinicMSP", model.RoleClinician)
	w.grant(p, model.GrantRequest{ID: "g-notes", Grantee: model.Grantee{ID: notes.id()}, Actions: []string{"read", "append"}, Categories: []string{"note"}, Purpose: "TREAT"})
	w.advance(2 * time.Hour)
	w.registerRecord(p, "lab-2", p.id(), "lab")
	// An erased patient's record.
	gone := w.join("PatientsMSP", model.RolePatient)
	w.registerRecord(gone, "gon-1", gone.id(), "lab")
	gone.mustSubmit("RequestErasure")

	type caller struct {
		name     string
		m        *member
		noGrants bool // the owner never granted them anything
	}
	callers := []caller{
		{"other patient", cs.other, true}, {"clinician", cs.clinician, true}, {"manufacturer", cs.manufacturer, true},
		{"anonymiser", cs.anonymizer, true}, {"admin", cs.admin, true}, {"gateway", cs.gateway, true}, {"no role", cs.noRole, true},
		{"clinician through gateway", cs.clinician.through(cs.gateway), true},
		{"former grantee", former, false}, {"notes grantee", notes, false},
	}
	// Each path, given a record ID; all refuse, so nothing is committed.
	paths := map[string]func(m *member, id string) []string{
		"CheckAccess":      func(_ *member, id string) []string { return []string{"CheckAccess", id, "read", ""} },
		"AuthorizeRead":    func(_ *member, id string) []string { return []string{"AuthorizeRead", id, "0", ""} },
		"GetRecord":        func(_ *member, id string) []string { return []string{"GetRecord", id} },
		"GetRecordHistory": func(_ *member, id string) []string { return []string{"GetRecordHistory", id} },
		"VerifyRecordHash": func(_ *member, id string) []string { return []string{"VerifyRecordHash", id, lab.LatestHash} },
		"AppendVersion": func(_ *member, id string) []string {
			return []string{"AppendVersion", js(model.NewVersion{RecordID: id, PrevHash: lab.LatestHash, Hash: hashOf(700), Locator: "blob:x"})}
		},
		"RecordAccesses": func(m *member, id string) []string {
			who := m.party()
			if m.gateway != nil {
				who = cs.clinician.party()
			}
			if who.Role == "" {
				who.Role = model.RoleClinician
			}
			return []string{"RecordAccesses", js([]model.AccessReport{{ID: "a-probe", RecordID: id, Version: 1, Action: "read", Accessor: who, Basis: model.BasisGrant, GrantID: "g-former", AccessedAt: w.now}})}
		},
	}
	answer := func(m *member, args []string, id string) (string, int) {
		_, res, err := m.call(true, args[0], args[1:]...)
		var out string
		if err != nil {
			out = "error " + err.Error()
		} else {
			payload := string(res.Response.GetPayload())
			d := decodeAs[model.Decision](t, payload)
			if args[0] == "AuthorizeRead" {
				a := decodeAs[model.ReadAuthorization](t, payload)
				require.Nil(t, a.Record, "a refusal carries no record")
				require.Nil(t, a.Version, "a refusal carries no version")
				d = a.Decision
			}
			require.False(t, d.Allowed)
			d.RecordID = ""
			out = js(d)
		}
		return strings.ReplaceAll(out, id, "{id}"), res.Reads
	}
	for _, c := range callers {
		for name, path := range paths {
			for _, real := range []string{"lab-2", "gon-1"} {
				t.Run(c.name+"/"+name+"/"+real, func(t *testing.T) {
					before := w.ledger.Snapshot()
					got, gotReads := answer(c.m, path(c.m, real), real)
					want, wantReads := answer(c.m, path(c.m, "nop-1"), "nop-1")
					require.Equal(t, want, got)
					if c.noGrants {
						require.Equal(t, wantReads, gotReads, "reads of the ledger")
					}
					require.Equal(t, before, w.ledger.Snapshot())
				})
			}
		}
	}

	// Granting by record: another patient's record and a made-up one are both not the
	// granting patient's.
	var reads []int
	for _, id := range []string{"lab-2", "nop-1"} {
		_, res, err := cs.other.call(true, "Grant", js(model.GrantRequest{ID: "g-probe", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, RecordIDs: []string{id}, Purpose: "TREAT"}))
		requireCode(t, err, model.CodeInvalidArgument)
		require.Equal(t, "INVALID_ARGUMENT: recordIds: {id} is not one of the patient's records", strings.ReplaceAll(err.Error(), id, "{id}"))
		reads = append(reads, res.Reads)
	}
	require.Equal(t, reads[0], reads[1], "reads of the ledger")
}
