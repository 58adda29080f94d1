package contract_test

import (
	"fmt"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
)

// BenchmarkInvoke measures the contract's own cost per transaction (dispatch, identity,
// state access, JSON), without a ledger around it. CheckAccess runs first: a decision loads
// every grant the patient made to the caller, so it is measured before the Grant benchmark
// piles thousands of them onto one pair.
func BenchmarkInvoke(b *testing.B) {
	w := newWorld(b)
	cs := newCast(w)
	p := cs.patient
	w.registerRecord(p, "rec", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	b.Run("CheckAccess", func(b *testing.B) {
		for b.Loop() {
			if _, err := cs.clinician.evaluate("CheckAccess", "rec", "read", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	// The path the API takes: the clinic's gateway acts for the clinician, whose certificate
	// is verified against the clinic's CA on the ledger.
	viaGateway := cs.clinician.through(cs.gateway)
	b.Run("CheckAccessThroughGateway", func(b *testing.B) {
		for b.Loop() {
			if _, err := viaGateway.evaluate("CheckAccess", "rec", "read", ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Grant", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := p.submit("Grant", js(model.GrantRequest{ID: fmt.Sprintf("b%d", i), Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCheckAccessAfterManyRevocations shows that revoked grants do not slow access
// decisions down: they are kept out of the index a decision scans.
func BenchmarkCheckAccessAfterManyRevocations(b *testing.B) {
	for _, revoked := range []int{0, 1000} {
		b.Run(fmt.Sprintf("revoked=%d", revoked), func(b *testing.B) {
			w := newWorld(b)
			cs := newCast(w)
			p := cs.patient
			w.registerRecord(p, "rec", p.id(), "lab")
			for i := 0; i < revoked; i++ {
				id := fmt.Sprintf("r%d", i)
				p.mustSubmit("Grant", js(model.GrantRequest{ID: id, Grantee: model.Grantee{MSP: "ClinicMSP"}, Actions: []string{"read"}, Categories: []string{"note"}, Purpose: "TREAT"}))
				p.mustSubmit("RevokeGrant", id)
			}
			w.grant(p, model.GrantRequest{ID: "g", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
			for b.Loop() {
				if _, err := cs.clinician.evaluate("CheckAccess", "rec", "read", ""); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
