package contract_test

import (
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestWhoAmIDerivesStablePseudonymFromCertificate(t *testing.T) {
	w := newWorld(t)
	first := w.joinAs("PatientsMSP", "p-7f3a9c", model.RolePatient)
	renewed := w.joinAs("PatientsMSP", "p-7f3a9c", model.RolePatient) // re-enrolled: new key, new cert
	otherOrg := w.joinAs("ClinicMSP", "p-7f3a9c", model.RoleClinician)

	a := decodeAs[model.Caller](t, first.mustEvaluate("WhoAmI"))
	b := decodeAs[model.Caller](t, renewed.mustEvaluate("WhoAmI"))
	c := decodeAs[model.Caller](t, otherOrg.mustEvaluate("WhoAmI"))

	require.NotEqual(t, string(first.ident.CertPEM), string(renewed.ident.CertPEM))
	require.Equal(t, a.ID, b.ID, "pseudonym must survive certificate renewal")
	require.True(t, model.ValidPseudonym(a.ID))
	require.NotContains(t, a.ID, "p-7f3a9c")
	require.NotEqual(t, a.ID, c.ID, "the same enrollment ID in another MSP is another person")
	require.Equal(t, model.RolePatient, a.Role)
	require.Equal(t, "PatientsMSP", a.MSP)
	require.Empty(t, a.Via)
}

func TestGatewayActsOnlyForItsOwnOrganisation(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)

	got := decodeAs[model.Caller](t, cs.clinician.through(cs.gateway).mustEvaluate("WhoAmI"))
	require.Equal(t, cs.clinician.id(), got.ID)
	require.Equal(t, model.RoleClinician, got.Role)
	require.Equal(t, cs.gateway.id(), got.Via)

	// A patient of PatientsMSP presented by the clinic's gateway would be a ClinicMSP member,
	// but the certificate does not chain to the clinic's CA: a gateway cannot speak for
	// another organisation's members.
	_, err := cs.patient.through(cs.gateway).evaluate("WhoAmI")
	requireCode(t, err, model.CodeUnauthenticated)

	_, err = cs.clinician.through(cs.colleague).evaluate("WhoAmI")
	requireCode(t, err, model.CodeForbidden)

	otherGateway := w.join("ClinicMSP", model.RoleGateway)
	_, err = otherGateway.through(cs.gateway).evaluate("WhoAmI")
	requireCode(t, err, model.CodeForbidden)

	expired, err := w.ca("ClinicMSP").Issue("ClinicMSP", "old-clinician", map[string]string{"role": "clinician"}, w.now.Add(-48*time.Hour), w.now.Add(-time.Hour))
	require.NoError(t, err)
	gw := *cs.gateway
	gw.transient = map[string][]byte{"careledger.actor": expired.CertPEM}
	_, err = gw.evaluate("WhoAmI")
	requireCode(t, err, model.CodeUnauthenticated)

	gw.transient = map[string][]byte{"careledger.actor": []byte("not a certificate")}
	_, err = gw.evaluate("WhoAmI")
	requireCode(t, err, model.CodeInvalidArgument)
}

func TestRolePolicyLimitsWhichOrganisationsIssueWhichRoles(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	rogue := w.join("PharmaMSP", model.RoleAnonymizer) // a pharma CA issuing the anonymiser role

	_, err := cs.admin.evaluate("GetRolePolicy")
	requireCode(t, err, model.CodeNotFound)
	_, err = cs.patient.submit("SetRolePolicy", js(model.RolePolicy{}))
	requireCode(t, err, model.CodeForbidden)

	policy := model.RolePolicy{Rules: []model.RoleRule{
		{Role: model.RoleAnonymizer, MSPs: []string{"PatientsMSP"}},
		{Role: model.RoleAdmin, MSPs: []string{"PatientsMSP"}},
		{Role: model.RolePatient, MSPs: []string{"PatientsMSP"}},
		{Role: model.RoleClinician, MSPs: []string{"ClinicMSP", "OtherClinicMSP"}},
		{Role: model.RoleManufacturer, MSPs: []string{"PharmaMSP"}},
		{Role: model.RoleGateway, MSPs: []string{"ClinicMSP", "PatientsMSP"}},
	}}
	lockout := model.RolePolicy{Rules: []model.RoleRule{{Role: model.RoleAdmin, MSPs: []string{"ClinicMSP"}}}}
	_, err = cs.admin.submit("SetRolePolicy", js(lockout))
	requireCode(t, err, model.CodeInvalidArgument)

	set := decodeAs[model.RolePolicy](t, cs.admin.mustSubmit("SetRolePolicy", js(policy)))
	require.Equal(t, model.RolePatient, set.Rules[0].Role, "rules are stored in role order")

	_, err = rogue.evaluate("ListResearchConsents", "drug-development", "0", "")
	requireCode(t, err, model.CodeForbidden)
	who := decodeAs[model.Caller](t, rogue.mustEvaluate("WhoAmI"))
	require.Empty(t, who.Role)
	cs.anonymizer.mustEvaluate("ListResearchConsents", "drug-development", "0", "")

	clinicAdmin := w.join("ClinicMSP", model.RoleAdmin)
	_, err = clinicAdmin.submit("SetRolePolicy", js(policy))
	requireCode(t, err, model.CodeForbidden)
}
