package contract_test

import (
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/internal/memstub"

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
		`[{"id":"a","recordId":"r1","version":1,"action":"read","accessor":{"msp":"M","id":"00000000000000000000000000000000","role":"patient"},"basis":"owner","accessedAt":"2026-03-02T09:00:00Z","assertion":{"nonce":"0123456789abcdef","recordId":"r1","action":"read","at":"2026-03-02T09:00:00Z","signature":"MAYCAQECAQE="},"certificate":"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"}]`,
		`{"optIn":true,"purposes":["drug-safety"]}`, `{"rules":[]}`, `{"roots":["-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n"]}`, `null`, `[]`, `{"id":"\u0000"}`, "\xff",
	} {
		f.Add(uint8(0), seed)
	}
	fns := []string{"RegisterRecord", "AppendVersion", "Grant", "OpenEmergencyAccess", "RecordAccesses", "SetResearchConsent", "PublishCohort", "AddDelegate", "SetRolePolicy", "SetOrgCACertificates", "RevokeGrant", "CheckAccess", "GetRecord"}
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
		gw.transient = map[string][]byte{contract.ActorTransientKey: actor}
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
