package contract_test

import (
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/internal/memstub"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// forged returns the gateway acting for a certificate issued by ca: a CA the gateway's holder
// made, not the organisation's.
func forged(t *testing.T, w *world, gw *member, ca *memstub.CA, enrollmentID string, role model.Role, notBefore, notAfter time.Time) *member {
	t.Helper()
	ident, err := ca.Issue(gw.mspID, enrollmentID, map[string]string{"role": string(role)}, notBefore, notAfter)
	require.NoError(t, err)
	c := *gw
	c.transient = map[string][]byte{model.ActorTransientKey: ident.CertPEM}
	return &c
}

func TestGatewayKeyWithASelfMadeCACannotActAsAMember(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	rogueCA, err := memstub.NewCA()
	require.NoError(t, err)
	// The gateway's holder mints the granted clinician (same enrollment ID, so the same
	// pseudonym) and an admin, from a CA of its own.
	asClinician := forged(t, w, cs.gateway, rogueCA, cs.clinician.enrollID, model.RoleClinician, w.now.Add(-time.Hour), w.now.Add(time.Hour))
	asAdmin := forged(t, w, cs.gateway, rogueCA, "rogue-admin", model.RoleAdmin, w.now.Add(-time.Hour), w.now.Add(time.Hour))

	before, events := w.ledger.Snapshot(), len(w.ledger.Events())
	for name, try := range map[string]func() error{
		"read":   func() error { _, err := asClinician.evaluate("GetRecord", "lab-1"); return err },
		"decide": func() error { _, err := asClinician.evaluate("CheckAccess", "lab-1", "read", ""); return err },
		"write": func() error {
			_, err := asClinician.submit("RegisterRecord", js(model.NewRecord{ID: "forged", Owner: p.id(), Category: "lab", Hash: hashOf(900), Locator: "blob:forged"}))
			return err
		},
		"emergency": func() error {
			_, err := asClinician.submit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e-forged", Patient: p.id(), Reason: "life-threatening"}))
			return err
		},
		"audit": func() error {
			_, err := asClinician.submit("RecordAccesses", js([]model.AccessReport{{ID: "a-forged", RecordID: "lab-1", Version: 1, Action: "read", Accessor: cs.clinician.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: w.now}}))
			return err
		},
		"ca": func() error {
			_, err := asAdmin.submit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{rogueCA.CertPEM()}}))
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			err := try()
			requireCode(t, err, model.CodeUnauthenticated)
			require.Contains(t, err.Error(), "does not chain")
		})
	}
	require.Equal(t, before, w.ledger.Snapshot(), "nothing written")
	require.Len(t, w.ledger.Events(), events)

	// The real clinician, from the clinic's CA, is still acted for.
	require.True(t, cs.clinician.through(cs.gateway).decide("lab-1", "read", "").Allowed)
}

func TestActingForMembersFailsClosedUntilTheOrganisationsCAIsOnTheLedger(t *testing.T) {
	w := newWorld(t)
	gw := w.join("ClinicMSP", model.RoleGateway)
	doc := w.join("ClinicMSP", model.RoleClinician)

	_, err := doc.through(gw).evaluate("WhoAmI")
	requireCode(t, err, model.CodeUnauthenticated)
	require.Contains(t, err.Error(), "SetOrgCACertificates")
	_, err = gw.evaluate("GetOrgCACertificates", "")
	requireCode(t, err, model.CodeNotFound)

	w.trust("ClinicMSP")
	got := decodeAs[model.Caller](t, doc.through(gw).mustEvaluate("WhoAmI"))
	require.Equal(t, doc.id(), got.ID)
	stored := decodeAs[model.OrgCACertificates](t, doc.mustEvaluate("GetOrgCACertificates", "ClinicMSP"))
	require.Equal(t, "ClinicMSP", stored.MSP)
	require.Equal(t, []string{w.ca("ClinicMSP").CertPEM()}, stored.Roots)
	require.Equal(t, w.now, stored.SetAt)

	// Another organisation's CA is not the clinic's.
	_, err = gw.evaluate("GetOrgCACertificates", "PharmaMSP")
	requireCode(t, err, model.CodeNotFound)
}

