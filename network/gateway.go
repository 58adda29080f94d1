package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	gp "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	ab "github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/protoadapt"
)

// gatewayServer implements the Fabric Gateway service. It is the transport edge: errors become
// gRPC statuses here, shaped like those of a Fabric peer's gateway so that the client SDK's
// EndorseError, SubmitError and CommitStatusError carry the same codes and details.
type gatewayServer struct {
	gp.UnimplementedGatewayServer
	n *Node
}

// rpcError is a gRPC status with ErrorDetail entries, as Fabric's gateway builds them.
func rpcError(code codes.Code, msg string, details ...*gp.ErrorDetail) error {
	st := status.New(code, msg)
	if len(details) > 0 {
		ds := make([]protoadapt.MessageV1, len(details))
		for i, d := range details {
			ds[i] = protoadapt.MessageV1Of(d)
		}
		if withDetails, err := st.WithDetails(ds...); err == nil {
			return withDetails.Err()
		}
	}
	return st.Err()
}

// detail names the endorser that failed as a peer's gateway does: its endpoint, here the
// address the node listens on, and its organisation.
func (s *gatewayServer) detail(msg string) *gp.ErrorDetail {
	return &gp.ErrorDetail{Address: s.n.endpoint(), MspId: s.n.peer.user.MSPID, Message: msg}
}

// endpoint is the node's address as configured (--listen), or as bound when the
// configuration leaves the host or port to the system.
func (n *Node) endpoint() string {
	host, port, err := net.SplitHostPort(n.cfg.ListenAddr)
	if err != nil || host == "" || port == "0" {
		return n.Addr()
	}
	return n.cfg.ListenAddr
}

// routingError maps the failures a Fabric gateway finds before it sends a proposal to any
// endorser, while it looks for the channel's peers and plans the endorsement, to the status
// a peer returns; ok is false for any other error.
func routingError(err error, evaluate bool, sp *peer.SignedProposal) (error, bool) {
	channel, chaincode := proposalTarget(sp)
	switch {
	case errors.Is(err, ErrUnknownChannel) && evaluate:
		return status.Errorf(codes.Unavailable, "failed to get config for channel [%s]: could not get last config for channel %s", channel, channel), true
	case errors.Is(err, ErrUnknownChaincode) && evaluate:
		return status.Errorf(codes.FailedPrecondition, "no peers available to evaluate chaincode %s in channel %s", chaincode, channel), true
	case errors.Is(err, ErrUnknownChannel), errors.Is(err, ErrUnknownChaincode):
		return status.Errorf(codes.FailedPrecondition, "no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode %s in channel %s", chaincode, channel), true
	case errors.Is(err, ErrNoPeerOfOrg):
		return status.Error(codes.Unavailable, err.Error()), true
	case errors.Is(err, ErrNoEndorsers):
		return status.Error(codes.FailedPrecondition, err.Error()), true
	}
	return nil, false
}

// proposalTarget reads the channel and chaincode a signed proposal names, for error messages
// about them; it assumes nothing about the proposal's validity.
func proposalTarget(sp *peer.SignedProposal) (channel, chaincode string) {
	prop := &peer.Proposal{}
	hdr := &common.Header{}
	chdr := &common.ChannelHeader{}
	ccp := &peer.ChaincodeProposalPayload{}
	spec := &peer.ChaincodeInvocationSpec{}
	_ = proto.Unmarshal(sp.GetProposalBytes(), prop)
	_ = proto.Unmarshal(prop.GetHeader(), hdr)
	_ = proto.Unmarshal(hdr.GetChannelHeader(), chdr)
	_ = proto.Unmarshal(prop.GetPayload(), ccp)
	_ = proto.Unmarshal(ccp.GetInput(), spec)
	return chdr.GetChannelId(), spec.GetChaincodeSpec().GetChaincodeId().GetName()
}

// endorserStatus classifies a failure the way Fabric's gateway classifies an endorser's
// response: request validation failures are FailedPrecondition, an error response of the
// chaincode is Unknown ("chaincode response 500, ..."), a chaincode that could not run (a
// crashed container on a peer) is Aborted.
func endorserStatus(err error, res *simulationResult) (codes.Code, string) {
	if errors.Is(err, ErrChaincode) && res != nil {
		return codes.Unknown, fmt.Sprintf("chaincode response %d, %s", res.response.GetStatus(), res.response.GetMessage())
	}
	if errors.Is(err, ErrBadProposal) || errors.Is(err, ErrDuplicateTxID) {
		return codes.FailedPrecondition, err.Error()
	}
	return codes.Aborted, err.Error()
}

