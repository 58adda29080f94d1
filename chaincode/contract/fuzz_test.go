package contract_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// FuzzTransactionArguments feeds arbitrary arguments to every transaction that parses JSON.
// Whatever the input, the contract must answer with a CareLedger error or a success, never
// panic, and a failed call must leave the ledger as it was.
func FuzzTransactionArguments(f *testing.F) {
	fns := []string{"RegisterRecord", "AppendVersion", "Grant", "OpenEmergencyAccess", "RecordAccesses", "SetResearchConsent", "PublishCohort", "AddDelegate", "SetRolePolicy", "RevokeGrant", "CheckAccess", "GetRecord"}
	w := newWorld(f)
	cs := newCast(w)
	callers := []*member{cs.patient, cs.clinician, cs.anonymizer, cs.admin, cs.gateway}
	cs.admin.mustSubmit("SetRolePolicy", js(standardPolicy))
	r1 := w.registerRecord(cs.patient, "r1", cs.patient.id(), "lab")
	// The clinician's grant on r1 has expired, so their reads and writes of it meet
	// GRANT_EXPIRED.
	w.grant(cs.patient, model.GrantRequest{ID: "g-expired", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: ptr(w.now.Add(time.Hour))})
	w.advance(2 * time.Hour)
	for _, seed := range []string{
		`{"id":"r1","owner":"00000000000000000000000000000000","category":"lab","hash":"` + hashOf(1) + `","locator":"blob:r1"}`,
		`{"id":"g1","grantee":{"id":"00000000000000000000000000000001"},"actions":["read"],"categories":["lab"],"purpose":"TREAT"}`,
		`[{"id":"a","recordId":"r1","version":1,"action":"read","accessor":{"msp":"M","id":"00000000000000000000000000000000","role":"patient"},"basis":"owner","accessedAt":"2026-03-02T09:00:00Z"}]`,
		`{"optIn":true,"purposes":["drug-safety"]}`, `{"rules":[]}`, `null`, `[]`, `{"id":"\u0000"}`, "\xff",
	} {
		f.Add(uint8(0), seed)
	}
	// Grants that can never work, each refused (which=2: Grant by the patient).
	grant := `{"id":"g9","grantee":%s,"actions":["read"],"categories":["lab"],"purpose":"TREAT"%s}`
	for _, seed := range []string{
		fmt.Sprintf(grant, `{"msp":"PharmaMSP"}`, ""),
		fmt.Sprintf(grant, `{"id":"`+cs.admin.id()+`"}`, ""),
		fmt.Sprintf(grant, `{"id":"`+cs.clinician.id()+`"}`, `,"validFrom":"1969-07-20T20:17:00Z"`),
		fmt.Sprintf(grant, `{"id":"`+cs.clinician.id()+`","id":"`+cs.colleague.id()+`"}`, ""),
		fmt.Sprintf(grant, `{"id":"`+cs.clinician.id()+`"}`, `,"purpose":"PUBHLTH"`),
	} {
		f.Add(uint8(2), seed)
	}
	// Break-glass access to a patient the ledger does not know (which=19: by the clinician).
	f.Add(uint8(19), `{"id":"e9","patient":"0123456789abcdef0123456789abcdef","reason":"life-threatening"}`)
	// The expired grant (which=17: AppendVersion, 27: GetRecord, by the clinician), and a
	// record that does not exist.
	f.Add(uint8(17), `{"recordId":"r1","prevHash":"`+r1.LatestHash+`","hash":"`+hashOf(99)+`","locator":"blob:x"}`)
	f.Add(uint8(27), "r1")
	f.Add(uint8(27), "no-such-record")
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
