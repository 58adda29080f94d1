package network

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// ErrClosed is returned when the node is shutting down or has stopped.
var ErrClosed = errors.New("ledger node is closed")

// pendingTx is a transaction accepted by Submit and waiting to be ordered.
type pendingTx struct {
	raw []byte
	env *common.Envelope
	// creatorChecked is set when Submit verified the creator's signature.
	creatorChecked bool
}

// order is the orderer's loop: it cuts the queue into blocks and commits each one before
// cutting the next, so blocks grow by themselves while the previous one is being fsynced.
func (n *Node) order() {
	defer close(n.ordererDone)
	for {
		var first *pendingTx
		select {
		case first = <-n.queue:
		case <-n.stopOrdering:
			// Commit whatever was accepted before the stop, then leave.
			for {
				batch := n.drain(nil)
				if len(batch) == 0 {
					return
				}
				n.commitOrFail(batch)
			}
		}
		batch := n.drain([]*pendingTx{first})
		if n.cfg.BatchTimeout > 0 && !n.full(batch) {
			timer := time.NewTimer(n.cfg.BatchTimeout)
		wait:
			for !n.full(batch) {
				select {
				case tx := <-n.queue:
					batch = append(batch, tx)
				case <-timer.C:
					break wait
				case <-n.stopOrdering:
					break wait
				}
			}
			timer.Stop()
		}
		n.commitOrFail(batch)
	}
}

// full reports whether batch reached the block size in transactions or bytes.
func (n *Node) full(batch []*pendingTx) bool {
	if len(batch) >= n.cfg.BatchSize {
		return true
	}
	size := 0
	for _, tx := range batch {
		size += len(tx.raw)
	}
	return size >= n.cfg.BatchBytes
}

// drain appends queued transactions without waiting, until the block is full.
func (n *Node) drain(batch []*pendingTx) []*pendingTx {
	size := 0
	for _, tx := range batch {
		size += len(tx.raw)
	}
	for len(batch) < n.cfg.BatchSize && size < n.cfg.BatchBytes {
		select {
		case tx := <-n.queue:
			batch = append(batch, tx)
			size += len(tx.raw)
		default:
			return batch
		}
	}
	return batch
}

// Retry intervals after a block could not be committed (a full disk, an I/O error).
const (
	firstCommitRetry = 100 * time.Millisecond
	maxCommitRetry   = 5 * time.Second
)

// commitOrFail commits the batch as the next block. When that fails the node is marked failed
// (Submit refuses new transactions, Err says why) and it tries again, after dropping from the
// block log whatever the failed attempt left there, until the block commits or the node
// closes. Nothing of a failed attempt was acknowledged, so the batch is simply validated and
// ordered again.
func (n *Node) commitOrFail(batch []*pendingTx) {
	err := n.commitBlock(batch)
	for wait := firstCommitRetry; err != nil; wait = min(2*wait, maxCommitRetry) {
		if !n.failed.Load() {
			n.log.Error("commit block failed; the node stops ordering and retries", "error", err)
		}
		why := err // err changes with the next attempt; readers of failure must not see that
		n.failure.Store(&why)
		n.failed.Store(true)
		select {
		case <-time.After(wait):
		case <-n.done:
			return // closing: the batch was never acknowledged
		}
		if err = n.store.rewind(); err == nil {
			err = n.commitBlock(batch)
		}
	}
	if n.failed.Load() {
		n.log.Info("blocks commit again; the node resumes ordering")
		n.failed.Store(false)
		n.failure.Store(nil)
	}
}

// Err reports why the node cannot order transactions now (it could not write a block: a full
// disk, an I/O error), or nil. The node retries by itself and clears it once a block commits.
func (n *Node) Err() error {
	if p := n.failure.Load(); p != nil {
		return fmt.Errorf("ledger node cannot commit blocks: %w", *p)
	}
	return nil
}

// stateUpdate is a pending write of one block, in the order the transactions made them.
type stateUpdate struct {
	ver    version
	value  []byte
	delete bool
}

