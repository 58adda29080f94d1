package contract_test

import (
	"crypto/ecdsa"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/internal/memstub"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// signs returns the member's assertion for an access, signed with key (the member's own
// unless a test forges it).
func signs(t testing.TB, key *ecdsa.PrivateKey, a model.AccessAssertion) *model.SignedAssertion {
	t.Helper()
	sa, err := model.SignAssertion(key, a)
	require.NoError(t, err)
	return sa
}

// assertionWorld: a clinician granted read on the patient's lab records, two lab records.
func assertionWorld(t *testing.T) (*world, cast, model.AccessReport, model.AccessAssertion) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "lab-2", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	w.advance(time.Minute)
	report := model.AccessReport{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", Purpose: "TREAT", AccessedAt: w.now.Add(-10 * time.Second), Certificate: string(doc.ident.CertPEM)}
	a := model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: "lab-1", Action: "read", Purpose: "TREAT", At: w.now.Add(-12 * time.Second)}
	return w, cs, report, a
}

func TestMemberSignedAndGatewayAssertedAccessesAreMarkedSoInTheTrail(t *testing.T) {
	w, cs, signed, a := assertionWorld(t)
	doc := cs.clinician
	signed.Assertion = signs(t, doc.ident.Key, a)
	asserted := model.AccessReport{ID: "a2", RecordID: "lab-2", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: w.now}
	// A history read: one assertion names the patient and covers each of their records.
	history := model.AccessAssertion{Nonce: model.NewAssertionNonce(), Patient: cs.patient.id(), Action: "read", At: w.now}
	h1 := model.AccessReport{ID: "h1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: w.now, Certificate: string(doc.ident.CertPEM), Assertion: signs(t, doc.ident.Key, history)}
	h2 := h1
	h2.ID, h2.RecordID = "h2", "lab-2"

	res := decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{signed, asserted, h1, h2})))
	require.Equal(t, 4, res.Recorded)
	// The patient's own report, in the patient's own transaction, is signed by the patient.
	cs.patient.mustSubmit("RecordAccesses", js([]model.AccessReport{{ID: "own", RecordID: "lab-1", Version: 1, Action: "read", Accessor: cs.patient.party(), Basis: model.BasisOwner, AccessedAt: w.now}}))

	trail := decodeAs[model.AccessPage](t, cs.patient.mustEvaluate("ListAccessLog", "", "0", ""))
	got := map[string]string{}
	for _, e := range trail.Entries {
		got[e.ID] = e.Assurance
	}
	require.Equal(t, map[string]string{
		"a1": model.AssuranceMemberSigned, "a2": model.AssuranceGatewayAsserted,
		"h1": model.AssuranceMemberSigned, "h2": model.AssuranceMemberSigned, "own": model.AssuranceMemberSigned,
	}, got)

	// The same batch again (a crash replay) is skipped, not refused as a replayed assertion.
	res = decodeAs[model.AuditResult](t, cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{signed})))
	require.Equal(t, model.AuditResult{Duplicates: 1}, res)
}

