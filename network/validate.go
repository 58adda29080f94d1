package network

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
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
// its name, its chaincode and the chaincode's endorsement policy.
type txValidator struct {
	msps      *mspSet
	channel   string
	chaincode string
	// endorsers are the peers this node hosts (endorserKey of each): the only identities
	// whose endorsements count. Any other peer-OU identity of a peer organisation, such as
	// its gateway service, executes no chaincode here, so an "endorsement" of its own would
	// be a write set it made up.
	endorsers map[string]bool
	// epochs are the endorsement policies in force from each block on, in block order; the
	// last one applies to the blocks the live committer builds.
	epochs []compiledEpoch
	// issued, when set, remembers the endorsements this node signed, so the committer need not
	// verify its own signatures again. Verify of a stored chain never uses it.
	issued *issuedEndorsements
}

// policyAt is the endorsement policy for a transaction of block num; nil before any epoch.
func (v *txValidator) policyAt(num uint64) *endorsementPolicy {
	for i := len(v.epochs) - 1; i >= 0; i-- {
		if v.epochs[i].from <= num {
			return v.epochs[i].policy
		}
	}
	return nil
}

// current is the endorsement policy of the blocks still to be committed.
func (v *txValidator) current() *endorsementPolicy {
	if len(v.epochs) == 0 {
		return nil
	}
	return v.epochs[len(v.epochs)-1].policy
}

// validateEnvelope performs the checks of Fabric's committer that do not depend on the state:
// envelope structure, creator and its signature, transaction ID, the proposal response binding
// and the endorsements. It returns the validation code and, when valid, the parsed transaction.
// at is the time identities must be valid at (the block's commit time, or now on the live path).
func (v *txValidator) validateEnvelope(env *common.Envelope, at time.Time) (*parsedTx, peer.TxValidationCode) {
	return v.check(env, at, false, v.current())
}

// validate is validateEnvelope for the live committer; creatorChecked says the creator's
// signature over this exact envelope was already verified in this process (by Submit) and
// need not be checked again.
func (v *txValidator) validate(env *common.Envelope, at time.Time, creatorChecked bool) (*parsedTx, peer.TxValidationCode) {
	return v.check(env, at, creatorChecked, v.current())
}

