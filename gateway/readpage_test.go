package gateway_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/stretchr/testify/require"
)

// TestReadPageAuditsAsReadDoes: a page read releases the same content and queues the same
// audit report as Read, and one tampered record degrades only itself.
func TestReadPageAuditsAsReadDoes(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	a := s.upload(t, s.patient, labResult)
	b := s.upload(t, s.patient, labResult)
	_, err := s.patient.Grant(ctx, model.GrantRequest{ID: "g-page", Grantee: model.Grantee{ID: s.clinicianID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)

	one, err := s.svc.Read(ctx, s.clinicianViaGateway, a.ID, 0, "TREAT")
	require.NoError(t, err)
	hist, err := s.clinicianViaGateway.GetPatientHistory(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, hist.Records, 2)
	page := s.svc.ReadPage(ctx, s.clinicianViaGateway, hist.Records, "TREAT")
	require.Len(t, page, 2)
	for _, p := range page {
		require.NoError(t, p.Err)
	}
	got := map[string]*gateway.Release{}
	for _, p := range page {
		got[p.Record.ID] = p.Release
	}
	require.Equal(t, one.Data, got[a.ID].Data)
	require.Equal(t, one.Version, got[a.ID].Version)
	require.Equal(t, one.Decision.Basis, got[a.ID].Decision.Basis)

	pending, err := s.queue.Pending(10)
	require.NoError(t, err)
	require.Len(t, pending, 3)
	byRead, byPage := pending[0].Report, model.AccessReport{}
	for _, it := range pending[1:] {
		if it.Report.RecordID == a.ID {
			byPage = it.Report
		}
	}
	require.False(t, byPage.AccessedAt.IsZero())
	byRead.ID, byPage.ID = "", ""
	byRead.AccessedAt = byPage.AccessedAt // each read rests on its own decision time
	require.Equal(t, byRead, byPage, "the same access, audited the same way")

	// Tamper with b's ciphertext: b fails with an integrity error, a is still released.
	path := filepath.Join(s.blobDir, "objects", "records", s.patientID, b.LatestHash+".blob")
	require.NoError(t, os.WriteFile(path, []byte("tampered"), 0o600))
	page = s.svc.ReadPage(ctx, s.clinicianViaGateway, hist.Records, "TREAT")
	for _, p := range page {
		if p.Err != nil {
			require.ErrorIs(t, p.Err, gateway.ErrIntegrity)
		} else {
			require.Equal(t, a.ID, p.Record.ID)
		}
	}
}

// TestReadPageReleasesOnTheListingsDecision: the listing carries the ledger's decision on
// each record, and a page is released (and audited) on it without a CheckAccess per record,
// while a cached decision would still be used; once a revoke for the patient is seen, a
// listing made before it releases nothing.
func TestReadPageReleasesOnTheListingsDecision(t *testing.T) {
	s := newStack(t, time.Minute)
	ctx := context.Background()
	a := s.upload(t, s.patient, labResult)
	_, err := s.patient.Grant(ctx, model.GrantRequest{ID: "g-listed", Grantee: model.Grantee{ID: s.clinicianID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)

	hist, err := s.clinicianViaGateway.GetPatientHistory(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, hist.Records, 1)
	listed := hist.Records[0].Read
	require.NotNil(t, listed, "the listing says the clinician may read the record")
	page := s.svc.ReadPage(ctx, s.clinicianViaGateway, hist.Records, "")
	require.NoError(t, page[0].Err)
	require.Equal(t, *listed, page[0].Decision, "released on the listing's decision, not a new one")
	pending, err := s.queue.Pending(10)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	require.Equal(t, a.ID, pending[0].Report.RecordID)
	require.Equal(t, "g-listed", pending[0].Report.GrantID)
	require.False(t, pending[0].Report.AccessedAt.Before(listed.DecidedAt), "audited at the time of the read, on the decision it rests on")

	_, err = s.patient.RevokeGrant(ctx, "g-listed")
	require.NoError(t, err)
	payload, err := json.Marshal(model.Event{Patient: s.patientID})
	require.NoError(t, err)
	s.svc.HandleEvent(model.EventGrantRevoked, payload)
	page = s.svc.ReadPage(ctx, s.clinicianViaGateway, hist.Records, "")
	require.ErrorIs(t, page[0].Err, gateway.ErrGrantRevoked, "a listing older than the revoke releases nothing")
}
