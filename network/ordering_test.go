package network_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
)

func TestConflictsWithinOneBlock(t *testing.T) {
	const count = 8
	// The block is cut when exactly count transactions arrived; the timeout never fires.
	n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{},
		BatchSize: count, BatchTimeout: time.Hour})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })
	c := contractFor(t, n, network.ClinicMSP, "clinician1")

	txs := make([]*client.Transaction, count)
	for i := range txs {
		prop, err := c.NewProposal("incr", client.WithArguments("shared"))
		require.NoError(t, err)
		txs[i], err = prop.Endorse()
		require.NoError(t, err)
	}
	start := n.Height()
	commits := make([]*client.Commit, count)
	for i, tx := range txs {
		commits[i], err = tx.Submit()
		require.NoError(t, err)
	}
	valid := 0
	blocks := map[uint64]bool{}
	for _, cm := range commits {
		st, err := cm.Status()
		require.NoError(t, err)
		blocks[st.BlockNumber] = true
		switch st.Code {
		case peer.TxValidationCode_VALID:
			valid++
		default:
			require.Equal(t, peer.TxValidationCode_MVCC_READ_CONFLICT, st.Code)
		}
	}
	require.Equal(t, 1, valid, "only the first of conflicting increments in a block is valid")
	require.Equal(t, map[uint64]bool{start: true}, blocks, "all in one block")
	v, err := c.EvaluateTransaction("get", "shared")
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
}

func TestBatchSizeCutsBlocks(t *testing.T) {
	n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{},
		BatchSize: 3, BatchTimeout: 300 * time.Millisecond})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })
	c := contractFor(t, n, network.ClinicMSP, "clinician1")

	var wg sync.WaitGroup
	for i := range 7 {
		wg.Go(func() {
			_, err := c.SubmitTransaction("put", string(rune('a'+i)), "v")
			require.NoError(t, err)
		})
	}
	wg.Wait()
	total := 0
	for num := uint64(1); num < n.Height(); num++ {
		size := len(readBlock(t, n, num).GetData().GetData())
		require.LessOrEqual(t, size, 3)
		total += size
	}
	require.Equal(t, 7, total)
	require.GreaterOrEqual(t, n.Height(), uint64(1+3))
}