// commitBlock validates the batch, builds the next block and commits block, world state,
// history and transaction index in one fsynced bbolt transaction.
func (n *Node) commitBlock(batch []*pendingTx) error {
	now := n.now()
	parsed := make([]*parsedTx, len(batch))
	codes := make([]peer.TxValidationCode, len(batch))
	n.parallel(len(batch), func(i int) {
		parsed[i], codes[i] = n.validator.validate(batch[i].env, now, batch[i].creatorChecked)
	})

	info := n.chainInfo()
	b := &common.Block{
		Header:   &common.BlockHeader{Number: info.height, PreviousHash: info.lastHash},
		Data:     &common.BlockData{Data: make([][]byte, len(batch))},
		Metadata: newBlockMetadata(),
	}
	for i, tx := range batch {
		b.Data.Data[i] = tx.raw
	}
	b.Header.DataHash = blockDataHash(b.Data)
	if err := n.signBlock(b); err != nil {
		return err
	}
	headerHash := blockHeaderHash(b.Header)
	txIDs := make([]string, len(batch))
	for i := range batch {
		if parsed[i] != nil {
			txIDs[i] = parsed[i].txID
		} else {
			txIDs[i] = envelopeTxID(batch[i].env)
		}
	}

	c := &blockCommit{num: b.Header.Number, headerHash: headerHash, txs: parsed, txIDs: txIDs, codes: codes}
	err := n.store.db.Update(func(btx *bolt.Tx) error {
		c.overlay = n.decide(btx, c)
		flags := make([]byte, len(codes))
		for i, code := range codes {
			flags[i] = byte(code)
		}
		b.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = flags
		c.commitHash = commitHash(info.commitHash, headerHash, flags)
		ch, err := proto.Marshal(&common.Metadata{Value: c.commitHash})
		if err != nil {
			return err
		}
		b.Metadata.Metadata[common.BlockMetadataIndex_COMMIT_HASH] = ch
		raw, err := proto.Marshal(b)
		if err != nil {
			return err
		}
		// The block is durable, and may be acknowledged, once its record is synced; the
		// index commit that follows is replayed from the log if it does not happen.
		if c.pos, err = n.store.log.append(raw); err != nil {
			return err
		}
		return writeBlock(btx, c)
	})
	if err != nil {
		return fmt.Errorf("commit block %d: %w", b.Header.Number, err)
	}
	n.log.Debug("block committed", "block", b.Header.Number, "txs", len(batch), "took", time.Since(now))
	for _, tx := range parsed {
		if tx != nil {
			n.creators.add(tx.txID, tx.creator)
		}
	}
	n.published(b.Header.Number, headerHash, c.commitHash, txIDs, codes)
	return nil
}

// decide sets the final validation code of each transaction of c that passed the stateless
// checks: a transaction ID seen before is a duplicate, and reads must not conflict with the
// committed state or the block's earlier valid transactions. It returns the block's writes.
func (n *Node) decide(btx *bolt.Tx, c *blockCommit) map[string]*stateUpdate {
	state := btx.Bucket(bucketState)
	overlay := map[string]*stateUpdate{}
	seen := map[string]bool{}
	for i, id := range c.txIDs {
		if c.codes[i] == peer.TxValidationCode_VALID {
			if _, dup := lookupTx(btx, id); dup || seen[id] {
				c.codes[i] = peer.TxValidationCode_DUPLICATE_TXID
			} else {
				c.codes[i] = n.checkReads(state, overlay, c.txs[i])
			}
		}
		if c.codes[i] == peer.TxValidationCode_VALID {
			addWrites(overlay, version{block: c.num, tx: uint64(i)}, c.txs[i])
		}
		if id != "" && len(id) <= maxTxIDSize {
			seen[id] = true
		}
	}
	return overlay
}

func addWrites(overlay map[string]*stateUpdate, ver version, tx *parsedTx) {
	for _, ns := range tx.nsRWSets {
		for _, w := range ns.rw.GetWrites() {
			overlay[string(stateKey(ns.ns, w.GetKey()))] = &stateUpdate{ver: ver, value: w.GetValue(), delete: w.GetIsDelete()}
		}
	}
}

// blockCommit is what committing one block writes into the index.
type blockCommit struct {
	num                    uint64
	pos                    blockPos
	headerHash, commitHash []byte
	// txs, txIDs and codes are per transaction; txs[i] is used only where codes[i] is VALID.
	txs     []*parsedTx
	txIDs   []string
	codes   []peer.TxValidationCode
	overlay map[string]*stateUpdate
}

