package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// TestDelegatesAndResearchConsent: a patient names a delegate and opts in to research, both
// signed on the patient's device; the delegate then grants on the patient's behalf with their
// own key, until the patient removes them.
func TestDelegatesAndResearchConsent(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.client(t, e.patient)
	relativeUser := e.stack.Issue(t, network.PatientsMSP, network.UserSpec{Name: "relative", Role: network.RolePatient})
	relative := e.client(t, relativeUser)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	rel, err := relative.Me(ctx)
	require.NoError(t, err)

	_, err = patient.ResearchConsent(ctx, "")
	apiError(t, err, http.StatusNotFound, "NOT_FOUND")
	until := time.Now().Add(365 * 24 * time.Hour)
	rc, _, err := patient.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety", "public-health"}, Until: &until})
	require.NoError(t, err)
	require.True(t, rc.OptIn)
	got, err := patient.ResearchConsent(ctx, "")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"drug-safety", "public-health"}, got.Purposes)
	_, _, err = patient.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true})
	ae := apiError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")
	require.Contains(t, ae.Message, "purposes")

	d, _, err := patient.AddDelegate(ctx, model.DelegateRequest{Delegate: rel.ID})
	require.NoError(t, err)
	require.Equal(t, me.ID, d.Patient)
	dl, err := patient.Delegates(ctx, client.Page{})
	require.NoError(t, err)
	require.Len(t, dl.Delegates, 1)

	// The delegate grants for the patient, signing with the delegate's own key.
	g, _, err := relative.Grant(ctx, model.GrantRequest{Patient: me.ID, Grantee: model.Grantee{MSP: network.ClinicMSP}, Actions: []string{"read"}, Categories: []string{"medication"}, Purpose: "CAREMGT"})
	require.NoError(t, err)
	require.Equal(t, me.ID, g.Patient)
	require.Equal(t, rel.ID, g.GrantedBy.ID)
	onBehalf, err := relative.Grants(ctx, me.ID, true, client.Page{})
	require.NoError(t, err)
	require.Len(t, onBehalf.Grants, 1)

	_, err = patient.RemoveDelegate(ctx, rel.ID)
	require.NoError(t, err)
	_, _, err = relative.Grant(ctx, model.GrantRequest{Patient: me.ID, Grantee: model.Grantee{MSP: network.ClinicMSP}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "CAREMGT"})
	apiError(t, err, http.StatusForbidden, "FORBIDDEN")
	_, err = relative.Grants(ctx, me.ID, true, client.Page{})
	apiError(t, err, http.StatusForbidden, "FORBIDDEN")

	// A conflict on the ledger is a 409 and changes nothing.
	_, _, err = patient.RevokeGrant(ctx, g.ID)
	require.NoError(t, err)
	_, _, err = patient.RevokeGrant(ctx, g.ID)
	apiError(t, err, http.StatusConflict, "CONFLICT")
}
