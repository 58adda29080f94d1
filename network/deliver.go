package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	ab "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// deliverServer implements the peer Deliver service, which the client SDK's block event APIs
// (BlockEvents, FilteredBlockEvents, BlockAndPrivateDataEvents) use.
type deliverServer struct {
	peer.UnimplementedDeliverServer
	n *Node
}

type deliverKind int

const (
	deliverFull deliverKind = iota
	deliverFiltered
	deliverPrivate
)

// Deliver streams full blocks.
func (d *deliverServer) Deliver(stream peer.Deliver_DeliverServer) error {
	return d.serve(stream.Recv, func(r *peer.DeliverResponse) error { return stream.Send(r) }, stream, deliverFull)
}

// DeliverFiltered streams filtered blocks: transaction IDs, validation codes and event names.
func (d *deliverServer) DeliverFiltered(stream peer.Deliver_DeliverFilteredServer) error {
	return d.serve(stream.Recv, func(r *peer.DeliverResponse) error { return stream.Send(r) }, stream, deliverFiltered)
}

// DeliverWithPrivateData streams blocks; the embedded ledger has no private data to add.
func (d *deliverServer) DeliverWithPrivateData(stream peer.Deliver_DeliverWithPrivateDataServer) error {
	return d.serve(stream.Recv, func(r *peer.DeliverResponse) error { return stream.Send(r) }, stream, deliverPrivate)
}

type ctxer interface {
	Context() context.Context
}

func (d *deliverServer) serve(recv func() (*common.Envelope, error), send func(*peer.DeliverResponse) error, s ctxer, kind deliverKind) error {
	for {
		env, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		st, err := d.handle(s.Context(), env, send, kind)
		if err != nil {
			return err
		}
		if err := send(&peer.DeliverResponse{Type: &peer.DeliverResponse_Status{Status: st}}); err != nil {
			return err
		}
		// Like a Fabric peer, a request that did not succeed ends the stream.
		if st != common.Status_SUCCESS {
			return nil
		}
	}
}

// resource is the ACL resource a kind of Deliver is checked against: blocks with private data
// are blocks, as on a Fabric peer.
func (k deliverKind) resource() string {
	if k == deliverFiltered {
		return ResourceFilteredBlock
	}
	return ResourceBlock
}

// handle serves one seek request and returns the final status to report.
func (d *deliverServer) handle(ctx context.Context, env *common.Envelope, send func(*peer.DeliverResponse) error, kind deliverKind) (common.Status, error) {
	n := d.n
	payload := &common.Payload{}
	chdr := &common.ChannelHeader{}
	shdr := &common.SignatureHeader{}
	seek := &ab.SeekInfo{}
	if proto.Unmarshal(env.GetPayload(), payload) != nil || payload.GetHeader() == nil ||
		proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil ||
		proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), shdr) != nil ||
		proto.Unmarshal(payload.GetData(), seek) != nil {
		return common.Status_BAD_REQUEST, nil
	}
	if chdr.GetChannelId() != n.cfg.Consortium.Channel {
		return common.Status_NOT_FOUND, nil
	}
	id, err := n.signedBy(env.GetPayload(), shdr.GetCreator(), env.GetSignature())
	if err != nil {
		n.log.Debug("deliver refused", "error", err)
		return common.Status_FORBIDDEN, nil
	}
	if err := n.permits(kind.resource(), id); err != nil {
		n.log.Debug("deliver refused", "resource", kind.resource(), "error", err)
		return common.Status_FORBIDDEN, nil
	}
	height := n.chainInfo().height
	start, ok := seekNumber(seek.GetStart(), height)
	if !ok {
		return common.Status_BAD_REQUEST, nil
	}
	stop, ok := seekNumber(seek.GetStop(), height)
	if !ok || stop < start {
		return common.Status_BAD_REQUEST, nil
	}
	if seek.GetBehavior() == ab.SeekInfo_FAIL_IF_NOT_READY && stop >= height && stop != math.MaxUint64 {
		return common.Status_NOT_FOUND, nil
	}
	errDone := errors.New("stop reached")
	errExpired := errors.New("certificate expired")
	err = n.followBlocks(ctx, start, func(b *common.Block) error {
		// A stream lasts no longer than the certificate it was opened with, as Fabric's
		// session access control re-checks expiry before every block.
		if n.now().After(id.cert.NotAfter) {
			return errExpired
		}
		var resp *peer.DeliverResponse
		switch kind {
		case deliverFiltered:
			resp = &peer.DeliverResponse{Type: &peer.DeliverResponse_FilteredBlock{FilteredBlock: filterBlock(n.cfg.Consortium.Channel, b)}}
		case deliverPrivate:
			resp = &peer.DeliverResponse{Type: &peer.DeliverResponse_BlockAndPrivateData{BlockAndPrivateData: &peer.BlockAndPrivateData{Block: b}}}
		default:
			resp = &peer.DeliverResponse{Type: &peer.DeliverResponse_Block{Block: b}}
		}
		if err := send(resp); err != nil {
			return err
		}
		if b.GetHeader().GetNumber() >= stop {
			return errDone
		}
		return nil
	})
	switch {
	case errors.Is(err, errDone):
		return common.Status_SUCCESS, nil
	case errors.Is(err, errExpired):
		return common.Status_FORBIDDEN, nil
	case errors.Is(err, ErrClosed):
		return common.Status_SERVICE_UNAVAILABLE, nil
	case ctx.Err() != nil:
		return 0, ctx.Err()
	default:
		return 0, fmt.Errorf("deliver: %w", err)
	}
}

func seekNumber(p *ab.SeekPosition, height uint64) (uint64, bool) {
	switch t := p.GetType().(type) {
	case *ab.SeekPosition_Oldest:
		return 0, true
	case *ab.SeekPosition_Newest:
		return height - 1, true
	case *ab.SeekPosition_Specified:
		return t.Specified.GetNumber(), true
	case *ab.SeekPosition_NextCommit:
		return height, true
	default:
		return 0, false
	}
}

// filterBlock reduces a block to what filtered block events carry.
func filterBlock(channel string, b *common.Block) *peer.FilteredBlock {
	flags := b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	fb := &peer.FilteredBlock{ChannelId: channel, Number: b.GetHeader().GetNumber()}
	for i, raw := range b.GetData().GetData() {
		env := &common.Envelope{}
		payload := &common.Payload{}
		chdr := &common.ChannelHeader{}
		if proto.Unmarshal(raw, env) != nil || proto.Unmarshal(env.GetPayload(), payload) != nil ||
			proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil {
			continue
		}
		ft := &peer.FilteredTransaction{Txid: chdr.GetTxId(), Type: common.HeaderType(chdr.GetType())}
		if i < len(flags) {
			ft.TxValidationCode = peer.TxValidationCode(flags[i])
		}
		if ev := envelopeEvent(raw); ev != nil {
			ev.Payload = nil // filtered events never carry payloads
			ft.Data = &peer.FilteredTransaction_TransactionActions{TransactionActions: &peer.FilteredTransactionActions{
				ChaincodeActions: []*peer.FilteredChaincodeAction{{ChaincodeEvent: ev}},
			}}
		}
		fb.FilteredTransactions = append(fb.FilteredTransactions, ft)
	}
	return fb
}