// writeBlock writes into the index everything block c changes: history and world state for its
// valid transactions, the transaction ID index, the block's position and the chain info. The
// live commit and the replay of the block log both come here, so they cannot differ.
func writeBlock(btx *bolt.Tx, c *blockCommit) error {
	hist, idx := btx.Bucket(bucketHistory), btx.Bucket(bucketTxIDs)
	seen := map[string]bool{}
	for i, id := range c.txIDs {
		if c.codes[i] == peer.TxValidationCode_VALID {
			for _, ns := range c.txs[i].nsRWSets {
				for _, w := range ns.rw.GetWrites() {
					km, err := proto.Marshal(&queryresult.KeyModification{
						TxId: id, Value: w.GetValue(), Timestamp: c.txs[i].chdr.GetTimestamp(), IsDelete: w.GetIsDelete(),
					})
					if err != nil {
						return err
					}
					hk := append(append(historyPrefix(ns.ns, w.GetKey()), u64(c.num)...), u64(uint64(i))...)
					if err := hist.Put(hk, km); err != nil {
						return err
					}
				}
			}
		}
		if id != "" && len(id) <= maxTxIDSize && !seen[id] {
			if _, dup := lookupTx(btx, id); !dup {
				if err := idx.Put([]byte(id), encodeTxLocation(txLocation{block: c.num, tx: uint64(i), code: c.codes[i]})); err != nil {
					return err
				}
			}
			seen[id] = true
		}
	}
	state := btx.Bucket(bucketState)
	for sk, u := range c.overlay {
		var err error
		if u.delete {
			err = state.Delete([]byte(sk))
		} else {
			err = state.Put([]byte(sk), encodeState(u.ver, u.value))
		}
		if err != nil {
			return err
		}
	}
	if err := btx.Bucket(bucketBlocks).Put(u64(c.num), c.pos.encode()); err != nil {
		return err
	}
	meta := btx.Bucket(bucketMeta)
	if err := meta.Put(metaHeight, u64(c.num+1)); err != nil {
		return err
	}
	if err := meta.Put(metaHash, c.headerHash); err != nil {
		return err
	}
	return meta.Put(metaCommitHash, c.commitHash)
}

// committedFromLog rebuilds the index writes of a block read back from the log, which must
// continue the chain described by info.
func committedFromLog(raw []byte, pos blockPos, info chainInfo) (*blockCommit, error) {
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return nil, fmt.Errorf("unreadable block: %w", err)
	}
	if b.GetHeader().GetNumber() != info.height || !bytes.Equal(b.GetHeader().GetPreviousHash(), info.lastHash) {
		return nil, fmt.Errorf("the log holds block %d where block %d should follow: the ledger is damaged", b.GetHeader().GetNumber(), info.height)
	}
	md := b.GetMetadata().GetMetadata()
	if len(md) < len(common.BlockMetadataIndex_name) {
		return nil, errors.New("block metadata is incomplete")
	}
	flags, data := md[common.BlockMetadataIndex_TRANSACTIONS_FILTER], b.GetData().GetData()
	ch := &common.Metadata{}
	if err := proto.Unmarshal(md[common.BlockMetadataIndex_COMMIT_HASH], ch); err != nil || len(flags) != len(data) {
		return nil, errors.New("block metadata is malformed")
	}
	c := &blockCommit{num: info.height, pos: pos, headerHash: blockHeaderHash(b.GetHeader()), commitHash: ch.GetValue(), overlay: map[string]*stateUpdate{}}
	if c.num == 0 {
		return c, nil // the genesis block's configuration transaction is not indexed
	}
	c.txs, c.txIDs, c.codes = make([]*parsedTx, len(data)), make([]string, len(data)), make([]peer.TxValidationCode, len(data))
	for i, envRaw := range data {
		c.codes[i] = peer.TxValidationCode(flags[i])
		env := &common.Envelope{}
		if proto.Unmarshal(envRaw, env) == nil {
			c.txIDs[i] = envelopeTxID(env)
		}
		if c.codes[i] != peer.TxValidationCode_VALID {
			continue
		}
		tx, err := decodeCommitted(env)
		if err != nil {
			return nil, fmt.Errorf("transaction %d: %w", i, err)
		}
		c.txs[i] = tx
		addWrites(c.overlay, version{block: c.num, tx: uint64(i)}, tx)
	}
	return c, nil
}

// published makes a committed block visible: new height, then waiters and event streams.
func (n *Node) published(num uint64, hash, commit []byte, txIDs []string, codes []peer.TxValidationCode) {
	n.chainMu.Lock()
	n.info = chainInfo{height: num + 1, lastHash: hash, commitHash: commit}
	close(n.newBlock)
	n.newBlock = make(chan struct{})
	n.chainMu.Unlock()

	n.waitMu.Lock()
	for i, id := range txIDs {
		if ws, ok := n.waiters[id]; ok {
			loc := txLocation{block: num, tx: uint64(i), code: codes[i]}
			for _, w := range ws {
				w <- loc
			}
			delete(n.waiters, id)
		}
	}
	n.waitMu.Unlock()
}

func (n *Node) chainInfo() chainInfo {
	n.chainMu.RLock()
	defer n.chainMu.RUnlock()
	return n.info
}

