package network_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// TestNodeResumesAfterBlockWritesFail: while the block log cannot be written (a full disk, a
// torn write, a failed fsync), the node reports why, refuses new transactions and
// acknowledges nothing; once the disk works again it resumes by itself, commits what it had
// accepted, and every acknowledged transaction survives a restart and verification.
func TestNodeResumesAfterBlockWritesFail(t *testing.T) {
	for name, fault := range map[string]network.BlockLogFault{
		"full disk": network.FullDisk, "torn write": network.TornWrite, "failed fsync": network.FailedSync,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
			require.NoError(t, err)
			faults := network.InjectBlockLogFaults(n)
			require.NoError(t, n.Start(context.Background()))
			t.Cleanup(func() { _ = n.Close() })
			c := contractFor(t, n, network.ClinicMSP, "clinician1")
			_, err = c.SubmitTransaction("put", "before", "1")
			require.NoError(t, err)
			require.NoError(t, n.Err())
			height := n.Height()

			faults.Set(fault)
			pending := make(chan error, 1)
			go func() {
				_, err := c.SubmitTransaction("put", "during", "2")
				pending <- err
			}()
			require.Eventually(t, func() bool { return n.Err() != nil }, 30*time.Second, 10*time.Millisecond)
			require.Equal(t, height, n.Height(), "no block was committed")
			_, err = c.SubmitTransaction("put", "refused", "3")
			require.Error(t, err, "new transactions are refused while blocks cannot be written")
			select {
			case err := <-pending:
				t.Fatalf("a transaction was answered while its block could not be written: %v", err)
			case <-time.After(200 * time.Millisecond):
			}

			faults.Set(network.NoFault)
			require.Eventually(t, func() bool { return n.Err() == nil }, 30*time.Second, 10*time.Millisecond)
			require.NoError(t, <-pending, "the accepted transaction commits once the disk works")
			_, err = c.SubmitTransaction("put", "after", "4")
			require.NoError(t, err)
			require.NoError(t, n.Close())

			n2 := startNode(t, dir)
			c2 := contractFor(t, n2, network.ClinicMSP, "clinician1")
			for k, want := range map[string]string{"before": "1", "during": "2", "after": "4", "refused": ""} {
				v, err := c2.EvaluateTransaction("get", k)
				require.NoError(t, err)
				require.Equal(t, want, string(v), k)
			}
			rep, err := n2.Verify(context.Background())
			require.NoError(t, err)
			require.Equal(t, n2.Height(), rep.Blocks, fmt.Sprint(rep))
		})
	}
}
