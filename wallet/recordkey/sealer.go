package recordkey

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
)

// Sealer encrypts and decrypts records with envelope encryption through a KeyService.
// It is safe for concurrent use.
type Sealer struct {
	keys    KeyService
	segSize int
}

// SealerOption configures a Sealer.
type SealerOption func(*Sealer) error

// WithSegmentSize sets the plaintext size of one segment: a power of two from 1 KiB to
// 4 MiB, default 64 KiB. Larger segments cost a little less per byte and need more memory
// per stream; readers accept any size, as it is recorded in each record.
func WithSegmentSize(n int) SealerOption {
	return func(s *Sealer) error {
		if n < 1<<minSegShift || n > 1<<maxSegShift || n&(n-1) != 0 {
			return fmt.Errorf("segment size %d: want a power of two in [%d, %d]", n, 1<<minSegShift, 1<<maxSegShift)
		}
		s.segSize = n
		return nil
	}
}

// NewSealer returns a Sealer whose data keys are wrapped by keys.
func NewSealer(keys KeyService, opts ...SealerOption) (*Sealer, error) {
	if keys == nil {
		return nil, fmt.Errorf("new sealer: no key service")
	}
	s := &Sealer{keys: keys, segSize: defaultSegSize}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, fmt.Errorf("new sealer: %w", err)
		}
	}
	return s, nil
}

// Sealed is the result of sealing a record version.
type Sealed struct {
	// Ciphertext is what goes to the blob store and whose SHA-256 goes to the ledger. Key
	// rotation never changes it.
	Ciphertext []byte
	// WrappedKey is the data key wrapped by the patient's KEK; store it with the record's
	// metadata, not inside the ciphertext, so rotation can replace it.
	WrappedKey []byte
	// KeyVersion is the KEK version that wrapped the data key.
	KeyVersion int
}

// Seal encrypts plaintext for patientID under a fresh data key. aad is authenticated but not
// encrypted: pass what identifies the record version (for example record ID and version),
// so a ciphertext cannot be presented as another record.
func (s *Sealer) Seal(ctx context.Context, patientID string, plaintext, aad []byte) (*Sealed, error) {
	return s.SealAppend(ctx, nil, patientID, plaintext, aad)
}

// SealAppend is Seal appending the ciphertext to dst, like cipher.AEAD.Seal, so a caller
// sealing many records can reuse one buffer instead of allocating (and page-faulting in)
// a fresh one per record, which costs more than the encryption itself for large records.
func (s *Sealer) SealAppend(ctx context.Context, dst []byte, patientID string, plaintext, aad []byte) (*Sealed, error) {
	dk, err := s.keys.NewDataKey(ctx, patientID)
	if err != nil {
		return nil, fmt.Errorf("seal record: %w", err)
	}
	ct, err := sealWithKey(dst, dk.Plaintext, s.segSize, plaintext, aad)
	clear(dk.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("seal record: %w", err)
	}
	return &Sealed{Ciphertext: ct, WrappedKey: dk.Wrapped, KeyVersion: dk.Version}, nil
}

// sealWithKey appends the sealed record to dst, growing it at most once.
func sealWithKey(dst, dataKey []byte, segSize int, plaintext, aad []byte) ([]byte, error) {
	h, err := newHeader(segSize)
	if err != nil {
		return nil, err
	}
	sc, err := newSegmentCipher(dataKey, h, aad)
	if err != nil {
		return nil, err
	}
	out := slices.Grow(dst, int(SealedSize(int64(len(plaintext)), segSize)))
	out = append(out, h[:]...)
	for i := uint64(0); ; i++ {
		chunk := plaintext[:min(segSize, len(plaintext))]
		plaintext = plaintext[len(chunk):]
		last := len(plaintext) == 0
		if out, err = sc.seal(out, chunk, i, last); err != nil {
			return nil, err
		}
		if last {
			return out, nil
		}
	}
}

// Open decrypts a sealed record. It fails with ErrKeyDestroyed once the patient was erased
// and with ErrCorrupt if anything was altered or aad differs from sealing.
func (s *Sealer) Open(ctx context.Context, patientID string, wrappedKey, ciphertext, aad []byte) ([]byte, error) {
	return s.OpenAppend(ctx, nil, patientID, wrappedKey, ciphertext, aad)
}

// OpenAppend is Open appending the plaintext to dst; see SealAppend. On error dst's spare
// capacity may hold part of the plaintext: clear it if that matters.
func (s *Sealer) OpenAppend(ctx context.Context, dst []byte, patientID string, wrappedKey, ciphertext, aad []byte) ([]byte, error) {
	key, err := s.keys.UnwrapDataKey(ctx, patientID, wrappedKey)
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	pt, err := openWithKey(dst, key, ciphertext, aad)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	return pt, nil
}