// blockSignal returns the current height and a channel closed when the next block commits.
func (n *Node) blockSignal() (uint64, <-chan struct{}) {
	n.chainMu.RLock()
	defer n.chainMu.RUnlock()
	return n.info.height, n.newBlock
}

// checkReads is MVCC validation: every key read must still have the version the simulation
// saw, and every range must still return the same keys, given the committed state and the
// writes of the block's earlier valid transactions.
func (n *Node) checkReads(state *bolt.Bucket, overlay map[string]*stateUpdate, tx *parsedTx) peer.TxValidationCode {
	for _, ns := range tx.nsRWSets {
		for _, r := range ns.rw.GetReads() {
			cur, ok := currentVersion(state, overlay, stateKey(ns.ns, r.GetKey()))
			if ok != (r.GetVersion() != nil) || ok && (cur.block != r.GetVersion().GetBlockNum() || cur.tx != r.GetVersion().GetTxNum()) {
				return peer.TxValidationCode_MVCC_READ_CONFLICT
			}
		}
		for _, q := range ns.rw.GetRangeQueriesInfo() {
			if phantom(state, overlay, ns.ns, q) {
				return peer.TxValidationCode_PHANTOM_READ_CONFLICT
			}
		}
	}
	return peer.TxValidationCode_VALID
}

func currentVersion(state *bolt.Bucket, overlay map[string]*stateUpdate, sk []byte) (version, bool) {
	if u, ok := overlay[string(sk)]; ok {
		return u.ver, !u.delete
	}
	raw := state.Get(sk)
	if raw == nil {
		return version{}, false
	}
	v, _, err := decodeState(raw)
	return v, err == nil
}

// phantom re-executes a recorded range query and reports whether its results changed. A range
// the chaincode stopped reading early is re-checked only up to the last key it read.
func phantom(state *bolt.Bucket, overlay map[string]*stateUpdate, ns string, q *kvrwset.RangeQueryInfo) bool {
	reads := q.GetRawReads().GetKvReads()
	if q.GetReadsMerkleHashes() != nil {
		return true // only produced by Fabric peers for huge ranges; never by this node
	}
	end, inclusive := q.GetEndKey(), false
	if !q.GetItrExhausted() {
		if len(reads) == 0 {
			return false
		}
		end, inclusive = reads[len(reads)-1].GetKey(), true
	}
	inRange := func(key string) bool {
		if key < q.GetStartKey() {
			return false
		}
		if inclusive {
			return key <= end
		}
		return end == "" || key < end
	}
	prefix := stateKey(ns, "")
	current := map[string]version{}
	c := state.Cursor()
	for k, v := c.Seek(stateKey(ns, q.GetStartKey())); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		key := string(k[len(prefix):])
		if !inRange(key) {
			break
		}
		ver, _, err := decodeState(v)
		if err != nil {
			return true
		}
		current[key] = ver
	}
	for sk, u := range overlay {
		if !bytes.HasPrefix([]byte(sk), prefix) {
			continue
		}
		key := sk[len(prefix):]
		if !inRange(key) {
			continue
		}
		if u.delete {
			delete(current, key)
		} else {
			current[key] = u.ver
		}
	}
	if len(current) != len(reads) {
		return true
	}
	keys := sortedKeys(current)
	for i, r := range reads {
		if keys[i] != r.GetKey() || current[keys[i]].block != r.GetVersion().GetBlockNum() || current[keys[i]].tx != r.GetVersion().GetTxNum() {
			return true
		}
	}
	return false
}

// envelopeTxID extracts the transaction ID of an envelope that failed validation, so that its
// submitter still learns its fate.
func envelopeTxID(env *common.Envelope) string {
	payload := &common.Payload{}
	if proto.Unmarshal(env.GetPayload(), payload) != nil {
		return ""
	}
	chdr := &common.ChannelHeader{}
	if proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil {
		return ""
	}
	return chdr.GetTxId()
}

// parallel runs fn(0..count-1) on all CPUs.
func (n *Node) parallel(count int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), count)
	if workers <= 1 {
		for i := range count {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, count)
	for i := range count {
		next <- i
	}
	close(next)
	for range workers {
		wg.Go(func() {
			for i := range next {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// lookupCommitted returns where txID was recorded, if it was.
func (n *Node) lookupCommitted(txID string) (txLocation, bool, error) {
	var loc txLocation
	var ok bool
	err := n.store.db.View(func(btx *bolt.Tx) error {
		loc, ok = lookupTx(btx, txID)
		return nil
	})
	return loc, ok, err
}
