package gateway_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/stretchr/testify/require"
)

// calls counts the chaincode invocations of the read path's transactions since it was made.
func (s *stack) calls() func() map[string]int {
	fns := []string{"AuthorizeRead", "CheckAccess", "GetRecordHistory", "GetPatientHistory"}
	at := map[string]int{}
	for _, fn := range fns {
		at[fn] = s.env.Invocations(fn)
	}
	return func() map[string]int {
		out := map[string]int{}
		for _, fn := range fns {
			if n := s.env.Invocations(fn) - at[fn]; n > 0 {
				out[fn] = n
			}
		}
		return out
	}
}

// TestOneLedgerCallPerGrantedRead: a granted read is one evaluation, decided at the time of
// the read whatever the cache holds; a history of N records is one listing and N reads.
func TestOneLedgerCallPerGrantedRead(t *testing.T) {
	for _, ttl := range []time.Duration{0, time.Minute} {
		t.Run("cache "+ttl.String(), func(t *testing.T) {
			s := newStack(t, ttl)
			ctx := context.Background()
			a := s.upload(t, s.patient, labResult)
			s.upload(t, s.patient, labResult)
			s.grant(t, model.GrantRequest{ID: "g", Actions: []string{"read"}, Categories: []string{"lab"}})

			since := s.calls()
			first, err := s.svc.Read(ctx, s.clinicianViaGateway, a.ID, 0, "TREAT")
			require.NoError(t, err)
			require.Equal(t, map[string]int{"AuthorizeRead": 1}, since())

			since = s.calls()
			second, err := s.svc.Read(ctx, s.clinicianViaGateway, a.ID, 0, "TREAT")
			require.NoError(t, err)
			require.Equal(t, map[string]int{"AuthorizeRead": 1}, since(), "a cached decision does not replace the ledger's word on a read")
			require.True(t, second.Decision.DecidedAt.After(first.Decision.DecidedAt), "each read is decided when it happens")

			since = s.calls()
			hist, _, err := s.svc.ReadHistory(ctx, s.clinicianViaGateway, s.patientID, "", "TREAT", ledger.Page{})
			require.NoError(t, err)
			require.Len(t, hist, 2)
			require.Equal(t, map[string]int{"GetPatientHistory": 1, "AuthorizeRead": 2}, since())

			pending, err := s.queue.Pending(10)
			require.NoError(t, err)
			require.Len(t, pending, 4)
			for i, it := range pending[:2] {
				require.Equal(t, []*gateway.Release{first, second}[i].Decision.DecidedAt, it.Report.AccessedAt, "the access time is the read's")
			}

			// A page read takes a read decision from the cache only for a record the ledger
			// has just listed to the caller; its audit report says when the read happened.
			listing, err := s.clinicianViaGateway.GetPatientHistory(ctx, s.patientID, "", ledger.Page{})
			require.NoError(t, err)
			since = s.calls()
			before := time.Now()
			for _, p := range s.svc.ReadPage(ctx, s.clinicianViaGateway, listing.Records, "TREAT") {
				require.NoError(t, p.Err)
			}
			if ttl > 0 {
				require.Empty(t, since())
				pending, err := s.queue.Pending(10)
				require.NoError(t, err)
				for _, it := range pending[4:] {
					require.False(t, it.Report.AccessedAt.Before(before.Truncate(time.Millisecond)), "a cached decision's read is audited at the read's time")
				}
			} else {
				require.Equal(t, map[string]int{"AuthorizeRead": 2}, since())
			}
		})
	}
}

// TestRevokeRefusesTheNextReadWithoutEvents: with decisions cached for a minute and no event
// listener to drop them, the first read after a revoke is refused, and the revoked record is
// no longer listed, so no page read can reach it either.
func TestRevokeRefusesTheNextReadWithoutEvents(t *testing.T) {
	s := newStack(t, time.Minute)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g", Actions: []string{"read"}, Categories: []string{"lab"}})
	_, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)

	_, err = s.patient.RevokeGrant(ctx, "g")
	require.NoError(t, err)
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrGrantRevoked)
	hist, _, err := s.svc.ReadHistory(ctx, s.clinicianViaGateway, s.patientID, "", "", ledger.Page{})
	require.NoError(t, err)
	require.Empty(t, hist)
	listing, err := s.clinicianViaGateway.GetPatientHistory(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Empty(t, listing.Records)
}

// TestMissingContentDegradesOnlyItsVersion: a history in which one record's stored content is
// gone lists the rest with their content and that one as unavailable, and the operator is
// alerted with the word "missing" and without the patient's pseudonym; altered content still
// fails as an integrity failure.
func TestMissingContentDegradesOnlyItsVersion(t *testing.T) {
	s := newStack(t, 0)
	var logs bytes.Buffer
	svc, err := gateway.New(gateway.Config{Blobs: mustDisk(t, s.blobDir), Keys: s.keys, Audit: s.queue, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	ctx := context.Background()
	kept := s.upload(t, s.patient, labResult)
	lost := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g", Actions: []string{"read"}, Categories: []string{"lab"}})
	path := filepath.Join(s.blobDir, "objects", "records", s.patientID, lost.LatestHash+".blob")
	require.NoError(t, os.Remove(path))

	hist, _, err := svc.ReadHistory(ctx, s.clinicianViaGateway, s.patientID, "", "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, hist, 2)
	for _, rel := range hist {
		switch rel.Record.ID {
		case kept.ID:
			require.NoError(t, rel.Unavailable)
			require.JSONEq(t, labResult, string(rel.Data))
		case lost.ID:
			require.ErrorIs(t, rel.Unavailable, gateway.ErrContentMissing)
			require.NotErrorIs(t, rel.Unavailable, gateway.ErrIntegrity)
			require.Empty(t, rel.Data)
			require.Equal(t, 1, rel.Version.Number)
			require.Equal(t, model.BasisGrant, rel.Decision.Basis)
		}
	}
	pending, err := s.queue.Pending(10)
	require.NoError(t, err)
	require.Len(t, pending, 1, "only what was released is audited")
	require.Equal(t, kept.ID, pending[0].Report.RecordID)

	_, err = svc.Read(ctx, s.clinicianViaGateway, lost.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrContentMissing)
	require.Contains(t, logs.String(), "alert=missing")
	require.Contains(t, logs.String(), lost.ID)
	require.NotContains(t, logs.String(), s.patientID, "no pseudonym in the log")
	require.NotContains(t, logs.String(), "alert=integrity")

	// Altered content is not missing: the history fails as an integrity failure.
	tampered := filepath.Join(s.blobDir, "objects", "records", s.patientID, kept.LatestHash+".blob")
	require.NoError(t, os.WriteFile(tampered, []byte("tampered"), 0o600))
	_, _, err = svc.ReadHistory(ctx, s.clinicianViaGateway, s.patientID, "", "", ledger.Page{})
	require.ErrorIs(t, err, gateway.ErrIntegrity)
	require.True(t, strings.Contains(logs.String(), "alert=integrity"))
}

func mustDisk(t *testing.T, dir string) blob.Store {
	t.Helper()
	d, err := blob.NewDisk(dir)
	require.NoError(t, err)
	return d
}
