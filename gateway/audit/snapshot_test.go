package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/gateway/audit"
	"github.com/stretchr/testify/require"
)

// TestSnapshotWhileOpen copies a queue that is open and being written: the copy opens and
// holds what was enqueued before it; another process's copy of an open file is refused.
func TestSnapshotWhileOpen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "audit.db")
	q, err := audit.Open(path)
	require.NoError(t, err)
	defer q.Close()
	for i := range 10 {
		require.NoError(t, q.Enqueue(ctx, report(i, "ClinicMSP")))
	}
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	f, err := os.Create(copyPath)
	require.NoError(t, err)
	done := make(chan error)
	go func() {
		for i := 10; i < 30; i++ {
			if err := q.Enqueue(ctx, report(i, "ClinicMSP")); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	_, err = q.WriteSnapshot(f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, <-done)

	_, err = audit.SnapshotFile(path, new(os.File))
	require.ErrorIs(t, err, audit.ErrInUse)

	c, err := audit.Open(copyPath)
	require.NoError(t, err)
	defer c.Close()
	n, err := c.Len()
	require.NoError(t, err)
	require.GreaterOrEqual(t, n, 10)
	require.LessOrEqual(t, n, 30)
}
