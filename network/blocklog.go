package network

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sync/atomic"
)

// The block log is the node's block store and its write-ahead log: one append-only file of
// records, each a little-endian u32 length, a u32 CRC-32C of the block bytes and the bytes of
// one common.Block, in block order from the genesis block on. A block is durable once its
// record is synced; the bbolt index (world state, history, transaction IDs, block positions)
// is derived from the log and can always be rebuilt from it.
const (
	blockRecordHeader = 8
	// maxBlockRecord bounds a record's length so that a damaged length field cannot make the
	// reader allocate gigabytes.
	maxBlockRecord = 1 << 30
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// errTornRecord reports a record that ends the log unfinished or fails its checksum.
var errTornRecord = errors.New("block log record is incomplete or fails its checksum")

// blockPos is where a block's bytes are in the log.
type blockPos struct {
	off int64 // of the block bytes, after the record header
	len uint32
}

func (p blockPos) end() int64 { return p.off + int64(p.len) }

func (p blockPos) encode() []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint64(b, uint64(p.off))
	binary.BigEndian.PutUint32(b[8:], p.len)
	return b
}

func decodeBlockPos(b []byte) (blockPos, bool) {
	if len(b) != 12 {
		return blockPos{}, false
	}
	return blockPos{off: int64(binary.BigEndian.Uint64(b)), len: binary.BigEndian.Uint32(b[8:])}, true
}

// logFile is what the block log needs of its file; *os.File is one. Tests put a file that
// fails on demand in its place.
type logFile interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Close() error
}

// blockLog appends and reads block records. Only the committer appends; reads at positions
// below the end of the last synced record may run concurrently with an append.
type blockLog struct {
	f    logFile
	size atomic.Int64 // end of the last whole record
	// allocated is the file's length: the log is extended with zeros ahead of the records, so
	// that appending overwrites allocated blocks and a sync need not commit a new file length.
	allocated int64
}

// allocationChunk is how far ahead of the records the log is extended with zeros.
const allocationChunk = 16 << 20

func openBlockLog(path string, readOnly bool) (*blockLog, error) {
	flag := os.O_RDWR | os.O_CREATE
	if readOnly {
		flag = os.O_RDONLY
	}
	f, err := os.OpenFile(path, flag, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open block log: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open block log: %w", err)
	}
	l := &blockLog{f: f, allocated: st.Size()}
	l.size.Store(st.Size())
	return l, nil
}

// append writes raw as the next record and syncs it to stable storage.
func (l *blockLog) append(raw []byte) (blockPos, error) { return l.write(raw, true) }

// write appends raw as the next record, synced if sync is set.
func (l *blockLog) write(raw []byte, sync bool) (blockPos, error) {
	if len(raw) > maxBlockRecord {
		return blockPos{}, fmt.Errorf("append block: %d bytes is over the record limit", len(raw))
	}
	rec := make([]byte, blockRecordHeader+len(raw))
	binary.LittleEndian.PutUint32(rec, uint32(len(raw)))
	binary.LittleEndian.PutUint32(rec[4:], crc32.Checksum(raw, crcTable))
	copy(rec[blockRecordHeader:], raw)
	size := l.size.Load()
	if end := size + int64(len(rec)); end > l.allocated {
		if err := l.extend(end + allocationChunk); err != nil {
			return blockPos{}, err
		}
	}
	if _, err := l.f.WriteAt(rec, size); err != nil {
		return blockPos{}, fmt.Errorf("append block: %w", err)
	}
	if sync {
		if err := l.f.Sync(); err != nil {
			return blockPos{}, fmt.Errorf("append block: sync: %w", err)
		}
	}
	pos := blockPos{off: size + blockRecordHeader, len: uint32(len(raw))}
	l.size.Store(pos.end())
	return pos, nil
}

// extend writes zeros up to length and syncs them, data and file length.
func (l *blockLog) extend(length int64) error {
	zeros := make([]byte, 1<<20)
	for off := l.allocated; off < length; off += int64(len(zeros)) {
		if _, err := l.f.WriteAt(zeros[:min(int64(len(zeros)), length-off)], off); err != nil {
			return fmt.Errorf("extend block log: %w", err)
		}
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("extend block log: %w", err)
	}
	l.allocated = length
	return nil
}

// read returns the block bytes at pos, checking the record's checksum.
func (l *blockLog) read(pos blockPos) ([]byte, error) {
	if pos.off < blockRecordHeader || pos.end() > l.size.Load() {
		return nil, fmt.Errorf("read block log at %d: %w", pos.off, errTornRecord)
	}
	rec := make([]byte, blockRecordHeader+int(pos.len))
	if _, err := l.f.ReadAt(rec, pos.off-blockRecordHeader); err != nil {
		return nil, fmt.Errorf("read block log at %d: %w", pos.off, err)
	}
	if binary.LittleEndian.Uint32(rec) != pos.len || binary.LittleEndian.Uint32(rec[4:]) != crc32.Checksum(rec[blockRecordHeader:], crcTable) {
		return nil, fmt.Errorf("read block log at %d: %w", pos.off, errTornRecord)
	}
	return rec[blockRecordHeader:], nil
}

// next reads the record that starts at off. It returns io.EOF at the end of the log (the end
// of the file, or zeros where the next record would start) and errTornRecord for a record that
// is cut short or fails its checksum.
func (l *blockLog) next(off int64) (blockPos, []byte, error) {
	size := l.size.Load()
	if off >= size {
		return blockPos{}, nil, io.EOF
	}
	var hdr [blockRecordHeader]byte
	if off+blockRecordHeader > size {
		return blockPos{}, nil, errTornRecord
	}
	if _, err := l.f.ReadAt(hdr[:], off); err != nil {
		return blockPos{}, nil, fmt.Errorf("read block log at %d: %w", off, err)
	}
	if hdr == [blockRecordHeader]byte{} {
		return blockPos{}, nil, io.EOF
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	pos := blockPos{off: off + blockRecordHeader, len: n}
	if n == 0 || n > maxBlockRecord || pos.end() > size {
		return blockPos{}, nil, errTornRecord
	}
	raw := make([]byte, n)
	if _, err := l.f.ReadAt(raw, pos.off); err != nil {
		return blockPos{}, nil, fmt.Errorf("read block log at %d: %w", pos.off, err)
	}
	if binary.LittleEndian.Uint32(hdr[4:]) != crc32.Checksum(raw, crcTable) {
		return blockPos{}, nil, errTornRecord
	}
	return pos, raw, nil
}

// truncate drops everything from off on (an unfinished last record) and syncs.
func (l *blockLog) truncate(off int64) error {
	if err := l.f.Truncate(off); err != nil {
		return fmt.Errorf("truncate block log: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("truncate block log: %w", err)
	}
	l.size.Store(off)
	l.allocated = off
	return nil
}

// setEnd records where the last whole record ends, found by reading the log when it is opened;
// the zeros after it are allocated space.
func (l *blockLog) setEnd(off int64) { l.size.Store(off) }

func (l *blockLog) close() error { return l.f.Close() }
