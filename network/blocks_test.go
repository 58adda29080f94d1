package network_test

import (
	"context"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
)

// readBlock fetches block num through the real client's block events API.
func readBlock(t *testing.T, n *network.Node, num uint64) *common.Block {
	t.Helper()
	gw := connect(t, n, loadUser(t, n, network.PatientsMSP, "Admin"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	blocks, err := gw.GetNetwork(network.DefaultChannel).BlockEvents(ctx, client.WithStartBlock(num))
	require.NoError(t, err)
	b, ok := <-blocks
	require.True(t, ok, "no block %d", num)
	return b
}

func blockFlags(t *testing.T, n *network.Node, num uint64) []peer.TxValidationCode {
	b := readBlock(t, n, num)
	var out []peer.TxValidationCode
	for _, f := range b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER] {
		out = append(out, peer.TxValidationCode(f))
	}
	return out
}
