package network

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
)

// Bucket layout of the index file. The block log (blocklog.go) is the ledger of record; the
// index holds what the node looks up (world state, history, transaction IDs, where each block
// is in the log, chain info) and is derived from the log. Everything a block changes in the
// index is written in one bbolt transaction, after the block's record is synced.
var (
	bucketBlocks  = []byte("blocks")  // u64be(block number) -> blockPos in the block log
	bucketState   = []byte("state")   // ns 0x00 key -> u64be(block) u64be(tx) value
	bucketHistory = []byte("history") // ns 0x00 key 0x00 u64be(block) u64be(tx) -> queryresult.KeyModification bytes
	bucketTxIDs   = []byte("txids")   // tx ID -> u64be(block) u64be(tx) u32be(validation code)
	bucketMeta    = []byte("meta")    // "height" -> u64be, "hash" -> last block header hash, "commithash", "format"
)

var (
	metaHeight     = []byte("height")
	metaHash       = []byte("hash")
	metaCommitHash = []byte("commithash")
	// metaFormat marks an index whose blocks bucket holds log positions. Ledgers written before
	// the block log kept whole blocks in bbolt; openStore moves them into the log.
	metaFormat     = []byte("format")
	formatBlockLog = []byte("blocklog")
)

// version is a Fabric state version: the block and transaction that last wrote a key.
type version struct {
	block, tx uint64
}

// store is the durable ledger: the block log and the bbolt index derived from it.
//
// Durability comes from the block log alone: a block is acknowledged once its record is synced.
// The index is committed without fsync (bbolt NoSync), which removes two scattered-page syncs
// from every block. That is safe against a crash of the process (kill -9): what the process
// wrote is in the operating system's page cache, bbolt's copy-on-write commit leaves either the
// whole block or none of it, and a block whose record was synced but whose index commit did not
// happen is replayed from the log on the next open. It is not safe against a crash of the
// operating system or a power cut, which can tear unsynced pages; the node then rebuilds the
// whole index from the log. It tells the two apart by the in-use marker, which holds the
// kernel's boot ID while the ledger is open: a marker from an earlier boot (or any marker where
// there is no boot ID) means the machine went down with the ledger open.
type store struct {
	db   *bolt.DB
	log  *blockLog
	dir  string
	ro   bool
	lock *flock.Flock // held by a writable store from before the marker is read until close
}

const (
	indexFile   = "ledger.db"
	blockFile   = "blocks.log"
	inUseMarker = "in-use"
	lockFile    = "LOCK"
)

// openStore opens the ledger in dir (the node's ledger directory), recovering the index from the
// block log after a crash. A read-only store neither recovers nor writes anything.
func openStore(dir string, readOnly bool, log *slog.Logger) (s *store, err error) {
	s = &store{dir: dir, ro: readOnly}
	rebuild := false
	if !readOnly {
		// Only one node may own the ledger, and it must own it before it reads the marker:
		// another node's marker would otherwise look like a crash and its index be rebuilt.
		lock := flock.New(filepath.Join(dir, lockFile))
		s.lock = lock
		if ok, err := lock.TryLock(); err != nil {
			return nil, fmt.Errorf("open ledger %s: %w", dir, err)
		} else if !ok {
			return nil, fmt.Errorf("open ledger %s: another process (a running node?) has it open", dir)
		}
		defer func() {
			if err != nil {
				lock.Unlock()
			}
		}()
		prev, err := os.ReadFile(filepath.Join(dir, inUseMarker))
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			return nil, fmt.Errorf("open ledger: %w", err)
		default:
			boot := bootID()
			if boot == "" || string(prev) != boot {
				rebuild = true
				log.Warn("the ledger was open when the machine went down; rebuilding its index from the block log")
				if err := os.Remove(filepath.Join(dir, indexFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return nil, fmt.Errorf("open ledger: %w", err)
				}
			} else {
				log.Info("the node stopped without closing its ledger; checking the index against the block log")
			}
		}
		if err := writeFileSync(filepath.Join(dir, inUseMarker), []byte(bootID()), 0o600); err != nil {
			return nil, fmt.Errorf("open ledger: %w", err)
		}
		if err := syncDir(dir); err != nil {
			return nil, fmt.Errorf("open ledger: %w", err)
		}
	}
	db, err := bolt.Open(filepath.Join(dir, indexFile), 0o600, &bolt.Options{
		Timeout:  2 * time.Second,
		ReadOnly: readOnly,
		// See the type's comment: the block log makes blocks durable, not the index.
		NoSync: true,
		// The freelist is rebuilt on open instead of written on every commit.
		NoFreelistSync: true,
		FreelistType:   bolt.FreelistMapType,
		// A large initial mapping avoids remaps, which must wait for every open read
		// transaction (every running simulation) to finish.
		InitialMmapSize: 1 << 30,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open ledger %s: %w: another process (a running node?) has it open", dir, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open ledger %s: %w", dir, err)
	}
	s.db = db
	if s.log, err = openBlockLog(filepath.Join(dir, blockFile), readOnly); err != nil {
		db.Close()
		return nil, err
	}
	if !readOnly {
		if err := s.recover(rebuild, log); err != nil {
			s.log.close()
			db.Close()
			return nil, fmt.Errorf("open ledger %s: %w", dir, err)
		}
	}
	return s, nil
}

