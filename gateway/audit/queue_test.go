package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/stretchr/testify/require"
)

func report(i int, msp string) model.AccessReport {
	return model.AccessReport{ID: fmt.Sprintf("a%04d", i), RecordID: "r", Version: 1, Action: "read",
		Accessor: model.Party{MSP: msp, ID: "00000000000000000000000000000000", Role: model.RoleClinician},
		Basis:    model.BasisGrant, GrantID: "g", AccessedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)}
}

func TestQueueSurvivesReopenInOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	q, err := audit.Open(path)
	require.NoError(t, err)
	var wg sync.WaitGroup
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			require.NoError(t, q.Enqueue(context.Background(), report(i, "ClinicMSP")))
		}(i)
	}
	wg.Wait()
	require.NoError(t, q.Close()) // as if the process stopped before flushing

	q, err = audit.Open(path)
	require.NoError(t, err)
	defer q.Close()
	n, err := q.Len()
	require.NoError(t, err)
	require.Equal(t, 50, n)
	items, err := q.Pending(100)
	require.NoError(t, err)
	seen := map[string]bool{}
	for i, it := range items {
		if i > 0 {
			require.Greater(t, it.Seq, items[i-1].Seq)
		}
		seen[it.Report.ID] = true
	}
	require.Len(t, seen, 50)
	require.NoError(t, q.Done([]uint64{items[0].Seq}))
	n, _ = q.Len()
	require.Equal(t, 49, n)
}

// refusingWriter stands in for the ledger's batch write in this unit test of the flusher's
// splitting: it refuses any batch holding one of the refused report IDs, as the chaincode
// refuses a whole batch when one report is not backed.
type refusingWriter struct {
	mu       sync.Mutex
	refuse   map[string]bool
	accepted []string
	calls    int
}

func (w *refusingWriter) RecordAccesses(_ context.Context, batch []model.AccessReport) (*model.AuditResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls++
	for _, r := range batch {
		if w.refuse[r.ID] {
			return nil, model.Errorf(model.CodeForbidden, "report not backed")
		}
	}
	for _, r := range batch {
		w.accepted = append(w.accepted, r.ID)
	}
	return &model.AuditResult{Recorded: len(batch)}, nil
}

func TestFlusherIsolatesRefusedReportsAndRoutesByOrganisation(t *testing.T) {
	q, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer q.Close()
	for i := 0; i < 40; i++ {
		msp := "ClinicMSP"
		if i%4 == 0 {
			msp = "PatientsMSP"
		}
		require.NoError(t, q.Enqueue(context.Background(), report(i, msp)))
	}
	require.NoError(t, q.Enqueue(context.Background(), report(99, "UnknownMSP")))
	clinic := &refusingWriter{refuse: map[string]bool{"a0013": true}}
	patients := &refusingWriter{refuse: map[string]bool{}}
	f := audit.NewFlusher(q, map[string]audit.Writer{"ClinicMSP": clinic, "PatientsMSP": patients}, audit.WithBatchSize(8))
	require.NoError(t, f.Flush(context.Background()))

	n, _ := q.Len()
	require.Zero(t, n)
	rejected, _ := q.Rejected()
	require.Equal(t, 2, rejected, "the refused report and the one no gateway may write")
	require.Len(t, clinic.accepted, 29)
	require.NotContains(t, clinic.accepted, "a0013")
	require.Len(t, patients.accepted, 10)
	require.Less(t, clinic.calls, 12, "batches, not one transaction per report")
}

func TestConcurrentFlushesSendEachReportOnce(t *testing.T) {
	q, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer q.Close()
	for i := 0; i < 30; i++ {
		require.NoError(t, q.Enqueue(context.Background(), report(i, "ClinicMSP")))
	}
	w := &refusingWriter{refuse: map[string]bool{}}
	f := audit.NewFlusher(q, map[string]audit.Writer{"ClinicMSP": w}, audit.WithBatchSize(4))
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); require.NoError(t, f.Flush(context.Background())) }()
	}
	wg.Wait()
	seen := map[string]int{}
	for _, id := range w.accepted {
		seen[id]++
		require.Equal(t, 1, seen[id], "report %s sent twice", id)
	}
	require.Len(t, seen, 30)
}

