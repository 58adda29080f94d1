package audit_test

import (
	"context"
	"fmt"
	"path/filepath"
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
