package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestLedgerHoldsNoPersonalData runs the user stories with identities whose enrollment IDs
// and certificate subjects are personal data, then searches every key and value on the ledger
// and every event for them.
func TestLedgerHoldsNoPersonalData(t *testing.T) {
	w := newWorld(t)
	p := w.joinAs("PatientsMSP", "jane.doe.1970-05-04", model.RolePatient)
	doc := w.joinAs("ClinicMSP", "dr.gregory.house", model.RoleClinician)
	gw := w.joinAs("ClinicMSP", "clinic-gateway-berlin", model.RoleGateway)
	anon := w.joinAs("PatientsMSP", "anonymizer-service", model.RoleAnonymizer)
	w.trust("PatientsMSP", "ClinicMSP")

	w.registerRecord(p, "0f8e2c1a-lab", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "6b1f-grant", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: ptr(w.now.Add(30 * 24 * time.Hour))})
	doc.through(gw).mustSubmit("RegisterRecord", js(model.NewRecord{ID: "77aa-note", Owner: p.id(), Category: "lab", Hash: hashOf(99), Locator: "blob:77aa"}))
	doc.mustSubmit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e-1", Patient: p.id(), Reason: "patient-unconscious"}))
	gw.mustSubmit("RecordAccesses", js([]model.AccessReport{{ID: "acc-1", RecordID: "0f8e2c1a-lab", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "6b1f-grant", Purpose: "TREAT", AccessedAt: w.now}}))
	p.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}}))
	anon.mustSubmit("PublishCohort", js(validPublication("cohort-2026-03")))
	p.mustSubmit("RevokeGrant", "6b1f-grant")

	personal := []string{"jane", "doe", "1970", "gregory", "house", "berlin", "BEGIN CERTIFICATE"}
	var all strings.Builder
	for k, v := range w.ledger.Snapshot() {
		all.WriteString(k)
		if strings.Contains(k, "cl.orgca") {
			// The organisations' CA certificates are the certificates the ledger must hold;
			// they name organisations, never people, and their random base64 may spell any
			// short word, so they are checked on their own.
			require.Contains(t, string(v), `"roots":["-----BEGIN CERTIFICATE-----`)
			continue
		}
		all.Write(v)
	}
	for _, e := range w.ledger.Events() {
		all.WriteString(e.Name)
		all.Write(e.Payload)
	}
	text := strings.ToLower(all.String())
	require.NotEmpty(t, text)
	for _, s := range personal {
		require.NotContains(t, text, strings.ToLower(s))
	}
}