// signed returns report i carrying an assertion with the given nonce (the signature is not
// checked here: the queue only remembers which assertions it has seen).
func signed(i int, nonce string) model.AccessReport {
	r := report(i, "ClinicMSP")
	r.Certificate = "-----BEGIN CERTIFICATE-----\n" + strings.Repeat("A", 1000) + "\n-----END CERTIFICATE-----\n"
	r.Assertion = &model.SignedAssertion{AccessAssertion: model.AccessAssertion{Nonce: nonce, RecordID: r.RecordID, Action: r.Action, At: r.AccessedAt}, Signature: make([]byte, 72)}
	return r
}

func TestQueueRefusesAReplayedAssertionAndForgetsItOnceItCannotMatter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.db")
	q, err := audit.Open(path)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, q.Enqueue(ctx, signed(1, "nonce-0000000001")))
	require.NoError(t, q.Close())
	q, err = audit.Open(path) // a restart forgets nothing
	require.NoError(t, err)
	defer q.Close()

	err = q.Enqueue(ctx, signed(2, "nonce-0000000001"))
	require.ErrorIs(t, err, audit.ErrReplayed)
	n, _ := q.Len()
	require.Equal(t, 1, n, "the replay queued nothing")
	other := signed(3, "nonce-0000000001")
	other.RecordID = "r2" // a history assertion covers each of the patient's records once
	require.NoError(t, q.Enqueue(ctx, other))
	require.NoError(t, q.Enqueue(ctx, signed(4, "nonce-0000000002")))

	// Long after the assertion's window, an access with it would be refused for its time
	// anyway, so the queue has forgotten it.
	late := signed(5, "nonce-0000000003")
	late.AccessedAt = late.AccessedAt.Add(time.Hour)
	require.NoError(t, q.Enqueue(ctx, late))
	again := signed(6, "nonce-0000000001")
	again.AccessedAt = late.AccessedAt
	require.NoError(t, q.Enqueue(ctx, again))
}

func TestFlusherKeepsEachBatchWithinTheChaincodesArgumentLimit(t *testing.T) {
	q, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer q.Close()
	for i := 0; i < 200; i++ {
		require.NoError(t, q.Enqueue(context.Background(), signed(i, fmt.Sprintf("nonce-%010d", i))))
	}
	w := &sizeWriter{}
	require.NoError(t, audit.NewFlusher(q, map[string]audit.Writer{"ClinicMSP": w}).Flush(context.Background()))
	require.Equal(t, 200, w.reports)
	require.LessOrEqual(t, w.largest, model.MaxArgumentBytes)
	require.Less(t, w.calls, 10)
}

// sizeWriter refuses, as the chaincode does, any batch larger than it accepts.
type sizeWriter struct{ calls, reports, largest int }

func (w *sizeWriter) RecordAccesses(_ context.Context, batch []model.AccessReport) (*model.AuditResult, error) {
	b, _ := json.Marshal(batch)
	if len(b) > model.MaxArgumentBytes {
		return nil, model.Errorf(model.CodeInvalidArgument, "batch is larger than %d bytes", model.MaxArgumentBytes)
	}
	w.calls++
	w.reports += len(batch)
	w.largest = max(w.largest, len(b))
	return &model.AuditResult{Recorded: len(batch)}, nil
}

// signedRefusingWriter refuses any batch with a member's assertion, as the ledger refuses one
// replayed through another gateway process, and keeps what it accepts.
type signedRefusingWriter struct{ accepted []model.AccessReport }

func (w *signedRefusingWriter) RecordAccesses(_ context.Context, batch []model.AccessReport) (*model.AuditResult, error) {
	for _, r := range batch {
		if r.Assertion != nil {
			return nil, model.Errorf(model.CodeForbidden, "report 0: the member's assertion was already used (replayed)")
		}
	}
	w.accepted = append(w.accepted, batch...)
	return &model.AuditResult{Recorded: len(batch)}, nil
}

func TestAnAccessWhoseAssertionTheLedgerRefusesStaysInTheTrailAsGatewayAsserted(t *testing.T) {
	q, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer q.Close()
	require.NoError(t, q.Enqueue(context.Background(), signed(1, "nonce-0000000001")))
	require.NoError(t, q.Enqueue(context.Background(), report(2, "ClinicMSP")))
	w := &signedRefusingWriter{}
	require.NoError(t, audit.NewFlusher(q, map[string]audit.Writer{"ClinicMSP": w}).Flush(context.Background()))
	n, _ := q.Len()
	rejected, _ := q.Rejected()
	require.Zero(t, n)
	require.Zero(t, rejected, "the released content's access is recorded, not set aside")
	require.Len(t, w.accepted, 2)
	for _, r := range w.accepted {
		require.Nil(t, r.Assertion)
		require.Empty(t, r.Certificate)
	}
}
