package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// TestFHIRErasedRecordsAreGone: after a patient's erasure, her records answer 410 to those
// who could read them, and still 404 to those who never could (an erased record's id must not
// tell a stranger that it existed).
func TestFHIRErasedRecordsAreGone(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	st := e.stack
	owner := st.Client(t, e.patient)
	me, err := owner.WhoAmI(ctx)
	require.NoError(t, err)
	tx := e.fhir(e.patient).do(t, "POST", "/fhir", exampleTransaction(t, "patient.json", "observation-hba1c.json"))
	require.Equal(t, http.StatusOK, tx.status, "%s", tx.raw)
	loc := tx.entries()[1]["response"].(map[string]any)["location"].(string)
	obsID := strings.Split(loc, "/")[1]
	doc, err := st.Client(t, e.clinician).WhoAmI(ctx)
	require.NoError(t, err)
	_, err = owner.Grant(ctx, model.GrantRequest{ID: "g-erase", Grantee: model.Grantee{ID: doc.ID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, e.fhir(e.clinician).do(t, "GET", "/fhir/Observation/"+obsID, nil).status)

	require.NoError(t, st.Service.Erase(ctx, owner))
	gone := e.fhir(e.patient).do(t, "GET", "/fhir/Observation/"+obsID, nil)
	require.Equal(t, http.StatusGone, gone.status, "%s", gone.raw)
	require.Equal(t, "deleted", gone.issue(t)["code"])
	stranger := e.fhir(st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "erase-stranger", Role: network.RoleClinician}))
	require.Equal(t, http.StatusNotFound, stranger.do(t, "GET", "/fhir/Observation/"+obsID, nil).status)
	search := e.fhir(e.clinician).do(t, "GET", "/fhir/Observation?patient="+me.ID, nil)
	require.Empty(t, search.resources("Observation"), "%s", search.raw)
	// Every refusal above is an OperationOutcome that is valid FHIR R4.
	e.served.Check(t)
}
