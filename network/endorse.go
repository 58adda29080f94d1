package network

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// Sentinel errors of proposal checking; the gateway edge maps them to a peer's error shape.
var (
	// ErrDuplicateTxID: a transaction with this ID is already in the ledger.
	ErrDuplicateTxID = errors.New("duplicate transaction")
	// ErrBadProposal: the proposal is malformed, mis-signed, stale, or for another channel or
	// chaincode.
	ErrBadProposal = errors.New("invalid proposal")
	// ErrChaincode: the chaincode returned an error response.
	ErrChaincode = errors.New("chaincode error")
	// ErrExecution: the chaincode could not run to completion: it panicked, timed out, or
	// (as a service) could not be reached.
	ErrExecution = errors.New("chaincode execution failed")
	// ErrNoEndorsers: no set of the hosted peers satisfies the chaincode's endorsement policy.
	// The text is a Fabric gateway's.
	ErrNoEndorsers = errors.New("no combination of peers can be derived which satisfy the endorsement policy")
	// ErrNoPeerOfOrg: the client asked for the endorsement of an organisation without a peer.
	// The text is a Fabric gateway's.
	ErrNoPeerOfOrg = errors.New("failed to find any endorsing peers for org(s)")
	// ErrUnknownChannel: the proposal is for a channel the node does not serve.
	ErrUnknownChannel = errors.New("unknown channel")
	// ErrUnknownChaincode: the proposal is for a chaincode not defined on the channel.
	ErrUnknownChaincode = errors.New("unknown chaincode")
)

// proposal is a signed proposal that passed Fabric's message validation.
type proposal struct {
	signed     *peer.SignedProposal
	prop       *peer.Proposal
	header     *common.Header
	chdr       *common.ChannelHeader
	shdr       *common.SignatureHeader
	ccPayload  *peer.ChaincodeProposalPayload
	invocation *peer.ChaincodeInvocationSpec
	creator    *identity
}

// computeTxID is Fabric's transaction ID: hex(SHA-256(nonce || creator)).
func computeTxID(nonce, creator []byte) string {
	h := sha256.New()
	h.Write(nonce)
	h.Write(creator)
	return hex.EncodeToString(h.Sum(nil))
}

// checkProposal performs the checks a Fabric endorser makes before it runs chaincode:
// structure, channel, creator against its MSP, signature, transaction ID and timestamp.
func (n *Node) checkProposal(sp *peer.SignedProposal) (*proposal, error) {
	p := &proposal{signed: sp, prop: &peer.Proposal{}, header: &common.Header{},
		chdr: &common.ChannelHeader{}, shdr: &common.SignatureHeader{},
		ccPayload: &peer.ChaincodeProposalPayload{}, invocation: &peer.ChaincodeInvocationSpec{}}
	if len(sp.GetProposalBytes()) == 0 {
		return nil, fmt.Errorf("%w: nil arguments", ErrBadProposal)
	}
	if err := proto.Unmarshal(sp.GetProposalBytes(), p.prop); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling Proposal: %v", ErrBadProposal, err)
	}
	if err := proto.Unmarshal(p.prop.GetHeader(), p.header); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling Header: %v", ErrBadProposal, err)
	}
	if err := proto.Unmarshal(p.header.GetChannelHeader(), p.chdr); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling ChannelHeader: %v", ErrBadProposal, err)
	}
	if err := proto.Unmarshal(p.header.GetSignatureHeader(), p.shdr); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling SignatureHeader: %v", ErrBadProposal, err)
	}
	if common.HeaderType(p.chdr.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return nil, fmt.Errorf("%w: invalid header type %s", ErrBadProposal, common.HeaderType(p.chdr.GetType()))
	}
	if p.chdr.GetEpoch() != 0 {
		return nil, fmt.Errorf("%w: invalid Epoch in ChannelHeader. Expected 0, got [%d]", ErrBadProposal, p.chdr.GetEpoch())
	}
	if len(p.shdr.GetNonce()) == 0 {
		return nil, fmt.Errorf("%w: invalid nonce specified in the header", ErrBadProposal)
	}
	if len(p.shdr.GetCreator()) == 0 {
		return nil, fmt.Errorf("%w: invalid creator specified in the header", ErrBadProposal)
	}
	if p.chdr.GetChannelId() != n.cfg.Consortium.Channel {
		return nil, fmt.Errorf("%w: channel '%s' not found", ErrUnknownChannel, p.chdr.GetChannelId())
	}
	// A Fabric gateway looks the chaincode up among the channel's peers before any endorser
	// sees the proposal, so an unknown chaincode is reported before the creator is judged.
	if err := proto.Unmarshal(p.prop.GetPayload(), p.ccPayload); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling ChaincodeProposalPayload: %v", ErrBadProposal, err)
	}
	if err := proto.Unmarshal(p.ccPayload.GetInput(), p.invocation); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling ChaincodeInvocationSpec: %v", ErrBadProposal, err)
	}
	if name := p.invocation.GetChaincodeSpec().GetChaincodeId().GetName(); name != n.cfg.Consortium.Chaincode {
		return nil, fmt.Errorf("%w: make sure the chaincode %s has been successfully defined on channel %s and try again: chaincode definition for '%s' not found",
			ErrUnknownChaincode, name, p.chdr.GetChannelId(), name)
	}
	now := n.now()
	id, err := n.msps.deserialize(p.shdr.GetCreator(), now)
	if err != nil {
		return nil, fmt.Errorf("%w: access denied: channel [%s] creator org unknown, creator is malformed: %w", ErrBadProposal, p.chdr.GetChannelId(), err)
	}
	if err := id.verify(sp.GetProposalBytes(), sp.GetSignature()); err != nil {
		return nil, fmt.Errorf("%w: access denied: channel [%s] creator org [%s]: %w", ErrBadProposal, p.chdr.GetChannelId(), id.mspID, err)
	}
	p.creator = id
	if want := computeTxID(p.shdr.GetNonce(), p.shdr.GetCreator()); p.chdr.GetTxId() != want {
		return nil, fmt.Errorf("%w: invalid txid. got [%s], expected [%s]", ErrBadProposal, p.chdr.GetTxId(), want)
	}
	ts := p.chdr.GetTimestamp()
	if ts == nil || !ts.IsValid() {
		return nil, fmt.Errorf("%w: proposal has no valid timestamp", ErrBadProposal)
	}
	if skew := now.Sub(ts.AsTime()); skew > n.cfg.MaxClockSkew || skew < -n.cfg.MaxClockSkew {
		return nil, fmt.Errorf("%w: proposal timestamp %s is outside the accepted window of %s around the peer's time %s",
			ErrBadProposal, ts.AsTime().UTC().Format(time.RFC3339), n.cfg.MaxClockSkew, now.UTC().Format(time.RFC3339))
	}
	ext := &peer.ChaincodeHeaderExtension{}
	if err := proto.Unmarshal(p.chdr.GetExtension(), ext); err != nil {
		return nil, fmt.Errorf("%w: error unmarshalling ChaincodeHeaderExtension: %v", ErrBadProposal, err)
	}
	name := p.invocation.GetChaincodeSpec().GetChaincodeId().GetName()
	if name != n.cfg.Consortium.Chaincode || ext.GetChaincodeId().GetName() != name {
		return nil, fmt.Errorf("%w: make sure the chaincode %s has been successfully defined on channel %s and try again: chaincode definition for '%s' not found",
			ErrBadProposal, name, p.chdr.GetChannelId(), name)
	}
	return p, nil
}