// check validates env with the endorsement policy pol.
func (v *txValidator) check(env *common.Envelope, at time.Time, creatorChecked bool, pol *endorsementPolicy) (*parsedTx, peer.TxValidationCode) {
	h, code := decodeTxHeader(env)
	if code != peer.TxValidationCode_VALID {
		return nil, code
	}
	if h.chdr.GetChannelId() != v.channel {
		return nil, peer.TxValidationCode_TARGET_CHAIN_NOT_FOUND
	}
	creator, err := v.msps.deserialize(h.shdr.GetCreator(), at)
	if err != nil {
		return nil, peer.TxValidationCode_BAD_CREATOR_SIGNATURE
	}
	if !creatorChecked && creator.verify(env.GetPayload(), env.GetSignature()) != nil {
		return nil, peer.TxValidationCode_BAD_CREATOR_SIGNATURE
	}
	if len(h.chdr.GetTxId()) > maxTxIDSize || computeTxID(h.shdr.GetNonce(), h.shdr.GetCreator()) != h.chdr.GetTxId() {
		return nil, peer.TxValidationCode_BAD_PROPOSAL_TXID
	}
	a, code := decodeTxAction(h.payload)
	if code != peer.TxValidationCode_VALID {
		return nil, code
	}
	want := proposalHash(h.payload.GetHeader().GetChannelHeader(), h.payload.GetHeader().GetSignatureHeader(), a.cap.GetChaincodeProposalPayload())
	if !bytes.Equal(want, a.prp.GetProposalHash()) {
		return nil, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	if a.ccAction.GetChaincodeId().GetName() != v.chaincode {
		return nil, peer.TxValidationCode_INVALID_CHAINCODE
	}
	if !v.endorsed(pol, a.prpBytes, a.cap.GetAction().GetEndorsements(), at) {
		return nil, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE
	}
	out, code := decodeTxResults(h, a.ccAction)
	if code != peer.TxValidationCode_VALID {
		return nil, code
	}
	for _, ns := range out.nsRWSets {
		// Only the chaincode's own namespace may be written: nothing else executes here.
		if ns.ns != v.chaincode || slices.ContainsFunc(ns.rw.GetWrites(), func(w *kvrwset.KVWrite) bool {
			return w.GetKey() == "" || len(w.GetKey()) > MaxKeySize
		}) {
			return nil, peer.TxValidationCode_ILLEGAL_WRITESET
		}
	}
	return out, peer.TxValidationCode_VALID
}

// txHeader is the decoded envelope header of an endorser transaction.
type txHeader struct {
	payload *common.Payload
	chdr    *common.ChannelHeader
	shdr    *common.SignatureHeader
}

// decodeTxHeader decodes an envelope's payload and headers and checks their structure: an
// endorser transaction with a nonce and a creator.
func decodeTxHeader(env *common.Envelope) (txHeader, peer.TxValidationCode) {
	h := txHeader{payload: &common.Payload{}, chdr: &common.ChannelHeader{}, shdr: &common.SignatureHeader{}}
	if err := proto.Unmarshal(env.GetPayload(), h.payload); err != nil {
		return h, peer.TxValidationCode_BAD_PAYLOAD
	}
	if h.payload.GetHeader() == nil {
		return h, peer.TxValidationCode_BAD_COMMON_HEADER
	}
	if proto.Unmarshal(h.payload.GetHeader().GetChannelHeader(), h.chdr) != nil ||
		proto.Unmarshal(h.payload.GetHeader().GetSignatureHeader(), h.shdr) != nil || h.chdr.GetEpoch() != 0 {
		return h, peer.TxValidationCode_BAD_COMMON_HEADER
	}
	if common.HeaderType(h.chdr.GetType()) != common.HeaderType_ENDORSER_TRANSACTION {
		return h, peer.TxValidationCode_UNKNOWN_TX_TYPE
	}
	if len(h.shdr.GetNonce()) == 0 || len(h.shdr.GetCreator()) == 0 {
		return h, peer.TxValidationCode_BAD_COMMON_HEADER
	}
	return h, peer.TxValidationCode_VALID
}

// txAction is the decoded single action of an endorser transaction.
type txAction struct {
	cap      *peer.ChaincodeActionPayload
	prpBytes []byte
	prp      *peer.ProposalResponsePayload
	ccAction *peer.ChaincodeAction
}

func decodeTxAction(payload *common.Payload) (txAction, peer.TxValidationCode) {
	var a txAction
	tx := &peer.Transaction{}
	if err := proto.Unmarshal(payload.GetData(), tx); err != nil {
		return a, peer.TxValidationCode_BAD_PAYLOAD
	}
	if len(tx.GetActions()) != 1 {
		return a, peer.TxValidationCode_BAD_PAYLOAD
	}
	act := tx.GetActions()[0]
	if !bytes.Equal(act.GetHeader(), payload.GetHeader().GetSignatureHeader()) {
		return a, peer.TxValidationCode_BAD_PAYLOAD
	}
	a.cap = &peer.ChaincodeActionPayload{}
	if err := proto.Unmarshal(act.GetPayload(), a.cap); err != nil || a.cap.GetAction() == nil {
		return a, peer.TxValidationCode_BAD_PAYLOAD
	}
	a.prpBytes = a.cap.GetAction().GetProposalResponsePayload()
	a.prp = &peer.ProposalResponsePayload{}
	if err := proto.Unmarshal(a.prpBytes, a.prp); err != nil {
		return a, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	a.ccAction = &peer.ChaincodeAction{}
	if err := proto.Unmarshal(a.prp.GetExtension(), a.ccAction); err != nil {
		return a, peer.TxValidationCode_BAD_RESPONSE_PAYLOAD
	}
	return a, peer.TxValidationCode_VALID
}

// decodeTxResults decodes the chaincode event and read/write sets of a transaction.
func decodeTxResults(h txHeader, ccAction *peer.ChaincodeAction) (*parsedTx, peer.TxValidationCode) {
	out := &parsedTx{txID: h.chdr.GetTxId(), chdr: h.chdr, creator: h.shdr.GetCreator()}
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
		out.nsRWSets = append(out.nsRWSets, nsRWSet{ns: ns.GetNamespace(), rw: kv})
	}
	return out, peer.TxValidationCode_VALID
}

// decodeCommitted decodes a transaction that a committed block flags valid, for replaying the
// block into the index; it checks nothing the committer already checked.
func decodeCommitted(env *common.Envelope) (*parsedTx, error) {
	h, code := decodeTxHeader(env)
	if code != peer.TxValidationCode_VALID {
		return nil, fmt.Errorf("transaction flagged valid does not decode: %s", code)
	}
	a, code := decodeTxAction(h.payload)
	if code != peer.TxValidationCode_VALID {
		return nil, fmt.Errorf("transaction flagged valid does not decode: %s", code)
	}
	tx, code := decodeTxResults(h, a.ccAction)
	if code != peer.TxValidationCode_VALID {
		return nil, fmt.Errorf("transaction flagged valid does not decode: %s", code)
	}
	return tx, nil
}

// endorsed evaluates the endorsement policy as Fabric's validator does: endorsements that
// do not deserialize or whose signature over the proposal response does not verify are
// dropped, as are endorsements by identities the node does not host as peers and repeated
// endorsers; what remains must satisfy the policy.
func (v *txValidator) endorsed(pol *endorsementPolicy, prp []byte, ends []*peer.Endorsement, at time.Time) bool {
	if pol == nil {
		return false
	}
	signers := make([]*identity, 0, len(ends))
	keys := make([]string, 0, len(ends))
	for _, e := range ends {
		id, err := v.msps.deserialize(e.GetEndorser(), at)
		if err != nil || id.nodeOU != "peer" {
			continue
		}
		// One peer counts once, however its certificate is encoded or renewed.
		key := endorserKey(id.mspID, id.cert)
		if !v.endorsers[key] || slices.Contains(keys, key) {
			continue
		}
		if !v.issued.take(e.GetEndorser(), e.GetSignature(), prp) {
			msg := make([]byte, 0, len(prp)+len(e.GetEndorser()))
			msg = append(append(msg, prp...), e.GetEndorser()...)
			if id.verify(msg, e.GetSignature()) != nil {
				continue
			}
		}
		signers = append(signers, id)
		keys = append(keys, key)
	}
	return pol.admits(signers)
}

// endorserKey identifies a hosted peer by MSP and public key, so that a peer certificate
// renewed for the same key still verifies the blocks it endorsed before.
func endorserKey(mspID string, cert *x509.Certificate) string {
	return mspID + "\x00" + string(cert.RawSubjectPublicKeyInfo)
}

// issuedEndorsements maps the signatures of endorsements this node produced to the hash of
// the proposal response payload and endorser they signed. It is bounded: when full it
// forgets everything, which only costs a signature verification per forgotten endorsement.
type issuedEndorsements struct {
	mu sync.Mutex
	m  map[string][32]byte
}

const maxIssuedEndorsements = 1 << 16

func newIssuedEndorsements() *issuedEndorsements {
	return &issuedEndorsements{m: map[string][32]byte{}}
}

// issuedHash binds a signature to what an endorser signs: the proposal response payload,
// then the endorser's serialized identity.
func issuedHash(prp, endorser []byte) [32]byte {
	h := sha256.New()
	h.Write(prp)
	h.Write(endorser)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func (e *issuedEndorsements) add(sig, prp, endorser []byte) {
	h := issuedHash(prp, endorser)
	e.mu.Lock()
	if len(e.m) >= maxIssuedEndorsements {
		clear(e.m)
	}
	e.m[string(sig)] = h
	e.mu.Unlock()
}

// take reports whether sig is an endorsement this node made as endorser over prp, forgetting
// it.
func (e *issuedEndorsements) take(endorser, sig, prp []byte) bool {
	if e == nil {
		return false
	}
	e.mu.Lock()
	h, ok := e.m[string(sig)]
	if ok {
		delete(e.m, string(sig))
	}
	e.mu.Unlock()
	return ok && h == issuedHash(prp, endorser)
}
