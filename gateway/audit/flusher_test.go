package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/gateway/audit"
	"github.com/stretchr/testify/require"
)

// Every audit transaction carries some 5 KB of certificates and signatures: reads kicked
// within the linger go to the ledger together, not one transaction each.
func TestKickedReadsWithinTheLingerShareOneTransaction(t *testing.T) {
	q, err := audit.Open(filepath.Join(t.TempDir(), "audit.db"))
	require.NoError(t, err)
	defer q.Close()
	w := &refusingWriter{refuse: map[string]bool{}}
	f := audit.NewFlusher(q, map[string]audit.Writer{"ClinicMSP": w}, audit.WithInterval(time.Hour), audit.WithLinger(time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Run(ctx); close(done) }()
	for i := range 20 {
		require.NoError(t, q.Enqueue(ctx, report(i, "ClinicMSP")))
		f.Kick() // as the gateway does after each read
	}
	cancel() // the last attempt at shutdown writes what the linger gathered
	<-done
	require.Equal(t, 1, w.calls, "one transaction for the reads kicked within the linger")
	require.Len(t, w.accepted, 20)
}
