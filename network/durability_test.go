package network_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/network/networktest"
	"github.com/stretchr/testify/require"
)

func TestRestartKeepsCommittedData(t *testing.T) {
	dir := t.TempDir()
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	for i := range 5 {
		_, err := c.SubmitTransaction("put", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
		require.NoError(t, err)
	}
	height := n.Height()
	require.NoError(t, n.Close())

	n2 := startNode(t, dir)
	require.Equal(t, height, n2.Height())
	c2 := contractFor(t, n2, network.ClinicMSP, "clinician1")
	for i := range 5 {
		v, err := c2.EvaluateTransaction("get", fmt.Sprintf("k%d", i))
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("v%d", i), string(v))
	}
	_, err = c2.SubmitTransaction("put", "after", "restart")
	require.NoError(t, err)
	require.Equal(t, height+1, n2.Height())
	rep, err := n2.Verify(context.Background())
	require.NoError(t, err)
	require.Equal(t, height+1, rep.Blocks)
}

const crashChildEnv = "CARELEDGER_NETWORK_CRASH_CHILD"

// TestCrashChildProcess is the node run by TestCrashDuringLoad in a child process; it does
// nothing in a normal test run.
func TestCrashChildProcess(t *testing.T) {
	dir := os.Getenv(crashChildEnv)
	if dir == "" {
		t.Skip("helper process for TestCrashDuringLoad")
	}
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "addr.tmp"), []byte(n.Addr()), 0o600))
	require.NoError(t, os.Rename(filepath.Join(dir, "addr.tmp"), filepath.Join(dir, "addr")))
	select {} // until killed
}

func TestCrashDuringLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	// Material is generated up front so the parent can read the TLS CA and users.
	require.NoError(t, network.GenerateMaterial(dir, network.DefaultConsortium()))
	require.NoError(t, networktest.Members(dir, network.DefaultConsortium()))
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChildProcess$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })

	var addr []byte
	require.Eventually(t, func() bool {
		var err error
		addr, err = os.ReadFile(filepath.Join(dir, "addr"))
		return err == nil
	}, 30*time.Second, 10*time.Millisecond)

	cons := network.DefaultConsortium()
	clinic, _ := cons.Org(network.ClinicMSP)
	user, err := network.LoadUser(dir, clinic, "clinician1")
	require.NoError(t, err)
	operator := cons.Operator()
	caPEM, err := os.ReadFile(filepath.Join(network.OrgDir(dir, operator), "peers", network.PeerName(operator), "tls", "ca.crt"))
	require.NoError(t, err)

	const clients = 16
	var (
		mu        sync.Mutex
		committed = map[string]string{}
		wg        sync.WaitGroup
	)
	killAfter := make(chan struct{})
	var once sync.Once
	for w := range clients {
		gw := connectAddr(t, string(addr), network.PeerName(operator), caPEM, user)
		c := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
		wg.Go(func() {
			for i := 0; ; i++ {
				key, val := fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("v%d", i)
				_, err := c.SubmitTransaction("put", key, val)
				if err != nil {
					return // the node died
				}
				mu.Lock()
				committed[key] = val
				if len(committed) >= 300 {
					once.Do(func() { close(killAfter) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-killAfter:
	case <-time.After(60 * time.Second):
		t.Fatal("load did not reach 300 commits")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_, _ = cmd.Process.Wait()
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	n := startNode(t, dir)
	rep, err := n.Verify(context.Background())
	require.NoError(t, err)
	require.GreaterOrEqual(t, rep.ValidTransactions, uint64(len(committed)))
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	for key, val := range committed {
		got, err := c.EvaluateTransaction("get", key)
		require.NoError(t, err)
		require.Equal(t, val, string(got), "committed key %s lost", key)
	}
	// The restarted node keeps working.
	_, err = c.SubmitTransaction("put", "after-crash", "ok")
	require.NoError(t, err)
}

func TestVerifyDetectsModifiedBlock(t *testing.T) {
	dir := t.TempDir()
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	for i := range 4 {
		_, err := c.SubmitTransaction("put", fmt.Sprintf("k%d", i), "value-to-tamper-with")
		require.NoError(t, err)
	}
	require.NoError(t, n.Close())
	cfg := network.Config{Dir: dir}

	rep, err := network.Verify(context.Background(), cfg)
	require.NoError(t, err)
	require.EqualValues(t, 5, rep.Blocks)
	require.EqualValues(t, 5, rep.ValidTransactions)

	// Flip one byte in each part of block 2 in turn: every change is caught at block 2, by the
	// record's checksum, and with the checksum forged to match, by the hash chain and signatures.
	raw := readRawBlock(t, dir, 2)
	for _, fixCRC := range []bool{false, true} {
		for _, off := range []int{10, len(raw) / 2, len(raw) - 3} {
			t.Run(fmt.Sprintf("byte %d of %d, checksum forged %v", off, len(raw), fixCRC), func(t *testing.T) {
				tampered := append([]byte{}, raw...)
				tampered[off] ^= 0x01
				writeRawBlock(t, dir, 2, tampered, fixCRC)
				defer writeRawBlock(t, dir, 2, raw, true)
				_, err := network.Verify(context.Background(), cfg)
				var broken *network.BrokenBlockError
				require.ErrorAs(t, err, &broken)
				require.True(t, errors.Is(err, network.ErrBrokenChain))
				require.EqualValues(t, 2, broken.Block, "reason: %s", broken.Reason)
				if !fixCRC {
					require.Contains(t, broken.Reason, "checksum")
				} else {
					require.NotContains(t, broken.Reason, "checksum")
				}
			})
		}
	}
	_, err = network.Verify(context.Background(), cfg)
	require.NoError(t, err)
}

// blockRecord finds block num in the block log: the offset of its record and its bytes.
func blockRecord(t *testing.T, dir string, num uint64) (int64, []byte) {
	log, err := os.ReadFile(filepath.Join(network.LedgerDir(dir), "blocks.log"))
	require.NoError(t, err)
	off := int64(0)
	for range num {
		off += 8 + int64(binary.LittleEndian.Uint32(log[off:]))
	}
	n := int64(binary.LittleEndian.Uint32(log[off:]))
	return off, log[off+8 : off+8+n]
}

func readRawBlock(t *testing.T, dir string, num uint64) []byte {
	_, raw := blockRecord(t, dir, num)
	return raw
}

// writeRawBlock replaces block num's bytes by raw, of the same length. With fixCRC it also
// rewrites the record's checksum, as someone who knows the format would.
func writeRawBlock(t *testing.T, dir string, num uint64, raw []byte, fixCRC bool) {
	off, old := blockRecord(t, dir, num)
	require.Len(t, raw, len(old))
	f, err := os.OpenFile(filepath.Join(network.LedgerDir(dir), "blocks.log"), os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(raw, off+8)
	require.NoError(t, err)
	if fixCRC {
		_, err = f.WriteAt(binary.LittleEndian.AppendUint32(nil, crc32.Checksum(raw, crc32.MakeTable(crc32.Castagnoli))), off+4)
		require.NoError(t, err)
	}
}

func TestLedgerBelongsToItsChannel(t *testing.T) {
	dir := t.TempDir()
	n, err := network.New(network.Config{Dir: dir, Chaincode: testChaincode{}})
	require.NoError(t, err)
	_, err = network.Verify(context.Background(), network.Config{Dir: dir})
	require.ErrorContains(t, err, "has it open", "verify refuses a ledger a node holds")
	require.NoError(t, n.Close())

	cons := network.DefaultConsortium()
	cons.Channel = "other"
	_, err = network.New(network.Config{Dir: dir, Chaincode: testChaincode{}, Consortium: cons})
	require.ErrorIs(t, err, network.ErrInvalidConfig)
}