func TestActorCertificateMustBeValidAtTheTransactionTime(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	issue := func(name string, from, until time.Time) *member {
		ident, err := w.ca("ClinicMSP").Issue("ClinicMSP", name, map[string]string{"role": "clinician"}, from, until)
		require.NoError(t, err)
		return &member{w: w, ident: ident, mspID: "ClinicMSP", enrollID: name, role: model.RoleClinician}
	}
	shortLived := issue("short-lived", w.now.Add(-time.Hour), w.now.Add(time.Hour))
	notYet := issue("not-yet", w.now.Add(time.Hour), w.now.Add(48*time.Hour))

	shortLived.through(cs.gateway).mustEvaluate("WhoAmI")
	_, err := notYet.through(cs.gateway).evaluate("WhoAmI")
	requireCode(t, err, model.CodeUnauthenticated)

	// The transaction time decides, not a clock: two hours on, the certificate has expired
	// and the other has become valid.
	w.advance(2 * time.Hour)
	_, err = shortLived.through(cs.gateway).evaluate("WhoAmI")
	requireCode(t, err, model.CodeUnauthenticated)
	require.Contains(t, err.Error(), "not valid at")
	notYet.through(cs.gateway).mustEvaluate("WhoAmI")
}

func TestAnAdminSetsOnlyItsOwnOrganisationsCACertificates(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	patientsCA := decodeAs[model.OrgCACertificates](t, cs.admin.mustEvaluate("GetOrgCACertificates", "PatientsMSP"))
	clinicAdmin := w.join("ClinicMSP", model.RoleAdmin)
	rogueCA, err := memstub.NewCA()
	require.NoError(t, err)

	// There is no way to name another organisation: what the clinic's admin sets is the
	// clinic's, and the operator's patients are untouched.
	_, err = clinicAdmin.submit("SetOrgCACertificates", `{"msp":"PatientsMSP","roots":[`+js(rogueCA.CertPEM())+`]}`)
	requireCode(t, err, model.CodeInvalidArgument)
	set := decodeAs[model.OrgCACertificates](t, clinicAdmin.mustSubmit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{rogueCA.CertPEM(), w.ca("ClinicMSP").CertPEM()}})))
	require.Equal(t, "ClinicMSP", set.MSP)
	require.Equal(t, patientsCA, decodeAs[model.OrgCACertificates](t, cs.admin.mustEvaluate("GetOrgCACertificates", "PatientsMSP")))
	cs.patient.mustEvaluate("WhoAmI")

	// What the ledger holds is what counts, at once: the clinician verified under the old
	// certificates is refused once the clinic's own CA is no longer among them.
	cs.clinician.through(cs.gateway).mustEvaluate("WhoAmI")
	clinicAdmin.mustSubmit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{rogueCA.CertPEM()}}))
	_, err = cs.clinician.through(cs.gateway).evaluate("WhoAmI")
	requireCode(t, err, model.CodeUnauthenticated)
	clinicAdmin.mustSubmit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{w.ca("ClinicMSP").CertPEM()}}))
	cs.clinician.through(cs.gateway).mustEvaluate("WhoAmI")

	// Only an admin, signing directly; a gateway cannot set them for an admin, nor can
	// anyone else.
	_, err = cs.admin.through(w.join("PatientsMSP", model.RoleGateway)).submit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{w.ca("PatientsMSP").CertPEM()}}))
	requireCode(t, err, model.CodeForbidden)
	_, err = cs.gateway.submit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{w.ca("ClinicMSP").CertPEM()}}))
	requireCode(t, err, model.CodeForbidden)

	// Once the role policy says only the operator issues admins, the clinic's admin role is
	// gone, and with it the right to change the clinic's CA.
	cs.admin.mustSubmit("SetRolePolicy", js(standardPolicy))
	_, err = clinicAdmin.submit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{w.ca("ClinicMSP").CertPEM()}}))
	requireCode(t, err, model.CodeForbidden)
}
