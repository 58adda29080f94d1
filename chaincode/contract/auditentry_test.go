package contract_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// auditFixture records two accesses to a patient's record through the clinic's gateway and
// returns what the audit trail must list for them, and the transaction's writes.
func auditFixture(t *testing.T) (*world, cast, []model.AccessEntry, map[string][]byte) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	t0 := w.now
	w.advance(time.Minute)
	batch := []model.AccessReport{
		{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", Purpose: "TREAT", AccessedAt: t0.Add(10*time.Second + 123456789)},
		{ID: "a2", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: t0.Add(20 * time.Second)},
	}
	_, res, err := cs.gateway.call(true, "RecordAccesses", js(batch))
	require.NoError(t, err)
	var want []model.AccessEntry
	for _, r := range batch {
		want = append(want, model.AccessEntry{ID: r.ID, RecordID: r.RecordID, Version: r.Version, Owner: p.id(), Action: r.Action,
			Accessor: r.Accessor, Basis: r.Basis, GrantID: r.GrantID, Purpose: r.Purpose, AccessedAt: r.AccessedAt.UTC(),
			RecordedBy: cs.gateway.id(), TxID: res.TxID, Assurance: model.AssuranceGatewayAsserted})
	}
	return w, cs, want, res.Writes
}

func auditWrites(writes map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range writes {
		if strings.HasPrefix(k, "\x00cl.audit\x00") {
			out[k] = v
		}
	}
	return out
}

func TestAuditEntriesAreStoredWithoutWhatTheirKeySays(t *testing.T) {
	_, cs, want, writes := auditFixture(t)
	stored := auditWrites(writes)
	require.Len(t, stored, 2)
	for _, v := range stored {
		// The object form of the same entry is what every audited read wrote before.
		old, err := json.Marshal(want[0])
		require.NoError(t, err)
		require.Less(t, len(v)*10, len(old)*6, "stored %d bytes, the object form %d: %s", len(v), len(old), v)
		require.NotContains(t, string(v), cs.patient.id(), "the patient is in the key")
	}
	trail := decodeAs[model.AccessPage](t, cs.patient.mustEvaluate("ListAccessLog", "", "0", ""))
	require.Equal(t, want, trail.Entries)
}

func TestAuditTrailListsEntriesStoredBeforeTheCompactForm(t *testing.T) {
	w, cs, want, writes := auditFixture(t)
	// Rewrite the first entry as ledgers written before the compact form hold it.
	state := w.ledger.Snapshot()
	for k := range auditWrites(writes) {
		if strings.HasSuffix(k, "\x00a1\x00") {
			old, err := json.Marshal(want[0])
			require.NoError(t, err)
			state[k] = old
		}
	}
	w.ledger.Restore(state)
	trail := decodeAs[model.AccessPage](t, cs.patient.mustEvaluate("ListAccessLog", "", "0", ""))
	require.Equal(t, want, trail.Entries)
}