func TestForgedMismatchedOrReplayedAssertionsAreRefusedAndChangeNothing(t *testing.T) {
	w, cs, good, a := assertionWorld(t)
	doc := cs.clinician
	cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{withAssertion(good, signs(t, doc.ident.Key, a))}))
	rogueCA, err := memstub.NewCA()
	require.NoError(t, err)
	rogue, err := rogueCA.Issue("ClinicMSP", doc.enrollID, map[string]string{"role": "clinician"}, w.now.Add(-time.Hour), w.now.Add(time.Hour))
	require.NoError(t, err)
	fresh := func(mut func(*model.AccessAssertion)) model.AccessAssertion {
		b := a
		b.Nonce = model.NewAssertionNonce()
		mut(&b)
		return b
	}
	same := func(*model.AccessAssertion) {}

	cases := []struct {
		name   string
		report func(r model.AccessReport) model.AccessReport
		code   model.Code
		says   string
	}{
		{"replayed for the same record", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, a))
		}, model.CodeForbidden, "replayed"},
		{"another record", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.RecordID = "lab-2" })))
		}, model.CodeForbidden, "another record"},
		{"another patient", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.RecordID, b.Patient = "", cs.other.id() })))
		}, model.CodeForbidden, "another record"},
		{"another action", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.Action = "append" })))
		}, model.CodeForbidden, "another action"},
		{"another purpose", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.Purpose = "CAREMGT" })))
		}, model.CodeForbidden, "another purpose"},
		{"signed too early", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.At = r.AccessedAt.Add(-6 * time.Minute) })))
		}, model.CodeForbidden, "more than"},
		{"signed after", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.At = r.AccessedAt.Add(6 * time.Minute) })))
		}, model.CodeForbidden, "more than"},
		{"signed by a colleague", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, cs.colleague.ident.Key, fresh(same)))
		}, model.CodeForbidden, "does not verify"},
		{"altered after signing", func(r model.AccessReport) model.AccessReport {
			sa := signs(t, doc.ident.Key, fresh(same))
			sa.Nonce = model.NewAssertionNonce()
			return withAssertion(r, sa)
		}, model.CodeForbidden, "does not verify"},
		{"high S", func(r model.AccessReport) model.AccessReport {
			sa := signs(t, doc.ident.Key, fresh(same))
			sa.Signature = highS(t, sa.Signature)
			return withAssertion(r, sa)
		}, model.CodeForbidden, "low-S"},
		{"the colleague's certificate", func(r model.AccessReport) model.AccessReport {
			r = withAssertion(r, signs(t, cs.colleague.ident.Key, fresh(same)))
			r.Certificate = string(cs.colleague.ident.CertPEM)
			return r
		}, model.CodeForbidden, "not the accessor's"},
		{"certificate from a self-made CA", func(r model.AccessReport) model.AccessReport {
			r = withAssertion(r, signs(t, rogue.Key, fresh(same)))
			r.Certificate = string(rogue.CertPEM)
			return r
		}, model.CodeUnauthenticated, "does not chain"},
		{"no certificate", func(r model.AccessReport) model.AccessReport {
			r = withAssertion(r, signs(t, doc.ident.Key, fresh(same)))
			r.Certificate = ""
			return r
		}, model.CodeInvalidArgument, "certificate"},
		{"certificate without assertion", func(r model.AccessReport) model.AccessReport { return r }, model.CodeInvalidArgument, "only with an assertion"},
		{"bad nonce", func(r model.AccessReport) model.AccessReport {
			return withAssertion(r, signs(t, doc.ident.Key, fresh(func(b *model.AccessAssertion) { b.Nonce = "short" })))
		}, model.CodeInvalidArgument, "nonce"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := tc.report(good)
			bad.ID = "bad"
			before, events := w.ledger.Snapshot(), len(w.ledger.Events())
			_, err := cs.gateway.submit("RecordAccesses", js([]model.AccessReport{bad}))
			requireCode(t, err, tc.code)
			require.Contains(t, err.Error(), tc.says)
			require.Equal(t, before, w.ledger.Snapshot(), "a refused batch writes nothing")
			require.Len(t, w.ledger.Events(), events)
		})
	}

	t.Run("replayed within one batch", func(t *testing.T) {
		sa := signs(t, doc.ident.Key, fresh(same))
		first, second := withAssertion(good, sa), withAssertion(good, sa)
		first.ID, second.ID = "b1", "b2"
		_, err := cs.gateway.submit("RecordAccesses", js([]model.AccessReport{first, second}))
		requireCode(t, err, model.CodeForbidden)
		require.Contains(t, err.Error(), "replayed")
	})
}

func withAssertion(r model.AccessReport, sa *model.SignedAssertion) model.AccessReport {
	r.Assertion = sa
	return r
}

// highS returns the same signature with S replaced by N-S: valid ECDSA, but malleable.
func highS(t *testing.T, der []byte) []byte {
	var sig struct{ R, S *big.Int }
	_, err := asn1.Unmarshal(der, &sig)
	require.NoError(t, err)
	n, _ := new(big.Int).SetString("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
	sig.S.Sub(n, sig.S)
	out, err := asn1.Marshal(sig)
	require.NoError(t, err)
	return out
}
