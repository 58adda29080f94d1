package network

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// parsedTx is an endorser transaction as the committer needs it.
type parsedTx struct {
	txID     string
	chdr     *common.ChannelHeader
	creator  []byte
	event    *peer.ChaincodeEvent
	nsRWSets []nsRWSet
}

type nsRWSet struct {
	ns string
	rw *kvrwset.KVRWSet
}

// txValidator holds what structural validation of a transaction needs: the channel's MSPs,
// its name and its chaincode.
type txValidator struct {
	msps      *mspSet
	channel   string
	chaincode string
	// peerOrgs are the MSPs whose peers may endorse.
	peerOrgs map[string]bool
	// issued, when set, remembers the endorsements this node signed, so the committer need not
	// verify its own signatures again. Verify of a stored chain never uses it.
	issued *issuedEndorsements
}

// validateEnvelope performs the checks of Fabric's committer that do not depend on the state:
// envelope structure, creator and its signature, transaction ID, the proposal response binding
// and the endorsements. It returns the validation code and, when valid, the parsed transaction.
// at is the time identities must be valid at (the block's commit time, or now on the live path).
func (v *txValidator) validateEnvelope(env *common.Envelope, at time.Time) (*parsedTx, peer.TxValidationCode) {
	return v.validate(env, at, false)
}