// rewind drops everything in the block log after the last block the index holds: the record
// of a block whose write or sync failed, or that was synced but never indexed, so never
// acknowledged. Truncating, rather than writing over the record, matters: after a failed
// fsync the kernel may have marked pages clean that never reached the disk, and a later
// successful fsync would not write them again. Truncation drops those pages; the block is
// then written afresh, and only its own sync makes it durable.
func (s *store) rewind() error {
	var end int64
	err := s.db.View(func(tx *bolt.Tx) error {
		info, err := readChainInfo(tx)
		if err != nil {
			return err
		}
		pos, ok := decodeBlockPos(tx.Bucket(bucketBlocks).Get(u64(info.height - 1)))
		if !ok {
			return fmt.Errorf("the index has no position for block %d", info.height-1)
		}
		end = pos.end()
		return nil
	})
	if err != nil {
		return fmt.Errorf("rewind block log: %w", err)
	}
	return s.log.truncate(end)
}

// recover brings the index level with the block log: it creates the buckets, moves blocks of
// an older ledger into the log, replays blocks the index lacks and drops an unfinished last
// record, which no client was ever told about.
func (s *store) recover(rebuilding bool, log *slog.Logger) error {
	var migrate bool
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketBlocks, bucketState, bucketHistory, bucketTxIDs, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		if meta.Get(metaFormat) == nil {
			migrate = meta.Get(metaHeight) != nil
			if !migrate {
				return meta.Put(metaFormat, formatBlockLog)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if migrate {
		if err := s.migrate(log); err != nil {
			return err
		}
	}
	var info chainInfo
	var off int64
	err = s.db.View(func(tx *bolt.Tx) error {
		var err error
		if info, err = readChainInfo(tx); err != nil || info.height == 0 {
			return err
		}
		pos, ok := decodeBlockPos(tx.Bucket(bucketBlocks).Get(u64(info.height - 1)))
		if !ok {
			return fmt.Errorf("the index has no position for block %d", info.height-1)
		}
		if pos.end() > s.log.size.Load() {
			return fmt.Errorf("the block log ends before block %d, which the index holds: the ledger is damaged", info.height-1)
		}
		off = pos.end()
		return nil
	})
	if err != nil {
		return err
	}
	replayed, end, torn, err := s.replay(info, off)
	if err != nil {
		return err
	}
	if torn {
		log.Warn("dropping an unfinished block record at the end of the block log", "bytes", s.log.size.Load()-end)
		if err := s.log.truncate(end); err != nil {
			return err
		}
	}
	s.log.setEnd(end)
	if replayed > 0 || rebuilding {
		log.Info("index recovered from the block log", "blocks", replayed)
	}
	return s.db.Sync()
}

// replay applies the log's records from off on, which must continue the chain described by
// info. It returns how many blocks it applied, where the last whole record ends and whether an
// unfinished record follows it.
func (s *store) replay(info chainInfo, off int64) (int, int64, bool, error) {
	replayed := 0
	for {
		var done, torn bool
		err := s.db.Update(func(tx *bolt.Tx) error {
			// Many blocks per index transaction: a rebuild replays the whole chain.
			for range 256 {
				pos, raw, err := s.log.next(off)
				if errors.Is(err, io.EOF) || errors.Is(err, errTornRecord) {
					done, torn = true, errors.Is(err, errTornRecord)
					return nil
				}
				if err != nil {
					return err
				}
				c, err := committedFromLog(raw, pos, info)
				if err != nil {
					return err
				}
				if err := writeBlock(tx, c); err != nil {
					return err
				}
				info = chainInfo{height: c.num + 1, lastHash: c.headerHash, commitHash: c.commitHash}
				off = pos.end()
				replayed++
			}
			return nil
		})
		if err != nil {
			return replayed, off, false, fmt.Errorf("replay block %d from the block log: %w", info.height, err)
		}
		if done {
			return replayed, off, torn, nil
		}
	}
}

// migrate moves the blocks of a ledger written before the block log out of bbolt into the
// log, replacing each by its position. It runs once; a crash during it starts it over.
func (s *store) migrate(log *slog.Logger) error {
	log.Info("moving the blocks of this ledger into a block log; this happens once")
	if err := s.log.truncate(0); err != nil {
		return err
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		blocks := tx.Bucket(bucketBlocks)
		var moved [][2][]byte
		c := blocks.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if want := u64(uint64(len(moved))); !bytes.Equal(k, want) {
				return fmt.Errorf("migrate: block %d is missing", len(moved))
			}
			pos, err := s.log.write(v, false)
			if err != nil {
				return err
			}
			moved = append(moved, [2][]byte{bytes.Clone(k), pos.encode()})
		}
		if err := s.log.f.Sync(); err != nil {
			return fmt.Errorf("migrate: sync block log: %w", err)
		}
		for _, kv := range moved {
			if err := blocks.Put(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(metaFormat, formatBlockLog)
	})
}

// close syncs the index, closes both files and removes the in-use marker: the next open needs
// no recovery.
func (s *store) close() error {
	if s.ro {
		return errors.Join(s.db.Close(), s.log.close())
	}
	err := errors.Join(s.db.Sync(), s.db.Close(), s.log.close())
	if err == nil {
		// The marker goes only once the index is synced: otherwise the next open must recover.
		if err = os.Remove(filepath.Join(s.dir, inUseMarker)); err == nil {
			err = syncDir(s.dir)
		}
	}
	return errors.Join(err, s.lock.Unlock())
}

// bootID identifies the running boot of the operating system, or is empty where the system
// does not say (anything but Linux).
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

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

// readBlockBytes returns the bytes of block num from the log.
func (s *store) readBlockBytes(tx *bolt.Tx, num uint64) ([]byte, error) {
	v := tx.Bucket(bucketBlocks).Get(u64(num))
	if v == nil {
		return nil, fmt.Errorf("read block %d: %w", num, ErrNotFound)
	}
	pos, ok := decodeBlockPos(v)
	if !ok {
		return nil, fmt.Errorf("read block %d: malformed position in the index", num)
	}
	return s.log.read(pos)
}