// simulationResult is what running the chaincode on a proposal produced.
type simulationResult struct {
	response *peer.Response
	rwset    []byte
	event    *peer.ChaincodeEvent
}

// simulate runs the chaincode for p against a snapshot of the committed state.
func (n *Node) simulate(ctx context.Context, p *proposal) (*simulationResult, error) {
	snap, err := n.store.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("simulate: open state snapshot: %w", err)
	}
	defer snap.Rollback()
	txID := p.chdr.GetTxId()
	if _, dup := lookupTx(snap, txID); dup {
		return nil, fmt.Errorf("%w found [%s]. Creator [%x]", ErrDuplicateTxID, txID, p.shdr.GetCreator())
	}
	tc := &txContext{
		channel:    p.chdr.GetChannelId(),
		txID:       txID,
		args:       p.invocation.GetChaincodeSpec().GetInput().GetArgs(),
		creator:    p.shdr.GetCreator(),
		transient:  p.ccPayload.GetTransientMap(),
		timestamp:  p.chdr.GetTimestamp(),
		signedProp: p.signed,
		nonce:      p.shdr.GetNonce(),
	}
	if tc.transient == nil {
		tc.transient = map[string][]byte{}
	}
	sim := newSimulation(tc, n.cfg.Consortium.Chaincode, snap)
	var resp *peer.Response
	if n.ext != nil {
		ctx, cancel := context.WithTimeout(ctx, n.cfg.ExecuteTimeout)
		resp, err = n.ext.execute(ctx, sim)
		cancel()
	} else {
		resp, err = n.invoke(sim)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrExecution, err)
	}
	if resp.GetStatus() >= shim.ERRORTHRESHOLD {
		return &simulationResult{response: resp}, fmt.Errorf("%w: %s", ErrChaincode, resp.GetMessage())
	}
	kv, err := proto.Marshal(sim.readWriteSet())
	if err != nil {
		return nil, fmt.Errorf("simulate: marshal read/write set: %w", err)
	}
	txrw, err := proto.Marshal(&rwset.TxReadWriteSet{
		DataModel: rwset.TxReadWriteSet_KV,
		NsRwset:   []*rwset.NsReadWriteSet{{Namespace: n.cfg.Consortium.Chaincode, Rwset: kv}},
	})
	if err != nil {
		return nil, fmt.Errorf("simulate: marshal read/write set: %w", err)
	}
	return &simulationResult{response: resp, rwset: txrw, event: sim.event}, nil
}