// validate is validateEnvelope; creatorChecked says the creator's signature over this exact
// envelope was already verified in this process (by Submit) and need not be checked again.
func (v *txValidator) validate(env *common.Envelope, at time.Time, creatorChecked bool) (*parsedTx, peer.TxValidationCode) {
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return nil, peer.TxValidationCode_BAD_PAYLOAD
	}
	if payload.GetHeader() == nil {
		return nil, peer.TxValidationCode_BAD_COMMON_HEADER
	}
	chdr := &common.ChannelHeader{}
	shdr := &common.SignatureHeader{}
	if proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil ||
		proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), shdr) != nil || chdr.GetEpoch() != 0 {
		return nil, peer.TxValidationCode_BAD_COMMON_HEADER
	}
	if common.HeaderType(chdr.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return nil, peer.TxValidationCode_UNKNOWN_TX_TYPE
	}
	if chdr.GetChannelId() != v.channel {
		return nil, peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND
	}
	if len(shdr.GetNonce()) == 0 || len(shdr.GetCreator()) == 0 {
		return nil, peer.TxValidationCode_BAD_COMMON_HEADER
	}
	creator, err := v.msps.deserialize(shdr.GetCreator(), at)
	if err != nil {
		return nil, peer.TxValidationCode_BAD_CREATOR_SIGNATURE
	}
	if !creatorChecked && creator.verify(env.GetPayload(), env.GetSignature()) != nil {
		return nil, peer.TxValidationCode_BAD_CREATOR_SIGNATURE
	}
	if len(chdr.GetTxId()) > maxTxIDSize || computeTxID(shdr.GetNonce(), shdr.GetCreator()) != chdr.GetTxId() {
		return nil, peer.TxValidationCode_BAD_PROPOSAL_TXID
	}
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(payload.GetData(), tx); err != nil {
		return nil, peer.TxValidationCode_BAD_PAYLOAD
	}
	if len(tx.GetActions()) != 1 {
		return nil, peer.TxValidationCode_BAD_PAYLOAD
	}
	act := tx.GetActions()[0]
	if !bytes.Equal(act.GetHeader(), payload.GetHeader().GetSignatureHeader()) {
		return nil, peer.TxValidationCode_BAD_PAYLOAD
	}
	cap := &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(act.GetPayload(), cap); err != nil || cap.GetAction() == nil {
		return nil, peer.TxValidationCode_BAD_PAYLOAD
	}
	prpBytes := cap.GetAction().GetProposalResponsePayload()
	prp := &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(prpBytes, prp); err != nil {
		return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	want := proposalHash(payload.GetHeader().GetChannelHeader(), payload.GetHeader().GetSignatureHeader(), cap.GetChaincodeProposalPayload())
	if !bytes.Equal(want, prp.GetProposalHash()) {
		return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	ccAction := &peer.ChaincodeAction{}
	if err := proto.Unmarshal(prp.GetExtension(), ccAction); err != nil {
		return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	if ccAction.GetChaincodeId().GetName() != v.chaincode {
		return nil, peer.TxValidationCode_INVALID_CHAINCODE
	}
	if !v.endorsed(prpBytes, cap.GetAction().GetEndorsements(), at) {
		return nil, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE
	}
	out := &parsedTx{txID: chdr.GetTxId(), chdr: chdr, creator: shdr.GetCreator()}
	if len(ccAction.GetEvents()) > 0 {
		ev := &peer.ChaincodeEvent{}
		if err := proto.Unmarshal(ccAction.GetEvents(), ev); err != nil {
			return nil, peer.TxValidationCode_INVALID_OTHER_REASON
		}
		if ev.GetEventName() != "" {
			out.event = ev
		}
	}
	txrw := &rwset.TxReadWriteSet{}
	if err := proto.Unmarshal(ccAction.GetResults(), txrw); err != nil {
		return nil, peer.TxValidationCode_BAD_RWSET
	}
	for _, ns := range txrw.GetNsRwset() {
		kv := &kvrwset.KVRWSet{}
		if err := proto.Unmarshal(ns.GetRwset(), kv); err != nil {
			return nil, peer.TxValidationCode_BAD_RWSET
		}
		// Only the chaincode's own namespace may be written: nothing else executes here.
		if ns.GetNamespace() != v.chaincode || slices.ContainsFunc(kv.GetWrites(), func(w *kvrwset.KVWrite) bool {
			return w.GetKey() == "" || len(w.GetKey()) > MaxKeySize
		}) {
			return nil, peer.TxValidationCode_ILLEGAL_WRITESET
		}
		out.nsRWSets = append(out.nsRWSets, nsRWSet{ns: ns.GetNamespace(), rw: kv})
	}
	return out, peer.TxValidationCode_VALID
}

// endorsed applies the embedded network's endorsement policy: at least one valid endorsement
// by a peer of a peer organisation over the proposal response.
func (v *txValidator) endorsed(prp []byte, ends []*peer.Endorsement, at time.Time) bool {
	for _, e := range ends {
		id, err := v.msps.deserialize(e.GetEndorser(), at)
		if err != nil || !v.peerOrgs[id.mspID] || !slices.Contains(id.cert.Subject.OrganizationalUnit, "peer") {
			continue
		}
		if v.issued.take(e.GetEndorser(), e.GetSignature(), prp) {
			return true
		}
		msg := make([]byte, 0, len(prp)+len(e.GetEndorser()))
		msg = append(append(msg, prp...), e.GetEndorser()...)
		if id.verify(msg, e.GetSignature()) == nil {
			return true
		}
	}
	return false
}

// issuedEndorsements maps the signatures of endorsements this node produced to the hash of
// the proposal response payload they signed. It is bounded: when full it forgets everything,
// which only costs a signature verification per forgotten endorsement.
type issuedEndorsements struct {
	self []byte // the node's serialized identity
	mu   sync.Mutex
	m    map[string][32]byte
}

const maxIssuedEndorsements = 1 << 16

func newIssuedEndorsements(self []byte) *issuedEndorsements {
	return &issuedEndorsements{self: self, m: map[string][32]byte{}}
}

func (e *issuedEndorsements) add(sig, prp []byte) {
	h := sha256.Sum256(prp)
	e.mu.Lock()
	if len(e.m) >= maxIssuedEndorsements {
		clear(e.m)
	}
	e.m[string(sig)] = h
	e.mu.Unlock()
}

// take reports whether endorser's sig is an endorsement this node made over prp, forgetting it.
func (e *issuedEndorsements) take(endorser, sig, prp []byte) bool {
	if e == nil || !bytes.Equal(endorser, e.self) {
		return false
	}
	e.mu.Lock()
	h, ok := e.m[string(sig)]
	if ok {
		delete(e.m, string(sig))
	}
	e.mu.Unlock()
	return ok && h == sha256.Sum256(prp)
}
