package contract_test

import (
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestRegisterRecordsIsAllOrNothing(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	rec := func(id string, n int, category string) model.NewRecord {
		return model.NewRecord{ID: id, Owner: p.id(), Category: category, Hash: hashOf(n), Locator: "blob:" + id}
	}

	out := p.mustSubmit("RegisterRecords", js([]model.NewRecord{rec("b-1", 1, "lab"), rec("b-2", 2, "diagnosis"), rec("b-3", 3, "note")}))
	got := decodeAs[[]model.Record](t, out)
	require.Len(t, got, 3)
	for i, r := range got {
		require.Equal(t, 1, r.Versions, "record %d", i)
		require.Equal(t, p.id(), r.Owner)
	}
	page := decodeAs[model.RecordPage](t, p.mustEvaluate("ListPatientRecords", p.id(), "", "0", ""))
	require.Len(t, page.Records, 3)
	events := w.ledger.Events()
	require.Equal(t, model.EventRecordsRegistered, events[len(events)-1].Name)

	// A clinician with append on lab only: the lab record alone would pass, the batch does not.
	w.grant(p, model.GrantRequest{ID: "g-append", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	before := w.ledger.Snapshot()
	_, err := cs.clinician.submit("RegisterRecords", js([]model.NewRecord{rec("c-1", 11, "lab"), rec("c-2", 12, "diagnosis")}))
	requireCode(t, err, model.CodeForbidden)
	require.Contains(t, err.Error(), "records[1]")
	require.Equal(t, before, w.ledger.Snapshot(), "nothing of a refused batch is registered")

	cs.clinician.mustSubmit("RegisterRecords", js([]model.NewRecord{rec("c-1", 11, "lab"), rec("c-3", 13, "lab")}))
	rec1 := decodeAs[model.Record](t, p.mustEvaluate("GetRecord", "c-1"))
	require.Equal(t, cs.clinician.id(), rec1.CreatedBy.ID)
}
