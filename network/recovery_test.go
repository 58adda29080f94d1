package network_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// The block log is the ledger of record and the bbolt index is derived from it. These tests
// build an index by live commits, then make the node derive it again from the log in each way
// it can have to (the index lags after a process crash, the index is untrusted after a machine
// crash, a ledger from before the block log) and require the two to be identical, byte for byte.

func indexPath(dir string) string { return filepath.Join(network.LedgerDir(dir), "ledger.db") }
func logPath(dir string) string   { return filepath.Join(network.LedgerDir(dir), "blocks.log") }
func markerPath(dir string) string {
	return filepath.Join(network.LedgerDir(dir), "in-use")
}

// commitSome submits puts, overwrites and deletes through the real client, so that state,
// history and the transaction index all change.
func commitSome(t *testing.T, n *network.Node, round int) {
	t.Helper()
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	for i := range 6 {
		_, err := c.SubmitTransaction("put", fmt.Sprintf("k%d", i%4), fmt.Sprintf("round %d value %d", round, i))
		require.NoError(t, err)
	}
	_, err := c.SubmitTransaction("del", "k1")
	require.NoError(t, err)
	_, err = c.SubmitTransaction("incr", "counter")
	require.NoError(t, err)
}

// runNode opens the ledger in dir, commits a round and closes it cleanly.
func runNode(t *testing.T, dir string, round int) {
	t.Helper()
	n := startNode(t, dir)
	commitSome(t, n, round)
	require.NoError(t, n.Close())
}

// dumpIndex reads every bucket of an index file.
func dumpIndex(t *testing.T, path string) map[string]map[string]string {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	require.NoError(t, err)
	defer db.Close()
	out := map[string]map[string]string{}
	require.NoError(t, db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := map[string]string{}
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				m[string(k)] = string(v)
				return nil
			})
		})
	}))
	return out
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, b, 0o600))
}

func bootID(t *testing.T) string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Skip("this system has no boot ID (/proc/sys/kernel/random/boot_id); the node treats every unclean stop as a machine crash there")
	}
	return strings.TrimSpace(string(b))
}

// TestReplayAfterProcessCrash: the process died after a block's record was synced but before
// the index commit (simulated with an older copy of the index, as the index would be). The
// next open replays the missing blocks and the index equals the one live commits built.
func TestReplayAfterProcessCrash(t *testing.T) {
	boot := bootID(t)
	dir := t.TempDir()
	runNode(t, dir, 1)
	lagging := filepath.Join(t.TempDir(), "lagging.db")
	copyFile(t, indexPath(dir), lagging)
	runNode(t, dir, 2)
	live := dumpIndex(t, indexPath(dir))

	require.NotEqual(t, live["meta"]["height"], dumpIndex(t, lagging)["meta"]["height"], "the copy must lag")
	copyFile(t, lagging, indexPath(dir))
	require.NoError(t, os.WriteFile(markerPath(dir), []byte(boot), 0o600))
	n := startNode(t, dir)
	require.EqualValues(t, live["meta"]["height"], string(u64(n.Height())))
	got, err := contractFor(t, n, network.ClinicMSP, "clinician1").EvaluateTransaction("get", "k3")
	require.NoError(t, err)
	require.Equal(t, "round 2 value 3", string(got))
	require.NoError(t, n.Close())
	require.Equal(t, live, dumpIndex(t, indexPath(dir)))
	_, err = os.Stat(markerPath(dir))
	require.ErrorIs(t, err, os.ErrNotExist, "a clean close removes the in-use marker")
}

// TestRebuildAfterMachineCrash: the ledger was open when the machine went down (the marker
// holds another boot's ID), so unsynced index pages may be torn. The node throws the index
// away and rebuilds it from the log, identical to the live one.
func TestRebuildAfterMachineCrash(t *testing.T) {
	dir := t.TempDir()
	runNode(t, dir, 1)
	runNode(t, dir, 2)
	live := dumpIndex(t, indexPath(dir))

	// Garbage where the index was: it must not even be read.
	require.NoError(t, os.WriteFile(indexPath(dir), []byte("torn pages"), 0o600))
	require.NoError(t, os.WriteFile(markerPath(dir), []byte("boot-before-the-power-cut"), 0o600))
	n := startNode(t, dir)
	require.NoError(t, n.Close())
	require.Equal(t, live, dumpIndex(t, indexPath(dir)))

	// And it keeps going from there.
	runNode(t, dir, 3)
	rep, err := network.Verify(context.Background(), network.Config{Dir: dir})
	require.NoError(t, err)
	require.EqualValues(t, 1+3*8, rep.Blocks)
}

