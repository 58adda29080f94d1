package contract_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/internal/memstub"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// FuzzTransactionArguments feeds arbitrary arguments to every transaction that parses JSON.
// Whatever the input, the contract must answer with a CareLedger error or a success, never
// panic, and a failed call must leave the ledger as it was.
func FuzzTransactionArguments(f *testing.F) {
	fns := []string{"RegisterRecord", "RegisterRecords", "AppendVersion", "Grant", "OpenEmergencyAccess", "RecordAccesses", "SetResearchConsent", "PublishCohort", "AddDelegate", "SetRolePolicy", "SetOrgCACertificates", "RevokeGrant", "CheckAccess", "GetRecord", "SetPrivacyBudget", "RecordFeasibility", "AuthorizeRead"}
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
		`[{"id":"a","recordId":"r1","version":1,"action":"read","accessor":{"msp":"M","id":"00000000000000000000000000000000","role":"patient"},"basis":"owner","accessedAt":"2026-03-02T09:00:00Z","assertion":{"nonce":"0123456789abcdef","recordId":"r1","action":"read","at":"2026-03-02T09:00:00Z","signature":"MAYCAQECAQE="},"certificate":"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"}]`,
		`{"optIn":true,"purposes":["drug-safety"]}`, `{"rules":[]}`, `{"roots":["-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"]}`,
		`{"msp":"PharmaMSP","purpose":"drug-safety","epsilon":1,"maxQueries":10}`,
		`{"id":"q1","requester":{"msp":"PharmaMSP","id":"00000000000000000000000000000002","role":"manufacturer"},"purpose":"drug-safety","queryHash":"` + hashOf(1) + `","consentSnapshotHash":"` + hashOf(2) + `","count":30,"rounding":10,"threshold":20,"epsilon":0.5}`, `null`, `[]`, `{"id":"\u0000"}`, "\xff",
		`[{"id":"r2","owner":"00000000000000000000000000000000","category":"lab","hash":"` + hashOf(2) + `","locator":"blob:r2"}]`,
	} {
		f.Add(uint8(0), seed)
	}
	// Grants that can never work, each refused (Grant by the patient).
	grant := `{"id":"g9","grantee":%s,"actions":["read"],"categories":["lab"],"purpose":"TREAT"%s}`
	for _, seed := range []string{
		fmt.Sprintf(grant, `{"msp":"PharmaMSP"}`, ""),
		fmt.Sprintf(grant, `{"id":"`+cs.admin.id()+`"}`, ""),
		fmt.Sprintf(grant, `{"id":"`+cs.clinician.id()+`"}`, `,"validFrom":"1969-07-20T20:17:00Z"`),
		fmt.Sprintf(grant, `{"id":"`+cs.clinician.id()+`","id":"`+cs.colleague.id()+`"}`, ""),
		fmt.Sprintf(grant, `{"id":"`+cs.clinician.id()+`"}`, `,"purpose":"PUBHLTH"`),
	} {
		f.Add(pick(fns, "Grant", 0), seed)
	}
	// Break-glass access to a patient the ledger does not know (by the clinician).
	f.Add(pick(fns, "OpenEmergencyAccess", 1), `{"id":"e9","patient":"0123456789abcdef0123456789abcdef","reason":"life-threatening"}`)
	// The expired grant (AppendVersion and GetRecord by the clinician), and a
	// record that does not exist.
	f.Add(pick(fns, "AppendVersion", 1), `{"recordId":"r1","prevHash":"`+r1.LatestHash+`","hash":"`+hashOf(99)+`","locator":"blob:x"}`)
	f.Add(pick(fns, "GetRecord", 1), "r1")
	f.Add(pick(fns, "GetRecord", 1), "no-such-record")
	// One read authorised and its version returned in one call, by the clinician whose grant
	// expired, the patient, and for a record that does not exist.
	f.Add(pick(fns, "AuthorizeRead", 1), "r1")
	f.Add(pick(fns, "AuthorizeRead", 0), "r1")
	f.Add(pick(fns, "AuthorizeRead", 0), "no-such-record")
	f.Fuzz(func(t *testing.T, which uint8, arg string) {
		fn := fns[int(which)%len(fns)]
		caller := callers[int(which/16)%len(callers)]
		args := []string{arg}
		switch fn {
		case "CheckAccess":
			args = []string{arg, "read", ""}
		case "AuthorizeRead":
			args = []string{arg, "0", ""}
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

// FuzzActorCertificate feeds arbitrary bytes to the gateway's transient actor certificate.
// Whatever they are, the contract must refuse with a CareLedger error unless they are a
// certificate from the organisation's CA, never panic, and write nothing.
func FuzzActorCertificate(f *testing.F) {
	w := newWorld(f)
	cs := newCast(w)
	w.registerRecord(cs.patient, "r1", cs.patient.id(), "lab")
	rogue, err := memstub.NewCA()
	require.NoError(f, err)
	forged, err := rogue.Issue("ClinicMSP", "forged", map[string]string{"role": "clinician"}, w.now.Add(-time.Hour), w.now.Add(time.Hour))
	require.NoError(f, err)
	for _, seed := range [][]byte{cs.clinician.ident.CertPEM, forged.CertPEM, []byte(w.ca("ClinicMSP").CertPEM()), nil, []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"), cs.clinician.ident.CertPEM[:200]} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, actor []byte) {
		gw := *cs.gateway
		gw.transient = map[string][]byte{model.ActorTransientKey: actor}
		before := w.ledger.Snapshot()
		who, err := gw.submit("WhoAmI")
		if err != nil {
			_, coded := model.ParseError(err.Error())
			require.True(t, coded, "uncoded error: %v", err)
		} else {
			require.Equal(t, "ClinicMSP", decodeAs[model.Caller](t, who).MSP)
		}
		_, err = gw.submit("RegisterRecord", `{"id":"fz","owner":"`+cs.patient.id()+`","category":"lab","hash":"`+hashOf(77)+`","locator":"blob:fz"}`)
		if err != nil {
			require.Equal(t, before, w.ledger.Snapshot())
		}
	})
}

// pick returns the fuzz selector that runs fn as callers[caller] in FuzzTransactionArguments.
func pick(fns []string, fn string, caller int) uint8 {
	for w := 0; w < 256; w++ {
		if fns[w%len(fns)] == fn && (w/16)%5 == caller {
			return uint8(w)
		}
	}
	panic("no fuzz selector for " + fn)
}
