package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/app-api/offline"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	fabclient "github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/stretchr/testify/require"
)

func postJSON(t *testing.T, hc *http.Client, url string, in, out any) (int, api.ErrorBody) {
	t.Helper()
	b, err := json.Marshal(in)
	require.NoError(t, err)
	resp, err := hc.Post(url, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var eb api.ErrorBody
	if resp.StatusCode >= 300 {
		require.NoError(t, json.Unmarshal(raw, &eb))
	} else if out != nil {
		require.NoError(t, json.Unmarshal(raw, out))
	}
	return resp.StatusCode, eb
}

var grantBody = model.GrantRequest{Grantee: model.Grantee{MSP: network.ClinicMSP}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}

// TestServerChecksSignedMessages: the server only forwards messages created for, and signed
// by, the authenticated caller, and only the consent transactions.
func TestServerChecksSignedMessages(t *testing.T) {
	e := startEnv(t)
	asPatient, asClinician := e.rawHTTP(tlsCert(e.patient)), e.rawHTTP(tlsCert(e.clinician))

	var p api.Prepared
	st, _ := postJSON(t, asPatient, e.srv.URL+"/v1/grants", grantBody, &p)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, "Grant", p.Function)
	parsed, err := offline.ParseProposal(p.Proposal)
	require.NoError(t, err)
	require.Equal(t, parsed.Digest, p.Digest, "the server's digest is the proposal's")
	sig, err := offline.Sign(e.patient.Key, p.Digest)
	require.NoError(t, err)

	// Someone else may not push the patient's signed proposal.
	st, eb := postJSON(t, asClinician, e.srv.URL+"/v1/transactions/endorse", api.Signed{Proposal: p.Proposal, Signature: sig}, nil)
	require.Equal(t, http.StatusForbidden, st)
	require.Equal(t, api.CodeCreatorMismatch, eb.Error.Code)

	// A signature by another key is refused before anything reaches the ledger.
	wrong, err := offline.Sign(e.clinician.Key, p.Digest)
	require.NoError(t, err)
	st, eb = postJSON(t, asPatient, e.srv.URL+"/v1/transactions/endorse", api.Signed{Proposal: p.Proposal, Signature: wrong}, nil)
	require.Equal(t, http.StatusUnprocessableEntity, st)
	require.Equal(t, api.CodeBadSignature, eb.Error.Code)

	// Only consent transactions go through this flow.
	id, err := ledger.NewIdentity(e.patient.MSPID, e.patient.CertPEM, nil)
	require.NoError(t, err)
	lc, err := e.stack.Conn.As(id)
	require.NoError(t, err)
	prop, err := lc.Network().GetContract(network.DefaultChaincode).NewProposal("RegisterRecord", fabclient.WithArguments("{}"))
	require.NoError(t, err)
	raw, err := prop.Bytes()
	require.NoError(t, err)
	sig2, err := offline.Sign(e.patient.Key, prop.Digest())
	require.NoError(t, err)
	st, eb = postJSON(t, asPatient, e.srv.URL+"/v1/transactions/endorse", api.Signed{Proposal: raw, Signature: sig2}, nil)
	require.Equal(t, http.StatusBadRequest, st)
	require.Contains(t, eb.Error.Message, "RegisterRecord")

	// The genuine flow step by step: endorse, submit, commit.
	var tx api.Prepared
	st, eb = postJSON(t, asPatient, e.srv.URL+"/v1/transactions/endorse", api.Signed{Proposal: p.Proposal, Signature: sig}, &tx)
	require.Equal(t, http.StatusOK, st, eb.Error.Message)
	var g model.Grant
	require.NoError(t, json.Unmarshal(tx.Result, &g))
	require.Equal(t, network.ClinicMSP, g.Grantee.MSP)
	txSig, err := offline.Sign(e.patient.Key, tx.Digest)
	require.NoError(t, err)
	var cm api.Prepared
	st, eb = postJSON(t, asPatient, e.srv.URL+"/v1/transactions/submit", api.Signed{Transaction: tx.Transaction, Signature: txSig}, &cm)
	require.Equal(t, http.StatusOK, st, eb.Error.Message)
	cmSig, err := offline.Sign(e.patient.Key, cm.Digest)
	require.NoError(t, err)
	st, eb = postJSON(t, asClinician, e.srv.URL+"/v1/transactions/commit", api.Signed{Commit: cm.Commit, Signature: cmSig}, nil)
	require.Equal(t, http.StatusForbidden, st)
	require.Equal(t, api.CodeCreatorMismatch, eb.Error.Code)
	var done api.Committed
	st, eb = postJSON(t, asPatient, e.srv.URL+"/v1/transactions/commit", api.Signed{Commit: cm.Commit, Signature: cmSig}, &done)
	require.Equal(t, http.StatusOK, st, eb.Error.Message)
	require.Equal(t, tx.TransactionID, done.TransactionID)
	require.Equal(t, "VALID", done.Status)

	// Replaying the signed transaction cannot apply it twice: the ledger keeps the first.
	postJSON(t, asPatient, e.srv.URL+"/v1/transactions/submit", api.Signed{Transaction: tx.Transaction, Signature: txSig}, nil)
	var again api.Committed
	st, _ = postJSON(t, asPatient, e.srv.URL+"/v1/transactions/commit", api.Signed{Commit: cm.Commit, Signature: cmSig}, &again)
	require.Equal(t, http.StatusOK, st)
	require.Equal(t, done.BlockNumber, again.BlockNumber)
	grants, err := e.client(t, e.patient).Grants(context.Background(), "", false, client.Page{})
	require.NoError(t, err)
	require.Len(t, grants.Grants, 1)
}

