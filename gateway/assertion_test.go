package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func TestMemberSignedReadsAreMarkedSoAndBadAssertionsReleaseNothing(t *testing.T) {
	s := newStack(t, time.Minute)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	other := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g-lab", Actions: []string{"read"}, Categories: []string{"lab"}})
	clin := s.env.User(t, network.ClinicMSP, "clinician1")
	patient := s.env.User(t, network.PatientsMSP, "patient1")
	assertion := func(mut func(*model.AccessAssertion)) model.AccessAssertion {
		a := model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: rec.ID, Action: model.ActionRead, At: time.Now()}
		mut(&a)
		return a
	}
	signedBy := func(key *network.User, a model.AccessAssertion) gateway.ReadOption {
		sa, err := model.SignAssertion(key.Key, a)
		require.NoError(t, err)
		return gateway.WithAssertion(sa, clin.CertPEM)
	}
	same := func(*model.AccessAssertion) {}

	first := assertion(same)
	rel, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "", signedBy(clin, first))
	require.NoError(t, err)
	require.JSONEq(t, labResult, string(rel.Data))
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)
	trail := s.trail(t)
	require.ElementsMatch(t, []string{model.AssuranceMemberSigned, model.AssuranceGatewayAsserted}, assurances(trail))

	for name, opt := range map[string]gateway.ReadOption{
		"replayed":         signedBy(clin, first),
		"another record":   signedBy(clin, assertion(func(a *model.AccessAssertion) { a.RecordID = other.ID })),
		"another action":   signedBy(clin, assertion(func(a *model.AccessAssertion) { a.Action = model.ActionAppend })),
		"another purpose":  signedBy(clin, assertion(func(a *model.AccessAssertion) { a.Purpose = "PUBHLTH" })),
		"too old":          signedBy(clin, assertion(func(a *model.AccessAssertion) { a.At = time.Now().Add(-10 * time.Minute) })),
		"another's key":    signedBy(patient, assertion(same)),
		"malformed":        signedBy(clin, assertion(func(a *model.AccessAssertion) { a.Nonce = "x" })),
		"no certificate":   gateway.WithAssertion(&model.SignedAssertion{AccessAssertion: assertion(same), Signature: []byte{1}}, nil),
		"garbage signed":   gateway.WithAssertion(&model.SignedAssertion{AccessAssertion: assertion(same), Signature: []byte{1}}, clin.CertPEM),
		"patient's record": signedBy(clin, assertion(func(a *model.AccessAssertion) { a.RecordID, a.Patient = "", s.clinicianID })),
	} {
		t.Run(name, func(t *testing.T) {
			rel, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "", opt)
			require.ErrorIs(t, err, gateway.ErrAssertion)
			require.Nil(t, rel)
			n, err := s.queue.Len()
			require.NoError(t, err)
			require.Zero(t, n, "nothing released, so nothing to audit")
		})
	}
	require.Len(t, s.trail(t), 2)

	// A history read: one assertion names the patient and covers every record read.
	history := assertion(func(a *model.AccessAssertion) { a.RecordID, a.Patient = "", s.patientID })
	rels, _, err := s.svc.ReadHistory(ctx, s.clinicianViaGateway, s.patientID, "", "", ledger.Page{}, signedBy(clin, history))
	require.NoError(t, err)
	require.Len(t, rels, 2)
	require.ElementsMatch(t, []string{model.AssuranceMemberSigned, model.AssuranceGatewayAsserted, model.AssuranceMemberSigned, model.AssuranceMemberSigned}, assurances(s.trail(t)))
}

func assurances(trail []model.AccessEntry) []string {
	out := make([]string, len(trail))
	for i, e := range trail {
		out[i] = e.Assurance
	}
	return out
}

// TestAGatewayKeyCannotMintMembers: the clinic's gateway presents a clinician certificate with
// the real clinician's enrollment ID, issued by a CA of its own making (another consortium's
// material): the ledger refuses to be acted on for it, and nothing is read or written.
func TestAGatewayKeyCannotMintMembers(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g-lab", Actions: []string{"read"}, Categories: []string{"lab"}})

	dir := t.TempDir()
	cons := network.DefaultConsortium()
	require.NoError(t, network.GenerateMaterial(dir, cons))
	org, ok := cons.Org(network.ClinicMSP)
	require.True(t, ok)
	minted, err := network.IssueUser(dir, org, network.UserSpec{Name: "clinician1", Role: network.RoleClinician})
	require.NoError(t, err)
	require.Equal(t, s.env.User(t, network.ClinicMSP, "clinician1").EnrollmentID, minted.EnrollmentID, "the same person, as far as the certificate says")
	asMinted := s.clinicGateway.For(minted.CertPEM)

	_, err = s.svc.Read(ctx, asMinted, rec.ID, 0, "")
	require.ErrorIs(t, err, &model.Error{Code: model.CodeUnauthenticated})
	_, err = s.svc.Upload(ctx, asMinted, gateway.Upload{Owner: s.patientID, Content: gateway.Content{MediaType: "application/fhir+json", Data: []byte(labResult)}})
	require.ErrorIs(t, err, &model.Error{Code: model.CodeUnauthenticated})
	n, err := s.queue.Len()
	require.NoError(t, err)
	require.Zero(t, n, "nothing read")
	recs, err := s.patient.ListPatientRecords(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, recs.Records, 1, "nothing written")

	// The real clinician, through the same gateway, reads.
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)
}