// Evaluate runs a transaction function without ordering it and returns its result.
func (s *gatewayServer) Evaluate(ctx context.Context, req *gp.EvaluateRequest) (*gp.EvaluateResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "an evaluate request is required")
	}
	if req.GetProposedTransaction() == nil {
		return nil, status.Error(codes.InvalidArgument, "failed to unpack transaction proposal: a signed proposal is required")
	}
	p, err := s.n.checkProposal(req.GetProposedTransaction())
	if err != nil {
		if st, ok := routingError(err, true, req.GetProposedTransaction()); ok {
			return nil, st
		}
		code, msg := endorserStatus(err, nil)
		return nil, rpcError(code, "evaluate call to endorser returned error: "+msg, s.detail(msg))
	}
	// All organisations' peers share this node's state; a target must still have a peer.
	if orgs := req.GetTargetOrganizations(); len(orgs) > 0 && !slices.ContainsFunc(s.n.peers, func(p *hostedPeer) bool {
		return slices.Contains(orgs, p.user.MSPID)
	}) {
		return nil, status.Errorf(codes.FailedPrecondition, "no peers available to evaluate chaincode %s in channel %s",
			s.n.cfg.Consortium.Chaincode, s.n.cfg.Consortium.Channel)
	}
	res, err := s.n.simulate(ctx, p)
	if err != nil {
		code, msg := endorserStatus(err, res)
		if code == codes.Aborted {
			return nil, rpcError(code, "failed to evaluate transaction, see attached details for more info", s.detail(msg))
		}
		return nil, rpcError(code, "evaluate call to endorser returned error: "+msg, s.detail(msg))
	}
	return &gp.EvaluateResponse{Result: res.response}, nil
}

// Endorse runs a transaction function and returns the endorsed, still unsigned transaction.
func (s *gatewayServer) Endorse(ctx context.Context, req *gp.EndorseRequest) (*gp.EndorseResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "an endorse request is required")
	}
	if req.GetProposedTransaction() == nil {
		return nil, status.Error(codes.InvalidArgument, "the proposed transaction must contain a signed proposal")
	}
	p, err := s.n.checkProposal(req.GetProposedTransaction())
	if err != nil {
		if st, ok := routingError(err, false, req.GetProposedTransaction()); ok {
			return nil, st
		}
		_, msg := endorserStatus(err, nil)
		return nil, rpcError(codes.Aborted, "failed to endorse transaction, see attached details for more info", s.detail(msg))
	}
	endorsers, err := s.n.endorsersFor(req.GetEndorsingOrganizations())
	if err != nil {
		st, _ := routingError(err, false, req.GetProposedTransaction())
		return nil, st
	}
	env, res, err := s.n.endorse(ctx, p, endorsers)
	if err != nil {
		_, msg := endorserStatus(err, res)
		return nil, rpcError(codes.Aborted, "failed to endorse transaction, see attached details for more info", s.detail(msg))
	}
	return &gp.EndorseResponse{PreparedTransaction: env}, nil
}

// Submit hands a signed transaction to the orderer. Like a Fabric orderer it rejects
// envelopes whose creator is not a channel member or whose signature does not verify.
func (s *gatewayServer) Submit(ctx context.Context, req *gp.SubmitRequest) (*gp.SubmitResponse, error) {
	if req == nil {
		return nil, status.Error(codes.InvalidArgument, "a submit request is required")
	}
	env := req.GetPreparedTransaction()
	if env == nil {
		return nil, status.Error(codes.InvalidArgument, "a prepared transaction is required")
	}
	if len(env.GetSignature()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "prepared transaction must be signed")
	}
	if st, info := s.n.admit(env); st != common.Status_SUCCESS {
		return nil, rpcError(codes.Aborted, fmt.Sprintf("received unsuccessful response from orderer: status=%s, info=%s", st, info))
	}
	raw, err := proto.Marshal(env)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "marshal transaction: %v", err)
	}
	if len(raw) > s.n.cfg.MaxTxBytes {
		return nil, rpcError(codes.Aborted, fmt.Sprintf("received unsuccessful response from orderer: status=%s, info=transaction of %d bytes exceeds the maximum of %d",
			common.Status_BAD_REQUEST, len(raw), s.n.cfg.MaxTxBytes))
	}
	if s.n.failed.Load() {
		return nil, rpcError(codes.Unavailable, "no orderers could successfully process transaction", s.detail("ledger node has failed"))
	}
	select {
	case s.n.queue <- &pendingTx{raw: raw, env: env, creatorChecked: true}:
		return &gp.SubmitResponse{}, nil
	case <-s.n.done:
		return nil, rpcError(codes.Unavailable, "no orderers could successfully process transaction", s.detail(ErrClosed.Error()))
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

// admit performs the orderer's broadcast checks on an envelope.
func (n *Node) admit(env *common.Envelope) (common.Status, string) {
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return common.Status_BAD_REQUEST, "bad payload: " + err.Error()
	}
	chdr := &common.ChannelHeader{}
	shdr := &common.SignatureHeader{}
	if payload.GetHeader() == nil || proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil ||
		proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), shdr) != nil {
		return common.Status_BAD_REQUEST, "bad header"
	}
	if chdr.GetChannelId() != n.cfg.Consortium.Channel {
		return common.Status_NOT_FOUND, fmt.Sprintf("channel %s not found", chdr.GetChannelId())
	}
	if common.HeaderType(chdr.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return common.Status_BAD_REQUEST, fmt.Sprintf("unsupported transaction type %s", common.HeaderType(chdr.GetType()))
	}
	if id := chdr.GetTxId(); id == "" || len(id) > maxTxIDSize {
		return common.Status_BAD_REQUEST, "transaction ID is missing or too long"
	}
	id, err := n.msps.deserialize(shdr.GetCreator(), n.now())
	if err != nil {
		return common.Status_FORBIDDEN, "implicit policy evaluation failed: " + err.Error()
	}
	if err := id.verify(env.GetPayload(), env.GetSignature()); err != nil {
		return common.Status_FORBIDDEN, "implicit policy evaluation failed: " + err.Error()
	}
	return common.Status_SUCCESS, ""
}

