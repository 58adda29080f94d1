package recordkey

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
)

// Sealed record layout:
//
//	header  = "CLRK" | format version (1) | log2(segment size) | 3 zero bytes | nonce prefix (7)
//	segment = AES-256-GCM(data key, nonce, plaintext[i*S : (i+1)*S], aad)  (S bytes + 16 tag)
//	nonce   = nonce prefix (7) | big-endian segment index (4) | last flag (1: 0 or 1)
//	aad     = SHA-256("careledger/record/v1" | header | caller's additional data)
//
// Every segment but the last holds exactly S plaintext bytes; the last holds 0..S and is the
// only one sealed with the last flag, so dropping trailing segments, reordering or splicing
// segments of another record all fail authentication. The data key is fresh per record
// version; the random prefix only guards against a caller reusing a data key by mistake.
const (
	headerSize     = 16
	tagSize        = 16
	formatVersion  = 1
	minSegShift    = 10 // 1 KiB
	maxSegShift    = 22 // 4 MiB, which also bounds the memory a reader allocates
	defaultSegSize = 64 << 10
	maxSegments    = 1 << 32
)

var magic = [4]byte{'C', 'L', 'R', 'K'}

type header [headerSize]byte

func newHeader(segSize int) (header, error) {
	var h header
	copy(h[:4], magic[:])
	h[4] = formatVersion
	h[5] = byte(bits.TrailingZeros(uint(segSize)))
	if _, err := rand.Read(h[9:16]); err != nil {
		return h, fmt.Errorf("generate nonce prefix: %w", err)
	}
	return h, nil
}

// parseHeader validates a header and returns its segment size.
func parseHeader(b []byte) (header, int, error) {
	var h header
	if len(b) < headerSize {
		return h, 0, fmt.Errorf("%w: %d bytes, shorter than the header", ErrCorrupt, len(b))
	}
	copy(h[:], b)
	switch {
	case [4]byte(h[:4]) != magic:
		return h, 0, fmt.Errorf("%w: not a sealed record", ErrCorrupt)
	case h[4] != formatVersion:
		return h, 0, fmt.Errorf("%w: unsupported format version %d", ErrCorrupt, h[4])
	case h[5] < minSegShift || h[5] > maxSegShift:
		return h, 0, fmt.Errorf("%w: segment size 2^%d out of range", ErrCorrupt, h[5])
	case h[6] != 0 || h[7] != 0 || h[8] != 0:
		return h, 0, fmt.Errorf("%w: reserved header bytes set", ErrCorrupt)
	}
	return h, 1 << h[5], nil
}

// segmentCipher seals and opens the segments of one record.
type segmentCipher struct {
	aead  cipher.AEAD
	aad   [sha256.Size]byte
	nonce [12]byte
}

func newSegmentCipher(dataKey []byte, h header, aad []byte) (*segmentCipher, error) {
	if len(dataKey) != DataKeySize {
		return nil, fmt.Errorf("%w: data key of %d bytes", ErrCorrupt, len(dataKey))
	}
	block, err := aes.NewCipher(dataKey)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	sc := &segmentCipher{aead: aead}
	d := sha256.New()
	d.Write([]byte("careledger/record/v1"))
	d.Write(h[:])
	d.Write(aad)
	d.Sum(sc.aad[:0])
	copy(sc.nonce[:7], h[9:16])
	return sc, nil
}

func (sc *segmentCipher) setNonce(index uint64, last bool) error {
	if index >= maxSegments {
		return errors.New("record too large: segment counter exhausted")
	}
	binary.BigEndian.PutUint32(sc.nonce[7:11], uint32(index))
	sc.nonce[11] = 0
	if last {
		sc.nonce[11] = 1
	}
	return nil
}

// seal appends the sealed segment to dst.
func (sc *segmentCipher) seal(dst, plaintext []byte, index uint64, last bool) ([]byte, error) {
	if err := sc.setNonce(index, last); err != nil {
		return nil, err
	}
	return sc.aead.Seal(dst, sc.nonce[:], plaintext, sc.aad[:]), nil
}

// open appends the opened segment to dst.
func (sc *segmentCipher) open(dst, sealed []byte, index uint64, last bool) ([]byte, error) {
	if err := sc.setNonce(index, last); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	out, err := sc.aead.Open(dst, sc.nonce[:], sealed, sc.aad[:])
	if err != nil {
		return nil, fmt.Errorf("%w: segment %d fails authentication", ErrCorrupt, index)
	}
	return out, nil
}

// SealedSize returns the size of the sealed form of a plaintext of n bytes with the given
// segment size (0 for the default), for Content-Length headers and storage quotas.
func SealedSize(n int64, segmentSize int) int64 {
	if segmentSize == 0 {
		segmentSize = defaultSegSize
	}
	segs := (n + int64(segmentSize) - 1) / int64(segmentSize)
	if segs == 0 {
		segs = 1
	}
	return headerSize + n + segs*tagSize
}
