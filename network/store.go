package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
)

// Bucket layout of the ledger file. Everything a block changes is written in one bbolt
// transaction, fsynced on commit, so a crash leaves either the whole block applied or none of it.
var (
	bucketBlocks  = []byte("blocks")  // u64be(block number) -> common.Block bytes
	bucketState   = []byte("state")   // ns 0x00 key -> u64be(block) u64be(tx) value
	bucketHistory = []byte("history") // ns 0x00 key 0x00 u64be(block) u64be(tx) -> queryresult.KeyModification bytes
	bucketTxIDs   = []byte("txids")   // tx ID -> u64be(block) u64be(tx) u32be(validation code)
	bucketMeta    = []byte("meta")    // "height" -> u64be, "hash" -> last block header hash, "commithash"
)

var (
	metaHeight     = []byte("height")
	metaHash       = []byte("hash")
	metaCommitHash = []byte("commithash")
)

// version is a Fabric state version: the block and transaction that last wrote a key.
type version struct {
	block, tx uint64
}

// store is the durable ledger: block store, world state, history and transaction index.
type store struct {
	db *bolt.DB
}

func openStore(path string, readOnly bool) (*store, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:  2 * time.Second,
		ReadOnly: readOnly,
		// The freelist is rebuilt on open instead of written on every commit: less to fsync per
		// block, and nothing to lose on a crash.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// A large initial mapping avoids remaps, which must wait for every open read
		// transaction (every running simulation) to finish.
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open ledger %s: %w: another process (a running node?) has it open", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", path, err)
	}
	if !readOnly {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, b := range [][]byte{bucketBlocks, bucketState, bucketHistory, bucketTxIDs, bucketMeta} {
				if _, err := tx.CreateBucketIfNotExists(b); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("open ledger %s: %w", path, err)
		}
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// chainInfo is the ledger height and the header hash of the last block.
type chainInfo struct {
	height     uint64
	lastHash   []byte
	commitHash []byte
}

func readChainInfo(tx *bolt.Tx) (chainInfo, error) {
	m := tx.Bucket(bucketMeta)
	if m == nil {
		return chainInfo{}, errors.New("read chain info: ledger has no meta bucket")
	}
	var ci chainInfo
	if h := m.Get(metaHeight); h != nil {
		if len(h) != 8 {
			return chainInfo{}, errors.New("read chain info: malformed height")
		}
		ci.height = binary.BigEndian.Uint64(h)
	}
	ci.lastHash = bytes.Clone(m.Get(metaHash))
	ci.commitHash = bytes.Clone(m.Get(metaCommitHash))
	return ci, nil
}

func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}

func stateKey(ns, key string) []byte {
	b := make([]byte, 0, len(ns)+1+len(key))
	b = append(b, ns...)
	b = append(b, 0)
	return append(b, key...)
}

func historyPrefix(ns, key string) []byte {
	b := make([]byte, 0, len(ns)+len(key)+2+16)
	b = append(b, ns...)
	b = append(b, 0)
	b = append(b, key...)
	return append(b, 0)
}

func encodeState(v version, value []byte) []byte {
	b := make([]byte, 16+len(value))
	binary.BigEndian.PutUint64(b, v.block)
	binary.BigEndian.PutUint64(b[8:], v.tx)
	copy(b[16:], value)
	return b
}

func decodeState(b []byte) (version, []byte, error) {
	if len(b) < 16 {
		return version{}, nil, errors.New("decode state: value shorter than its version")
	}
	return version{binary.BigEndian.Uint64(b), binary.BigEndian.Uint64(b[8:])}, b[16:], nil
}

// txLocation is where a transaction ID was recorded.
type txLocation struct {
	block, tx uint64
	code      peer.TxValidationCode
}

func lookupTx(tx *bolt.Tx, txID string) (txLocation, bool) {
	v := tx.Bucket(bucketTxIDs).Get([]byte(txID))
	if len(v) != 20 {
		return txLocation{}, false
	}
	return txLocation{
		block: binary.BigEndian.Uint64(v),
		tx:    binary.BigEndian.Uint64(v[8:]),
		code:  peer.TxValidationCode(binary.BigEndian.Uint32(v[16:])),
	}, true
}

func encodeTxLocation(l txLocation) []byte {
	b := make([]byte, 20)
	binary.BigEndian.PutUint64(b, l.block)
	binary.BigEndian.PutUint64(b[8:], l.tx)
	binary.BigEndian.PutUint32(b[16:], uint32(l.code))
	return b
}

func readBlockBytes(tx *bolt.Tx, num uint64) ([]byte, error) {
	v := tx.Bucket(bucketBlocks).Get(u64(num))
	if v == nil {
		return nil, fmt.Errorf("read block %d: %w", num, ErrNotFound)
	}
	return bytes.Clone(v), nil
}
