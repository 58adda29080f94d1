package network

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// ErrBrokenChain is wrapped by a *BrokenBlockError.
var ErrBrokenChain = errors.New("block store failed verification")

// BrokenBlockError names the first block that failed verification and why.
type BrokenBlockError struct {
	Block  uint64
	Reason string
}

// Error describes the broken block.
func (e *BrokenBlockError) Error() string {
	return fmt.Sprintf("block %d is broken: %s", e.Block, e.Reason)
}

// Unwrap makes errors.Is(err, ErrBrokenChain) true.
func (e *BrokenBlockError) Unwrap() error { return ErrBrokenChain }

// VerifyReport summarises a successful verification.
type VerifyReport struct {
	// Blocks is the number of blocks checked (the ledger height).
	Blocks uint64
	// Transactions counts the transactions checked, ValidTransactions those flagged valid.
	Transactions, ValidTransactions uint64
	// UnfinishedRecord is set when the block log ends in a record the node was writing when it
	// stopped. No client was told of that block; the node drops it when it next starts.
	UnfinishedRecord bool
}

// Verify walks the block store of the node whose data directory is cfg.Dir, which must not be
// running, and checks every block: number, previous-hash chain, data hash, orderer signature,
// the chain of validation results, and for every transaction flagged valid the creator's
// signature, transaction ID and endorsements against the endorsement policy in force for its
// block. It returns a *BrokenBlockError for the first block that fails.
func Verify(ctx context.Context, cfg Config) (*VerifyReport, error) {
	cfg.applyDefaults()
	msps, err := loadMSPs(cfg.Dir, cfg.Consortium)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	// Endorsements count only from the peers the node hosts; a peer whose material does not
	// exist yet never endorsed anything.
	var hosted []*User
	for _, o := range cfg.Consortium.Orgs {
		if !o.Peer {
			continue
		}
		u, err := readPeerCert(cfg.Dir, o)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		hosted = append(hosted, u)
	}
	st, err := openStore(LedgerDir(cfg.Dir), true, nil)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer st.close()
	var info chainInfo
	if err := st.db.View(func(btx *bolt.Tx) error {
		info, err = readChainInfo(btx)
		return err
	}); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	epochs, err := readPolicyHistory(cfg.Dir, cfg.Consortium, info.height)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	v, err := newValidator(msps, cfg.Consortium, epochs, hosted...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return verifyStore(ctx, st, v)
}

// Verify checks the running node's block store, see the package function Verify.
func (n *Node) Verify(ctx context.Context) (*VerifyReport, error) {
	return verifyStore(ctx, n.store, n.validator)
}

// newValidator validates transactions of channel c under the endorsement policies of epochs,
// counting endorsements only from endorsers, the certificates of the peers the node hosts.
func newValidator(msps *mspSet, c Consortium, epochs []policyEpoch, endorsers ...*User) (*txValidator, error) {
	keys := map[string]bool{}
	for _, u := range endorsers {
		keys[endorserKey(u.MSPID, u.Cert)] = true
	}
	compiled, err := epochPolicies(epochs)
	if err != nil {
		return nil, err
	}
	return &txValidator{msps: msps, channel: c.Channel, chaincode: c.Chaincode, endorsers: keys, epochs: compiled}, nil
}

func verifyStore(ctx context.Context, st *store, v *txValidator) (*VerifyReport, error) {
	var info chainInfo
	err := st.db.View(func(btx *bolt.Tx) error {
		var err error
		info, err = readChainInfo(btx)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	rep := &VerifyReport{}
	var prevHash, prevCommit []byte
	var off int64
	for num := uint64(0); ; num++ {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		pos, raw, err := st.log.next(off)
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, errTornRecord) {
			if num < info.height {
				return rep, fmt.Errorf("verify: %w", &BrokenBlockError{Block: num, Reason: "its record in the block log is damaged (length or checksum)"})
			}
			// A record the node was writing when it stopped: never acknowledged, and dropped
			// when the node next opens the ledger.
			rep.UnfinishedRecord = true
			break
		}
		if err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		headerHash, commit, err := verifyBlock(num, raw, prevHash, prevCommit, v, rep)
		if err != nil {
			return rep, fmt.Errorf("verify: %w", err)
		}
		prevHash, prevCommit, off = headerHash, commit, pos.end()
		rep.Blocks++
	}
	switch {
	case rep.Blocks < info.height:
		return rep, fmt.Errorf("verify: %w", &BrokenBlockError{Block: rep.Blocks, Reason: fmt.Sprintf("missing: the index records %d blocks, the block log holds %d", info.height, rep.Blocks)})
	case rep.Blocks == info.height && !bytes.Equal(prevHash, info.lastHash):
		return rep, fmt.Errorf("verify: %w", &BrokenBlockError{Block: info.height - 1, Reason: "last block hash does not match the ledger's record"})
	}
	return rep, nil
}

// verifyBlock checks block num given the header hash and commit hash of the block before it,
// counting its transactions in rep, and returns its own header hash and commit hash.
func verifyBlock(num uint64, raw, prevHash, prevCommit []byte, v *txValidator, rep *VerifyReport) ([]byte, []byte, error) {
	broken := func(format string, args ...any) ([]byte, []byte, error) {
		return nil, nil, &BrokenBlockError{Block: num, Reason: fmt.Sprintf(format, args...)}
	}
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return broken("unreadable: %v", err)
	}
	if b.GetHeader().GetNumber() != num {
		return broken("header number is %d", b.GetHeader().GetNumber())
	}
	if !bytes.Equal(b.GetHeader().GetPreviousHash(), prevHash) {
		return broken("previous hash does not match the hash of block %d", num-1)
	}
	if !bytes.Equal(b.GetHeader().GetDataHash(), blockDataHash(b.GetData())) {
		return broken("data hash does not match the transactions")
	}
	md := b.GetMetadata().GetMetadata()
	if len(md) < len(common.BlockMetadataIndex_name) {
		return broken("metadata is incomplete")
	}
	at := blockTime(b)
	if err := verifyBlockSignature(b, v, at); err != nil {
		return broken("%v", err)
	}
	flags := md[common.BlockMetadataIndex_TRANSACTIONS_FILTER]
	if len(flags) != len(b.GetData().GetData()) {
		return broken("%d validation flags for %d transactions", len(flags), len(b.GetData().GetData()))
	}
	headerHash := blockHeaderHash(b.GetHeader())
	wantCommit := commitHash(prevCommit, headerHash, flags)
	ch := &common.Metadata{}
	if err := proto.Unmarshal(md[common.BlockMetadataIndex_COMMIT_HASH], ch); err != nil || !bytes.Equal(ch.GetValue(), wantCommit) {
		return broken("commit hash does not match the validation flags")
	}
	for i, envRaw := range b.GetData().GetData() {
		rep.Transactions++
		if peer.TxValidationCode(flags[i]) != peer.TxValidationCode_VALID {
			continue
		}
		rep.ValidTransactions++
		env := &common.Envelope{}
		if err := proto.Unmarshal(envRaw, env); err != nil {
			return broken("transaction %d is unreadable", i)
		}
		if num == 0 {
			if err := verifyConfigTx(env, v, at); err != nil {
				return broken("transaction %d: %v", i, err)
			}
			continue
		}
		// Certificates are judged at the time of the transaction, not today, and endorsements
		// by the policy in force when its block was committed.
		if _, code := v.check(env, envelopeTime(env, at), false, v.policyAt(num)); code != peer.TxValidationCode_VALID {
			return broken("transaction %d is flagged valid but fails validation with %s", i, code)
		}
	}
	return headerHash, wantCommit, nil
}

// verifyBlockSignature checks the orderer signature in the SIGNATURES metadata slot.
func verifyBlockSignature(b *common.Block, v *txValidator, at time.Time) error {
	md := &common.Metadata{}
	if err := proto.Unmarshal(b.GetMetadata().GetMetadata()[common.BlockMetadataIndex_SIGNATURES], md); err != nil || len(md.GetSignatures()) == 0 {
		return errors.New("block is not signed")
	}
	for _, sig := range md.GetSignatures() {
		sh := &common.SignatureHeader{}
		if err := proto.Unmarshal(sig.GetSignatureHeader(), sh); err != nil {
			return errors.New("block signature header is unreadable")
		}
		id, err := v.msps.deserialize(sh.GetCreator(), at)
		if err != nil {
			return fmt.Errorf("block signer: %w", err)
		}
		msg := append(append(append([]byte{}, md.GetValue()...), sig.GetSignatureHeader()...), blockHeaderBytes(b.GetHeader())...)
		if err := id.verify(msg, sig.GetSignature()); err != nil {
			return fmt.Errorf("block signature: %w", err)
		}
	}
	return nil
}

// verifyConfigTx checks the genesis configuration transaction's creator and signature.
func verifyConfigTx(env *common.Envelope, v *txValidator, at time.Time) error {
	payload := &common.Payload{}
	shdr := &common.SignatureHeader{}
	if proto.Unmarshal(env.GetPayload(), payload) != nil || proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), shdr) != nil {
		return errors.New("config transaction is unreadable")
	}
	id, err := v.msps.deserialize(shdr.GetCreator(), at)
	if err != nil {
		return err
	}
	return id.verify(env.GetPayload(), env.GetSignature())
}

// blockTime is the timestamp of a block's first transaction, the closest the block format
// has to a block time; certificates are checked at that moment.
func blockTime(b *common.Block) time.Time {
	for _, raw := range b.GetData().GetData() {
		env := &common.Envelope{}
		if proto.Unmarshal(raw, env) == nil {
			return envelopeTime(env, time.Now())
		}
	}
	return time.Now()
}

// envelopeTime is the client timestamp of an envelope, or fallback if it has none.
func envelopeTime(env *common.Envelope, fallback time.Time) time.Time {
	payload := &common.Payload{}
	chdr := &common.ChannelHeader{}
	if proto.Unmarshal(env.GetPayload(), payload) != nil || proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil ||
		chdr.GetTimestamp() == nil {
		return fallback
	}
	return chdr.GetTimestamp().AsTime()
}
