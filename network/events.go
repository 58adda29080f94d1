package network

import (
	"context"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// readBlock returns committed block num.
func (n *Node) readBlock(num uint64) (*common.Block, error) {
	var raw []byte
	err := n.store.db.View(func(btx *bolt.Tx) error {
		var err error
		raw, err = n.store.readBlockBytes(btx, num)
		return err
	})
	if err != nil {
		return nil, err
	}
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("read block %d: %w", num, err)
	}
	return b, nil
}

// followBlocks calls fn for every block from start on, waiting for new blocks, until fn fails,
// ctx ends or the node closes.
func (n *Node) followBlocks(ctx context.Context, start uint64, fn func(*common.Block) error) error {
	next := start
	for {
		height, signal := n.blockSignal()
		for ; next < height; next++ {
			b, err := n.readBlock(next)
			if err != nil {
				return err
			}
			if err := fn(b); err != nil {
				return err
			}
		}
		select {
		case <-signal:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.done:
			return ErrClosed
		}
	}
}

// blockEvents returns the chaincode events of a block's valid transactions, in block order.
func blockEvents(b *common.Block) []*peer.ChaincodeEvent {
	flags := b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	var out []*peer.ChaincodeEvent
	for i, raw := range b.GetData().GetData() {
		if i >= len(flags) || peer.TxValidationCode(flags[i]) != peer.TxValidationCode_VALID {
			continue
		}
		if ev := envelopeEvent(raw); ev != nil {
			out = append(out, ev)
		}
	}
	return out
}

// envelopeEvent extracts the chaincode event of an endorser transaction, if it has one.
func envelopeEvent(raw []byte) *peer.ChaincodeEvent {
	act := envelopeAction(raw)
	if act == nil || len(act.GetEvents()) == 0 {
		return nil
	}
	ev := &peer.ChaincodeEvent{}
	if proto.Unmarshal(act.GetEvents(), ev) != nil || ev.GetEventName() == "" {
		return nil
	}
	return ev
}

// envelopeAction digs the chaincode action out of an endorser transaction envelope.
func envelopeAction(raw []byte) *peer.ChaincodeAction {
	env := &common.Envelope{}
	payload := &common.Payload{}
	tx := &peer.Transaction{}
	cap := &peer.ChaincodeActionPayload{}
	prp := &peer.ProposalResponsePayload{}
	act := &peer.ChaincodeAction{}
	if proto.Unmarshal(raw, env) != nil || proto.Unmarshal(env.GetPayload(), payload) != nil ||
		proto.Unmarshal(payload.GetData(), tx) != nil || len(tx.GetActions()) == 0 ||
		proto.Unmarshal(tx.GetActions()[0].GetPayload(), cap) != nil ||
		proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), prp) != nil ||
		proto.Unmarshal(prp.GetExtension(), act) != nil {
		return nil
	}
	return act
}