// signedBy checks a signed request: creator is a valid identity of a channel member and its
// signature over data verifies. It returns the signer.
func (n *Node) signedBy(data, creator, sig []byte) (*identity, error) {
	id, err := n.msps.deserialize(creator, n.now())
	if err != nil {
		return nil, err
	}
	if err := id.verify(data, sig); err != nil {
		return nil, err
	}
	return id, nil
}

// permits is the ACL check of Fabric's aclmgmt: the signer must satisfy the channel policy
// that res is mapped to. The message is a Fabric peer's.
func (n *Node) permits(res string, id *identity) error {
	if n.acls[res].admits(id) {
		return nil
	}
	return fmt.Errorf("failed evaluating policy on signed data during check policy [/Channel/Application/%s]: [signature set did not satisfy policy]",
		n.cfg.Consortium.ACLs[res])
}

// txCreator returns the serialized creator of the transaction committed at loc.
func (n *Node) txCreator(loc txLocation) ([]byte, error) {
	b, err := n.readBlock(loc.block)
	if err != nil {
		return nil, err
	}
	data := b.GetData().GetData()
	if loc.tx >= uint64(len(data)) {
		return nil, fmt.Errorf("transaction %d of block %d: %w", loc.tx, loc.block, ErrNotFound)
	}
	env := &common.Envelope{}
	payload := &common.Payload{}
	shdr := &common.SignatureHeader{}
	if err := proto.Unmarshal(data[loc.tx], env); err != nil {
		return nil, fmt.Errorf("read creator: %w", err)
	}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return nil, fmt.Errorf("read creator: %w", err)
	}
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), shdr); err != nil {
		return nil, fmt.Errorf("read creator: %w", err)
	}
	return shdr.GetCreator(), nil
}

// CommitStatus waits until the transaction is committed and returns its validation code.
func (s *gatewayServer) CommitStatus(ctx context.Context, signed *gp.SignedCommitStatusRequest) (*gp.CommitStatusResponse, error) {
	if len(signed.GetRequest()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a commit status request is required")
	}
	req := &gp.CommitStatusRequest{}
	if err := proto.Unmarshal(signed.GetRequest(), req); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid status request: %v", err)
	}
	switch {
	case len(req.GetIdentity()) == 0:
		return nil, status.Error(codes.InvalidArgument, "no identity provided")
	case req.GetChannelId() == "":
		return nil, status.Error(codes.InvalidArgument, "no channel ID provided")
	case req.GetTransactionId() == "":
		return nil, status.Error(codes.InvalidArgument, "transaction ID should not be empty")
	}
	id, err := s.n.signedBy(signed.GetRequest(), req.GetIdentity(), signed.GetSignature())
	if err != nil {
		return nil, status.Error(codes.PermissionDenied, err.Error())
	}
	if req.GetChannelId() != s.n.cfg.Consortium.Channel {
		return nil, status.Errorf(codes.NotFound, "channel %s not found", req.GetChannelId())
	}
	// Whom the policy admits may ask about any transaction; anyone else only about the
	// transactions they created, which is decided once the transaction is committed.
	denied := s.n.permits(ResourceCommitStatus, id)
	loc, err := s.n.waitForTx(ctx, req.GetTransactionId())
	if err != nil {
		if errors.Is(err, ErrClosed) {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
		return nil, status.FromContextError(err).Err()
	}
	if denied != nil {
		created, known := s.n.creators.createdBy(req.GetTransactionId(), id.serialized)
		if !known {
			creator, err := s.n.txCreator(loc)
			if err != nil {
				return nil, status.Error(codes.Aborted, err.Error())
			}
			created = bytes.Equal(creator, id.serialized)
		}
		if !created {
			return nil, status.Error(codes.PermissionDenied, denied.Error())
		}
	}
	return &gp.CommitStatusResponse{Result: loc.code, BlockNumber: loc.block}, nil
}