// TestDeviceRefusesToSignWhatItDidNotAskFor: the client checks what a server asks it to sign.
func TestDeviceRefusesToSignWhatItDidNotAskFor(t *testing.T) {
	e := startEnv(t)
	asPatient := e.rawHTTP(tlsCert(e.patient))
	tamper := map[string]func(p *api.Prepared){
		"digest":   func(p *api.Prepared) { p.Digest[0] ^= 1 },
		"function": nil, // replaced below by a RevokeGrant proposal
	}
	for name, change := range tamper {
		t.Run(name, func(t *testing.T) {
			evil := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var p api.Prepared
				if change != nil {
					postJSON(t, asPatient, e.srv.URL+"/v1/grants", grantBody, &p)
					change(&p)
				} else {
					req, _ := http.NewRequest(http.MethodDelete, e.srv.URL+"/v1/grants/g-1", nil)
					resp, err := asPatient.Do(req)
					require.NoError(t, err)
					defer resp.Body.Close()
					require.NoError(t, json.NewDecoder(resp.Body).Decode(&p))
				}
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(p)
			}))
			evil.StartTLS()
			defer evil.Close()
			pool := evil.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
			c, err := client.New(evil.URL, client.WithIdentity(e.patient.MSPID, e.patient.CertPEM, e.patient.Key), client.WithRootCAs(pool))
			require.NoError(t, err)
			_, _, err = c.Grant(context.Background(), grantBody)
			require.ErrorIs(t, err, client.ErrRefusedToSign)
		})
	}
}

// TestPatientErasure: an erasure request signed on the patient's device destroys the
// patient's key and content; the ledger then refuses every access.
func TestPatientErasure(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	u := e.stack.Issue(t, network.PatientsMSP, network.UserSpec{Name: "patient2", Role: network.RolePatient})
	patient, clinician := e.client(t, u), e.client(t, e.clinician)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	erasure, receipt, err := patient.RequestErasure(ctx)
	require.NoError(t, err)
	require.Equal(t, "completed", receipt.Erasure)
	require.Equal(t, me.ID, erasure.Patient)

	_, err = patient.Content(ctx, rec.ID, 0, "")
	apiError(t, err, http.StatusGone, "ERASED")
	_, err = patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	apiError(t, err, http.StatusGone, "ERASED")
	seen, err := clinician.Erasure(ctx, me.ID)
	require.NoError(t, err)
	require.Equal(t, erasure.TxID, seen.TxID)
	left, err := os.ReadDir(filepath.Join(e.stack.BlobDir, "records", me.ID))
	if err == nil {
		require.Empty(t, left, "ciphertexts are deleted")
	}
	r, err := patient.CompleteErasure(ctx)
	require.NoError(t, err, "completing again is harmless")
	require.Equal(t, "completed", r.Erasure)
}
