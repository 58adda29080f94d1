package network_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// snapshotInto writes a snapshot of dir's block log into a fresh node directory.
func snapshotInto(t *testing.T, dir string) (string, network.LogSnapshot) {
	t.Helper()
	dest := t.TempDir()
	require.NoError(t, os.MkdirAll(network.LedgerDir(dest), 0o700))
	f, err := os.Create(logPath(dest))
	require.NoError(t, err)
	snap, err := network.SnapshotBlockLog(context.Background(), dir, f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	return dest, snap
}

// TestSnapshotWhileCommitting takes snapshots while transactions commit: each is a whole,
// chained prefix whose rebuilt index opens; once the node stops, a snapshot takes every block
// and its rebuilt index equals the one live commits built, byte for byte.
func TestSnapshotWhileCommitting(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	commitSome(t, n, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for round := 2; round < 5; round++ {
			commitSome(t, n, round)
		}
	}()
	for range 3 {
		dest, snap := snapshotInto(t, dir)
		require.True(t, snap.Online)
		require.LessOrEqual(t, snap.Height, n.Height())
		h, err := network.RebuildIndex(dest, nil)
		require.NoError(t, err)
		require.Equal(t, snap.Height, h)
	}
	wg.Wait()
	require.NoError(t, n.Close())

	dest, snap := snapshotInto(t, dir)
	require.False(t, snap.Online)
	require.EqualValues(t, 1+4*8, snap.Height)
	_, err := network.RebuildIndex(dest, nil)
	require.NoError(t, err)
	require.Equal(t, dumpIndex(t, indexPath(dir)), dumpIndex(t, indexPath(dest)))
}

// TestCatchUpFromANewerLedger restores an old snapshot and appends what the live ledger
// committed since; a ledger of another chain is refused.
func TestCatchUpFromANewerLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	runNode(t, dir, 1)
	dest, old := snapshotInto(t, dir)
	runNode(t, dir, 2)

	added, err := network.CatchUp(ctx, dest, dir)
	require.NoError(t, err)
	require.EqualValues(t, 8, added)
	h, err := network.RebuildIndex(dest, nil)
	require.NoError(t, err)
	require.Equal(t, old.Height+8, h)
	require.Equal(t, dumpIndex(t, indexPath(dir)), dumpIndex(t, indexPath(dest)))

	other := t.TempDir()
	runNode(t, other, 1)
	runNode(t, other, 2)
	stale, _ := snapshotInto(t, dir)
	_, err = network.CatchUp(ctx, stale, other)
	require.ErrorIs(t, err, network.ErrLedgerMismatch)
	_, err = network.CatchUp(ctx, stale, filepath.Join(t.TempDir(), "none"))
	require.ErrorIs(t, err, os.ErrNotExist, "a missing ledger is not a diverging one")
}