// waitForTx returns where txID was committed, waiting for its block if necessary.
func (n *Node) waitForTx(ctx context.Context, txID string) (txLocation, error) {
	ch := make(chan txLocation, 1)
	n.waitMu.Lock()
	n.waiters[txID] = append(n.waiters[txID], ch)
	n.waitMu.Unlock()
	unregister := func() {
		n.waitMu.Lock()
		defer n.waitMu.Unlock()
		ws := n.waiters[txID]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(n.waiters, txID)
		} else {
			n.waiters[txID] = ws
		}
	}
	// Registered before looking, so a commit between the two cannot be missed. A block that is
	// in the store but not yet published is waited for, so that whoever learns of a commit also
	// sees it in Height and in event streams.
	if loc, ok, err := n.lookupCommitted(txID); err != nil || ok && loc.block < n.chainInfo().height {
		unregister()
		return loc, err
	}
	select {
	case loc := <-ch:
		return loc, nil
	case <-ctx.Done():
		unregister()
		return txLocation{}, ctx.Err()
	case <-n.done:
		unregister()
		return txLocation{}, ErrClosed
	}
}

// ChaincodeEvents streams the events of committed valid transactions from the requested
// position, following new blocks as they commit.
func (s *gatewayServer) ChaincodeEvents(signed *gp.SignedChaincodeEventsRequest, stream gp.Gateway_ChaincodeEventsServer) error {
	if len(signed.GetRequest()) == 0 {
		return status.Error(codes.InvalidArgument, "a chaincode events request is required")
	}
	req := &gp.ChaincodeEventsRequest{}
	if err := proto.Unmarshal(signed.GetRequest(), req); err != nil {
		return status.Errorf(codes.InvalidArgument, "invalid chaincode events request: %v", err)
	}
	id, err := s.n.signedBy(signed.GetRequest(), req.GetIdentity(), signed.GetSignature())
	if err != nil {
		return status.Error(codes.PermissionDenied, err.Error())
	}
	if err := s.n.permits(ResourceChaincodeEvents, id); err != nil {
		return status.Error(codes.PermissionDenied, err.Error())
	}
	if req.GetChannelId() != s.n.cfg.Consortium.Channel {
		return status.Errorf(codes.NotFound, "channel %s not found", req.GetChannelId())
	}
	start, err := s.n.eventsStartBlock(req)
	if err != nil {
		return err
	}
	after := req.GetAfterTransactionId()
	passed := after == ""
	err = s.n.followBlocks(stream.Context(), start, func(b *common.Block) error {
		var matching []*peer.ChaincodeEvent
		for _, ev := range blockEvents(b) {
			if !passed {
				passed = ev.GetTxId() == after
				continue
			}
			if ev.GetChaincodeId() == req.GetChaincodeId() {
				matching = append(matching, ev)
			}
		}
		if len(matching) == 0 {
			return nil
		}
		return stream.Send(&gp.ChaincodeEventsResponse{Events: matching, BlockNumber: b.GetHeader().GetNumber()})
	})
	if errors.Is(err, ErrClosed) {
		return status.Error(codes.Unavailable, err.Error())
	}
	if err != nil && stream.Context().Err() == nil {
		return status.Error(codes.Aborted, err.Error())
	}
	return nil
}

// eventsStartBlock resolves where a chaincode events stream starts: the block of the
// checkpointed transaction if there is one, else the requested position, else the next block.
func (n *Node) eventsStartBlock(req *gp.ChaincodeEventsRequest) (uint64, error) {
	if id := req.GetAfterTransactionId(); id != "" {
		if loc, ok, err := n.lookupCommitted(id); err == nil && ok {
			return loc.block, nil
		}
	}
	switch seek := req.GetStartPosition().GetType().(type) {
	case nil, *ab.SeekPosition_NextCommit:
		return n.chainInfo().height, nil
	case *ab.SeekPosition_Specified:
		return seek.Specified.GetNumber(), nil
	default:
		return 0, status.Errorf(codes.InvalidArgument, "invalid start position type: %T", seek)
	}
}