// invoke calls the chaincode, turning a panic into an error response as a crashed chaincode
// container would surface to a peer, instead of taking the node down.
func (n *Node) invoke(sim *simulation) (resp *peer.Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			n.log.Error("chaincode panicked", "txid", sim.ctx.txID, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			resp, err = nil, fmt.Errorf("chaincode panicked: %v", r)
		}
	}()
	resp = n.cfg.Chaincode.Invoke(sim)
	if resp == nil {
		return nil, errors.New("chaincode returned no response")
	}
	return resp, nil
}

// proposalHash is Fabric's hash binding a proposal response to its proposal: SHA-256 over the
// channel header, signature header and the chaincode proposal payload without transient data.
func proposalHash(chdr, shdr, ccPayloadNoTransient []byte) []byte {
	h := sha256.New()
	h.Write(chdr)
	h.Write(shdr)
	h.Write(ccPayloadNoTransient)
	return h.Sum(nil)
}

// endorse runs p and assembles the unsigned transaction envelope a Fabric gateway returns
// from Endorse: the proposal response signed by each of the hosted peers at the indexes in
// endorsers, wrapped as the client's transaction. The chaincode runs once: every hosted peer
// would simulate against the same committed state, so each would sign the same response.
func (n *Node) endorse(ctx context.Context, p *proposal, endorsers []int) (*common.Envelope, *simulationResult, error) {
	res, err := n.simulate(ctx, p)
	if err != nil {
		return nil, res, err
	}
	// Transient data must never reach the ledger.
	ccpNoTransient, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: p.ccPayload.GetInput()})
	if err != nil {
		return nil, nil, fmt.Errorf("endorse: %w", err)
	}
	var eventBytes []byte
	if res.event != nil {
		if eventBytes, err = proto.Marshal(res.event); err != nil {
			return nil, nil, fmt.Errorf("endorse: marshal event: %w", err)
		}
	}
	action, err := proto.Marshal(&peer.ChaincodeAction{
		Results:     res.rwset,
		Events:      eventBytes,
		Response:    res.response,
		ChaincodeId: &peer.ChaincodeID{Name: n.cfg.Consortium.Chaincode},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("endorse: %w", err)
	}
	prp, err := proto.Marshal(&peer.ProposalResponsePayload{
		ProposalHash: proposalHash(p.header.GetChannelHeader(), p.header.GetSignatureHeader(), ccpNoTransient),
		Extension:    action,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("endorse: %w", err)
	}
	ends := make([]*peer.Endorsement, 0, len(endorsers))
	msg := make([]byte, 0, len(prp)+len(n.peerCreator)+64)
	for _, i := range endorsers {
		e := n.peers[i]
		msg = append(append(msg[:0], prp...), e.creator...)
		sig, err := signLowS(e.user.Key, msg)
		if err != nil {
			return nil, nil, fmt.Errorf("endorse: %w", err)
		}
		n.validator.issued.add(sig, prp, e.creator)
		ends = append(ends, &peer.Endorsement{Endorser: e.creator, Signature: sig})
	}
	cap, err := proto.Marshal(&peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: ccpNoTransient,
		Action: &peer.ChaincodeEndorsedAction{
			ProposalResponsePayload: prp,
			Endorsements:            ends,
		},
	})
	if err != nil {
		return nil, nil, fmt.Errorf("endorse: %w", err)
	}
	tx, err := proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{
		Header: p.header.GetSignatureHeader(), Payload: cap,
	}}})
	if err != nil {
		return nil, nil, fmt.Errorf("endorse: %w", err)
	}
	payload, err := proto.Marshal(&common.Payload{Header: p.header, Data: tx})
	if err != nil {
		return nil, nil, fmt.Errorf("endorse: %w", err)
	}
	return &common.Envelope{Payload: payload}, res, nil
}

// endorsersFor plans the endorsers of a transaction: one hosted peer of each organisation the
// client named (Fabric's planForOrgs, the client vouching for the policy), else the plan for
// the chaincode's endorsement policy.
func (n *Node) endorsersFor(orgs []string) ([]int, error) {
	if len(orgs) == 0 {
		if n.endorsers == nil {
			return nil, fmt.Errorf("%w: no peer combination can satisfy the endorsement policy", ErrNoEndorsers)
		}
		return n.endorsers, nil
	}
	var out []int
	var missing []string
	for _, org := range orgs {
		i := slices.IndexFunc(n.peers, func(p *hostedPeer) bool { return p.user.MSPID == org })
		switch {
		case i < 0:
			missing = append(missing, org)
		case !slices.Contains(out, i):
			out = append(out, i)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrNoPeerOfOrg, strings.Join(missing, ", "))
	}
	return out, nil
}