// TestUnfinishedRecordIsDropped: a record cut short by a crash was never acknowledged; verify
// reports it without calling the chain broken, and the next open drops it and carries on.
func TestUnfinishedRecordIsDropped(t *testing.T) {
	dir := t.TempDir()
	runNode(t, dir, 1)
	// Where block 9 would start, a record header and the first bytes of the block.
	off, last := blockRecord(t, dir, 8)
	f, err := os.OpenFile(logPath(dir), os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteAt(append(binary.LittleEndian.AppendUint32(nil, 5000), "only the start of a block"...), off+8+int64(len(last)))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	rep, err := network.Verify(context.Background(), network.Config{Dir: dir})
	require.NoError(t, err)
	require.True(t, rep.UnfinishedRecord)
	require.EqualValues(t, 9, rep.Blocks)

	require.NoError(t, os.WriteFile(markerPath(dir), []byte("any"), 0o600))
	runNode(t, dir, 2)
	rep, err = network.Verify(context.Background(), network.Config{Dir: dir})
	require.NoError(t, err)
	require.False(t, rep.UnfinishedRecord)
	require.EqualValues(t, 17, rep.Blocks)
}

// TestShortLogIsRefused: a log that lacks blocks the index holds was damaged outside the node;
// the node refuses to open it rather than serve a ledger that forgot acknowledged blocks.
func TestShortLogIsRefused(t *testing.T) {
	dir := t.TempDir()
	runNode(t, dir, 1)
	off, _ := blockRecord(t, dir, 5)
	require.NoError(t, os.Truncate(logPath(dir), off+20))
	_, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	require.ErrorContains(t, err, "the block log ends before block 8")
	_, err = network.Verify(context.Background(), network.Config{Dir: dir})
	require.ErrorIs(t, err, network.ErrBrokenChain)
}

// TestMigrateBlocksIntoLog: ledgers written before the block log kept whole blocks in bbolt.
// Opening one moves the blocks into the log once; the index then equals a native one.
func TestMigrateBlocksIntoLog(t *testing.T) {
	dir := t.TempDir()
	runNode(t, dir, 1)
	native := dumpIndex(t, indexPath(dir))

	// Turn the ledger into the old layout: blocks in the index, no log, no format mark.
	db, err := bolt.Open(indexPath(dir), 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		for num := range uint64(9) {
			if err := tx.Bucket([]byte("blocks")).Put(u64(num), readRawBlock(t, dir, num)); err != nil {
				return err
			}
		}
		return tx.Bucket([]byte("meta")).Delete([]byte("format"))
	}))
	require.NoError(t, db.Close())
	require.NoError(t, os.Remove(logPath(dir)))
	require.NotEqual(t, native, dumpIndex(t, indexPath(dir)))

	n := startNode(t, dir)
	got, err := contractFor(t, n, network.ClinicMSP, "clinician1").EvaluateTransaction("get", "k2")
	require.NoError(t, err)
	require.Equal(t, "round 1 value 2", string(got))
	require.NoError(t, n.Close())
	require.Equal(t, native, dumpIndex(t, indexPath(dir)))
	_, err = network.Verify(context.Background(), network.Config{Dir: dir})
	require.NoError(t, err)
}

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

// TestSecondNodeIsRefused: a second node on a ledger in use is refused before it looks at the
// in-use marker, which it would otherwise take for a crash (and, without a boot ID, rebuild the
// running node's index). The running node keeps working.
func TestSecondNodeIsRefused(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	commitSome(t, n, 1)
	before := dumpIndexLive(t, n)
	_, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	require.ErrorContains(t, err, "another process (a running node?) has it open")
	_, err = os.Stat(indexPath(dir))
	require.NoError(t, err, "the running node's index is still there")
	require.Equal(t, before, dumpIndexLive(t, n))
	commitSome(t, n, 2)
	require.NoError(t, n.Close())
	rep, err := network.Verify(context.Background(), network.Config{Dir: dir})
	require.NoError(t, err)
	require.EqualValues(t, 17, rep.Blocks)
}

// dumpIndexLive is what a running node serves: its height and a key's value.
func dumpIndexLive(t *testing.T, n *network.Node) string {
	got, err := contractFor(t, n, network.ClinicMSP, "clinician1").EvaluateTransaction("get", "k0")
	require.NoError(t, err)
	return fmt.Sprintf("height %d, k0 %q", n.Height(), got)
}
