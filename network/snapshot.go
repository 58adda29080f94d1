package network

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// LogSnapshot describes the prefix of a block log that SnapshotBlockLog wrote.
type LogSnapshot struct {
	// Height is the number of blocks written; LastHash the header hash of the last of them.
	Height   uint64
	LastHash []byte
	// Bytes is the length written, record headers included.
	Bytes int64
	// Online is set when a node had the ledger open while the snapshot was taken.
	Online bool
}

// ErrLedgerMismatch means two block logs do not share the blocks they should: a snapshot that
// is not a prefix of the ledger it should catch up from.
var ErrLedgerMismatch = errors.New("block logs diverge")

// SnapshotBlockLog writes to w a copy of the block log of the node whose data directory is dir,
// up to a height at which every block is synced, without stopping or slowing a node that is
// running on it: no lock is taken and nothing is written to the ledger directory.
//
// Why that is consistent: the log is append-only and the committer syncs each record before it
// writes the next one, so every whole record except the last is synced, acknowledged and never
// rewritten (a failed write truncates back only to the end of the last indexed block, which is
// at or after the second-to-last record). While a node runs, the snapshot therefore stops before
// the last whole record; on a stopped ledger it takes every whole record. Each record's
// checksum and each block's number and previous hash are checked on the way.
func SnapshotBlockLog(ctx context.Context, dir string, w io.Writer) (LogSnapshot, error) {
	ldir := LedgerDir(dir)
	var snap LogSnapshot
	lock := flock.New(filepath.Join(ldir, lockFile))
	switch ok, err := lock.TryRLock(); {
	case err != nil:
		return snap, fmt.Errorf("snapshot block log: %w", err)
	case ok:
		defer lock.Unlock()
	default:
		snap.Online = true
	}
	l, err := openBlockLog(filepath.Join(ldir, blockFile), true)
	if err != nil {
		return snap, fmt.Errorf("snapshot block log: %w", err)
	}
	defer l.close()
	var pending []byte // the last whole record read, written once the next one is whole
	var pendingHash []byte
	flush := func() error {
		if pending == nil {
			return nil
		}
		n, err := w.Write(pending)
		snap.Bytes += int64(n)
		if err != nil {
			return fmt.Errorf("snapshot block log: %w", err)
		}
		snap.Height++
		snap.LastHash = pendingHash
		pending = nil
		return nil
	}
	var off int64
	var prevHash []byte
	for num := uint64(0); ; num++ {
		if err := ctx.Err(); err != nil {
			return snap, err
		}
		pos, raw, err := l.next(off)
		if errors.Is(err, io.EOF) || errors.Is(err, errTornRecord) {
			break
		}
		if err != nil {
			return snap, fmt.Errorf("snapshot block log: %w", err)
		}
		hash, err := checkChained(raw, num, prevHash)
		if err != nil {
			return snap, fmt.Errorf("snapshot block log: %w", err)
		}
		if err := flush(); err != nil {
			return snap, err
		}
		pending, pendingHash = encodeRecord(raw), hash
		prevHash, off = hash, pos.end()
	}
	if !snap.Online {
		if err := flush(); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// checkChained parses a block and checks that it is block num following prevHash; it returns
// the block's header hash.
func checkChained(raw []byte, num uint64, prevHash []byte) ([]byte, error) {
	b := &common.Block{}
	if err := proto.Unmarshal(raw, b); err != nil {
		return nil, &BrokenBlockError{Block: num, Reason: "unreadable block: " + err.Error()}
	}
	h := b.GetHeader()
	if h.GetNumber() != num {
		return nil, &BrokenBlockError{Block: num, Reason: fmt.Sprintf("the log holds block %d here", h.GetNumber())}
	}
	if num > 0 && !bytes.Equal(h.GetPreviousHash(), prevHash) {
		return nil, &BrokenBlockError{Block: num, Reason: "previous hash does not match"}
	}
	return blockHeaderHash(h), nil
}

// encodeRecord frames block bytes as a block log record.
func encodeRecord(raw []byte) []byte {
	rec := make([]byte, blockRecordHeader+len(raw))
	binary.LittleEndian.PutUint32(rec, uint32(len(raw)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(raw, crcTable))
	copy(rec[blockRecordHeader:], raw)
	return rec
}

// CatchUp appends to the block log of the stopped node in dir the blocks that the block log of
// the node in from holds beyond it, as a restored node catches up from its consortium. The
// shared blocks must be identical (ErrLedgerMismatch otherwise). The index is not touched:
// RebuildIndex brings it level. It returns how many blocks were appended. from may be running;
// its last record is then left out, as in SnapshotBlockLog.
func CatchUp(ctx context.Context, dir, from string) (uint64, error) {
	own, err := SnapshotBlockLog(ctx, dir, io.Discard)
	if err != nil {
		return 0, fmt.Errorf("catch up: %w", err)
	}
	if own.Online {
		return 0, fmt.Errorf("catch up: the ledger in %s is open in a running node", dir)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(snapshotTail(ctx, from, own, pw)) }()
	l, err := openBlockLog(filepath.Join(LedgerDir(dir), blockFile), false)
	if err != nil {
		pr.Close()
		return 0, fmt.Errorf("catch up: %w", err)
	}
	defer l.close()
	// Drop the zeros allocated after the last record, so appends follow it directly.
	if err := l.truncate(own.Bytes); err != nil {
		pr.Close()
		return 0, fmt.Errorf("catch up: %w", err)
	}
	var added uint64
	var hdr [blockRecordHeader]byte
	for {
		if _, err := io.ReadFull(pr, hdr[:]); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return added, fmt.Errorf("catch up: %w", err)
		}
		raw := make([]byte, binary.LittleEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(pr, raw); err != nil {
			return added, fmt.Errorf("catch up: %w", err)
		}
		if _, err := l.write(raw, false); err != nil {
			pr.Close()
			return added, fmt.Errorf("catch up: %w", err)
		}
		added++
	}
	if err := l.f.Sync(); err != nil {
		return added, fmt.Errorf("catch up: %w", err)
	}
	return added, nil
}

// snapshotTail writes the records of from's block log after the first own.Height blocks,
// checking that block own.Height-1 there is the one own ends with.
func snapshotTail(ctx context.Context, from string, own LogSnapshot, w io.Writer) error {
	tail := &tailWriter{skip: own.Height, want: own.LastHash, w: w}
	if _, err := SnapshotBlockLog(ctx, from, tail); err != nil {
		return err
	}
	if tail.seen < own.Height {
		return fmt.Errorf("%w: %s holds %d blocks, fewer than the %d restored", ErrLedgerMismatch, from, tail.seen, own.Height)
	}
	return nil
}

// tailWriter receives whole records from SnapshotBlockLog (one Write per record), drops the
// first skip of them, checks the last dropped against want and passes on the rest.
type tailWriter struct {
	skip, seen uint64
	want       []byte
	w          io.Writer
}

func (t *tailWriter) Write(rec []byte) (int, error) {
	t.seen++
	if t.seen < t.skip {
		return len(rec), nil
	}
	if t.seen == t.skip {
		b := &common.Block{}
		if err := proto.Unmarshal(rec[blockRecordHeader:], b); err != nil || !bytes.Equal(blockHeaderHash(b.GetHeader()), t.want) {
			return 0, fmt.Errorf("%w: block %d differs", ErrLedgerMismatch, t.skip-1)
		}
		return len(rec), nil
	}
	return t.w.Write(rec)
}

// RebuildIndex builds the index of the stopped node in dir from its block log (a restored
// ledger carries no index) and returns the height. A Fabric peer does the same when its state
// database is dropped.
func RebuildIndex(dir string, log *slog.Logger) (uint64, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ldir := LedgerDir(dir)
	if err := os.Remove(filepath.Join(ldir, indexFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("rebuild index: %w", err)
	}
	st, err := openStore(ldir, false, log)
	if err != nil {
		return 0, fmt.Errorf("rebuild index: %w", err)
	}
	var info chainInfo
	err = st.db.View(func(tx *bolt.Tx) error {
		info, err = readChainInfo(tx)
		return err
	})
	return info.height, errors.Join(err, st.close())
}

// ScanState calls fn for every key of chaincode ns in the world state of the stopped node in dir
// that starts with prefix (a composite key prefix such as "\x00cl.erased\x00"), in key order.
func ScanState(ctx context.Context, dir, ns, prefix string, fn func(key string, value []byte) error) error {
	st, err := openStore(LedgerDir(dir), true, nil)
	if err != nil {
		return fmt.Errorf("scan state: %w", err)
	}
	defer st.close()
	start := stateKey(ns, prefix)
	return st.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketState).Cursor()
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, start); k, v = c.Next() {
			if err := ctx.Err(); err != nil {
				return err
			}
			_, value, err := decodeState(v)
			if err != nil {
				return fmt.Errorf("scan state: %w", err)
			}
			if err := fn(string(k[len(ns)+1:]), value); err != nil {
				return err
			}
		}
		return nil
	})
}
