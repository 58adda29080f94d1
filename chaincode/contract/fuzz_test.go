package contract_test

import (
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// FuzzTransactionArguments feeds arbitrary arguments to every transaction that parses JSON.
// Whatever the input, the contract must answer with a CareLedger error or a success, never
// panic, and a failed call must leave the ledger as it was.
func FuzzTransactionArguments(f *testing.F) {
	for _, seed := range []string{
		`{"id":"r1","owner":"00000000000000000000000000000000","category":"lab","hash":"` + hashOf(1) + `","locator":"blob:r1"}`,
		`{"id":"g1","grantee":{"id":"00000000000000000000000000000001"},"actions":["read"],"categories":["lab"],"purpose":"TREAT"}`,
		`[{"id":"a","recordId":"r1","version":1,"action":"read","accessor":{"msp":"M","id":"00000000000000000000000000000000","role":"patient"},"basis":"owner","accessedAt":"2026-03-02T09:00:00Z"}]`,
		`[{"id":"r2","owner":"00000000000000000000000000000000","category":"lab","hash":"` + hashOf(2) + `","locator":"blob:r2"}]`,
		`{"optIn":true,"purposes":["drug-safety"]}`, `{"rules":[]}`, `null`, `[]`, `{"id":"\u0000"}`, "\xff",
	} {
		f.Add(uint8(0), seed)
	}
	fns := []string{"RegisterRecord", "RegisterRecords", "AppendVersion", "Grant", "OpenEmergencyAccess", "RecordAccesses", "SetResearchConsent", "PublishCohort", "AddDelegate", "SetRolePolicy", "RevokeGrant", "CheckAccess", "GetRecord"}
	w := newWorld(f)
	cs := newCast(w)
	callers := []*member{cs.patient, cs.clinician, cs.anonymizer, cs.admin, cs.gateway}
	w.registerRecord(cs.patient, "r1", cs.patient.id(), "lab")
	f.Fuzz(func(t *testing.T, which uint8, arg string) {
		fn := fns[int(which)%len(fns)]
		caller := callers[int(which/16)%len(callers)]
		args := []string{arg}
		if fn == "CheckAccess" {
			args = []string{arg, "read", ""}
		}
		before := w.ledger.Snapshot()
		_, err := caller.submit(fn, args...)
		if err != nil {
			_, coded := model.ParseError(err.Error())
			require.True(t, coded, "uncoded error from %s: %v", fn, err)
			require.Equal(t, before, w.ledger.Snapshot())
		}
	})
}
