package contract_test

import (
	"fmt"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
)

// BenchmarkInvoke measures the contract's own cost per transaction (dispatch, identity,
// state access, JSON), without a ledger around it. Each Grant goes to a grantee of its own:
// one pair may have at most contract.MaxActiveGrants grants in force.
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
			if _, err := p.submit("Grant", js(model.GrantRequest{ID: fmt.Sprintf("b%d", i), Grantee: model.Grantee{ID: fmt.Sprintf("%032x", i)}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})); err != nil {
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

// BenchmarkDecideWithManyGrants shows that an access decision costs the same however many
// grants one patient has given one clinician: after 10, 1,000 and 10,000 grants made through
// the normal transactions (see mintGrants: short grants renewed again and again, a quarter
// revoked), an allowed decision, a refused one explained by an expired grant, and a metadata
// read. reads/op counts the state each reads, which does not vary with the machine.
func BenchmarkDecideWithManyGrants(b *testing.B) {
	for _, n := range []int{10, 1_000, 10_000} {
		w := newWorld(b)
		cs := newCast(w)
		mintGrants(w, cs, n)
		for _, c := range []struct {
			name string
			args []string
		}{
			{"CheckAccess-allowed", []string{"CheckAccess", "lab-1", "read", ""}},
			{"CheckAccess-expired", []string{"CheckAccess", "img-1", "read", ""}},
			{"GetRecord", []string{"GetRecord", "lab-1"}},
		} {
			b.Run(fmt.Sprintf("grants=%d/%s", n, c.name), func(b *testing.B) {
				reads := 0
				for b.Loop() {
					_, res, err := cs.clinician.call(false, c.args[0], c.args[1:]...)
					if err != nil {
						b.Fatal(err)
					}
					reads = res.Reads
				}
				// The keys and range entries read: the cost that does not depend on the machine.
				b.ReportMetric(float64(reads), "reads/op")
			})
		}
	}
}
