package network_test

import (
	"context"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/stretchr/testify/require"
)

func nextEvent(t *testing.T, events <-chan *client.ChaincodeEvent) *client.ChaincodeEvent {
	t.Helper()
	select {
	case ev, ok := <-events:
		require.True(t, ok, "event stream closed")
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no chaincode event within 10s")
		return nil
	}
}

func TestChaincodeEventsWithResume(t *testing.T) {
	n := startNode(t, t.TempDir())
	// The clinic's gateway follows events; the clinician submits.
	nw := connect(t, n, loadUser(t, n, network.ClinicMSP, "gateway")).GetNetwork(network.DefaultChannel)
	c := contractFor(t, n, network.ClinicMSP, "clinician1")

	startBlock := n.Height()
	var txIDs []string
	for _, k := range []string{"e1", "e2", "e3"} {
		id, err := c.SubmitTransaction("put", k, "v")
		require.NoError(t, err)
		txIDs = append(txIDs, string(id))
	}
	_, err := c.SubmitTransaction("fail", "no event") // rejected at endorsement: never on the ledger
	require.Error(t, err)

	// Replay from a start block.
	ctx, cancel := context.WithCancel(context.Background())
	events, err := nw.ChaincodeEvents(ctx, network.DefaultChaincode, client.WithStartBlock(startBlock))
	require.NoError(t, err)
	checkpoint := new(client.InMemoryCheckpointer)
	first := nextEvent(t, events)
	require.Equal(t, "put", first.EventName)
	require.Equal(t, "e1", string(first.Payload))
	require.Equal(t, txIDs[0], first.TransactionID)
	require.Equal(t, startBlock, first.BlockNumber)
	checkpoint.CheckpointChaincodeEvent(first)
	cancel()

	// Resume after the checkpointed event: the next one is e2, then e3, then live events.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	resumed, err := nw.ChaincodeEvents(ctx2, network.DefaultChaincode, client.WithCheckpoint(checkpoint))
	require.NoError(t, err)
	require.Equal(t, txIDs[1], nextEvent(t, resumed).TransactionID)
	require.Equal(t, txIDs[2], nextEvent(t, resumed).TransactionID)
	live, err := c.SubmitTransaction("put", "e4", "v")
	require.NoError(t, err)
	ev := nextEvent(t, resumed)
	require.Equal(t, string(live), ev.TransactionID)
	require.Equal(t, "e4", string(ev.Payload))

	// Events of another chaincode name are not delivered.
	ctx3, cancel3 := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel3()
	other, err := nw.ChaincodeEvents(ctx3, "othercc", client.WithStartBlock(0))
	require.NoError(t, err)
	for range other {
		t.Fatal("unexpected event for another chaincode")
	}
}

func TestBlockEvents(t *testing.T) {
	n := startNode(t, t.TempDir())
	gw := connect(t, n, loadUser(t, n, network.PatientsMSP, "gateway"))
	nw := gw.GetNetwork(network.DefaultChannel)
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	_, err := c.SubmitTransaction("put", "k", "v")
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	blocks, err := nw.BlockEvents(ctx, client.WithStartBlock(0))
	require.NoError(t, err)
	genesis := <-blocks
	require.EqualValues(t, 0, genesis.GetHeader().GetNumber())
	b1 := <-blocks
	require.EqualValues(t, 1, b1.GetHeader().GetNumber())
	require.Len(t, b1.GetData().GetData(), 1)

	filtered, err := nw.FilteredBlockEvents(ctx, client.WithStartBlock(1))
	require.NoError(t, err)
	fb := <-filtered
	require.EqualValues(t, 1, fb.GetNumber())
	require.Len(t, fb.GetFilteredTransactions(), 1)
	require.Equal(t, common.HeaderType_ENDORSER_TRANSACTION, fb.GetFilteredTransactions()[0].GetType())
	require.Equal(t, "put", fb.GetFilteredTransactions()[0].GetTransactionActions().GetChaincodeActions()[0].GetChaincodeEvent().GetEventName())

	// Live blocks arrive as they commit.
	_, err = c.SubmitTransaction("put", "k2", "v")
	require.NoError(t, err)
	b2 := <-blocks
	require.EqualValues(t, 2, b2.GetHeader().GetNumber())
}