func openWithKey(dst, dataKey, ciphertext, aad []byte) ([]byte, error) {
	h, segSize, err := parseHeader(ciphertext)
	if err != nil {
		return nil, err
	}
	body := ciphertext[headerSize:]
	if len(body) < tagSize {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	sc, err := newSegmentCipher(dataKey, h, aad)
	if err != nil {
		return nil, err
	}
	sealedSeg := segSize + tagSize
	nseg := (len(body) + sealedSeg - 1) / sealedSeg
	if rem := len(body) % sealedSeg; rem != 0 && rem < tagSize {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	out := slices.Grow(dst, len(body)-nseg*tagSize)
	for i := 0; i < nseg; i++ {
		seg := body[i*sealedSeg : min((i+1)*sealedSeg, len(body))]
		if out, err = sc.open(out, seg, uint64(i), i == nseg-1); err != nil {
			return nil, err
		}
	}
	if out == nil {
		out = []byte{} // an empty record opened, which nil would hide
	}
	return out, nil
}

// Writer seals a record as it is written. Close must be called to write the final segment;
// without it the record is incomplete and will not open.
type Writer struct {
	dst        io.Writer
	sc         *segmentCipher
	segSize    int
	buf        []byte // pending plaintext, at most one segment
	out        []byte // sealed segment scratch
	index      uint64
	wrappedKey []byte
	keyVersion int
	err        error
	closed     bool
}

// NewWriter starts sealing a record for patientID to dst. The wrapped data key is available
// at once from WrappedKey.
func (s *Sealer) NewWriter(ctx context.Context, patientID string, dst io.Writer, aad []byte) (*Writer, error) {
	dk, err := s.keys.NewDataKey(ctx, patientID)
	if err != nil {
		return nil, fmt.Errorf("seal record: %w", err)
	}
	defer clear(dk.Plaintext)
	h, err := newHeader(s.segSize)
	if err != nil {
		return nil, fmt.Errorf("seal record: %w", err)
	}
	sc, err := newSegmentCipher(dk.Plaintext, h, aad)
	if err != nil {
		return nil, fmt.Errorf("seal record: %w", err)
	}
	if _, err := dst.Write(h[:]); err != nil {
		return nil, fmt.Errorf("seal record: write header: %w", err)
	}
	return &Writer{
		dst: dst, sc: sc, segSize: s.segSize,
		buf: make([]byte, 0, s.segSize), out: make([]byte, 0, s.segSize+tagSize),
		wrappedKey: dk.Wrapped, keyVersion: dk.Version,
	}, nil
}

// WrappedKey returns the wrapped data key of the record being written.
func (w *Writer) WrappedKey() []byte { return bytes.Clone(w.wrappedKey) }

// KeyVersion returns the KEK version that wrapped the data key.
func (w *Writer) KeyVersion() int { return w.keyVersion }

// Write seals p. A full segment is held back until more data arrives, so the final segment
// can be marked as last on Close.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, fmt.Errorf("seal record: write after close")
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.segSize {
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):w.segSize], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

func (w *Writer) flush(last bool) error {
	out, err := w.sc.seal(w.out[:0], w.buf, w.index, last)
	if err != nil {
		w.err = fmt.Errorf("seal record: %w", err)
		return w.err
	}
	if _, err := w.dst.Write(out); err != nil {
		w.err = fmt.Errorf("seal record: write: %w", err)
		return w.err
	}
	w.index++
	w.buf = w.buf[:0]
	return nil
}

// Close seals the final segment. It does not close the destination.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.flush(true)
	clear(w.buf[:cap(w.buf)])
	return err
}

// NewReader opens a sealed record as a stream. Each segment is released only after it
// authenticated, but truncation is detected only at the end: treat any error from Read as a
// failure of the whole record and discard what was read.
func (s *Sealer) NewReader(ctx context.Context, patientID string, wrappedKey []byte, src io.Reader, aad []byte) (io.Reader, error) {
	var hb [headerSize]byte
	if _, err := io.ReadFull(src, hb[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("open record: %w: shorter than the header", ErrCorrupt)
		}
		return nil, fmt.Errorf("open record: read header: %w", err)
	}
	h, segSize, err := parseHeader(hb[:])
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	key, err := s.keys.UnwrapDataKey(ctx, patientID, wrappedKey)
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	sc, err := newSegmentCipher(key, h, aad)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("open record: %w", err)
	}
	return &reader{src: src, sc: sc, segSize: segSize, ct: make([]byte, segSize+tagSize+1), pt: make([]byte, 0, segSize)}, nil
}

type reader struct {
	src     io.Reader
	sc      *segmentCipher
	segSize int
	ct      []byte // sealed segment plus one byte of look-ahead
	ctLen   int
	pt      []byte
	ptOff   int
	index   uint64
	done    bool
	err     error
}

func (r *reader) Read(p []byte) (int, error) {
	for r.ptOff == len(r.pt) {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		r.err = r.next()
	}
	n := copy(p, r.pt[r.ptOff:])
	r.ptOff += n
	return n, nil
}

// next reads and opens one segment. Reading one byte beyond a full segment tells whether
// it is the last one.
func (r *reader) next() error {
	n, err := io.ReadFull(r.src, r.ct[r.ctLen:])
	r.ctLen += n
	var seg []byte
	var last bool
	switch err {
	case nil:
		seg, last = r.ct[:r.segSize+tagSize], false
	case io.EOF, io.ErrUnexpectedEOF:
		seg, last = r.ct[:r.ctLen], true
		if len(seg) < tagSize {
			return fmt.Errorf("open record: %w: truncated", ErrCorrupt)
		}
	default:
		return fmt.Errorf("open record: read: %w", err)
	}
	pt, oerr := r.sc.open(r.pt[:0], seg, r.index, last)
	if oerr != nil {
		return fmt.Errorf("open record: %w", oerr)
	}
	r.pt, r.ptOff = pt, 0
	r.index++
	if last {
		r.done = true
		r.ctLen = 0
		return nil
	}
	r.ct[0] = r.ct[r.segSize+tagSize]
	r.ctLen = 1
	return nil
}
