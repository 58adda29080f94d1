package recordkey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"

	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/recordkeytest"
	"github.com/stretchr/testify/require"
)

const seg = 1024 // small segments make boundary cases cheap

func newSealer(t testing.TB) (*recordkey.Sealer, string) {
	t.Helper()
	s, err := recordkey.NewSealer(openLocal(t, t.TempDir()), recordkey.WithSegmentSize(seg))
	require.NoError(t, err)
	return s, recordkeytest.NewPatientID(t)
}

func randomBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func TestSealOpenSizes(t *testing.T) {
	ctx := context.Background()
	s, p := newSealer(t)
	for _, n := range []int{0, 1, seg - 1, seg, seg + 1, 2 * seg, 3*seg + 17, 100_000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			pt := randomBytes(t, n)
			aad := []byte("rec/1")
			rec, err := s.Seal(ctx, p, pt, aad)
			require.NoError(t, err)
			require.Equal(t, recordkey.SealedSize(int64(n), seg), int64(len(rec.Ciphertext)))

			got, err := s.Open(ctx, p, rec.WrappedKey, rec.Ciphertext, aad)
			require.NoError(t, err)
			require.Equal(t, pt, got)

			// Streaming and one-shot forms are the same format.
			r, err := s.NewReader(ctx, p, rec.WrappedKey, iotest.HalfReader(bytes.NewReader(rec.Ciphertext)), aad)
			require.NoError(t, err)
			streamed, err := io.ReadAll(r)
			require.NoError(t, err)
			require.Equal(t, pt, streamed)

			var buf bytes.Buffer
			w, err := s.NewWriter(ctx, p, &buf, aad)
			require.NoError(t, err)
			for rest := pt; len(rest) > 0; { // odd writes cross segment boundaries
				n := min(333, len(rest))
				_, err := w.Write(rest[:n])
				require.NoError(t, err)
				rest = rest[n:]
			}
			require.NoError(t, w.Close())
			require.Equal(t, len(rec.Ciphertext), buf.Len())
			got, err = s.Open(ctx, p, w.WrappedKey(), buf.Bytes(), aad)
			require.NoError(t, err)
			require.Equal(t, pt, got)
		})
	}
}

func TestOpenRejectsTampering(t *testing.T) {
	ctx := context.Background()
	s, p := newSealer(t)
	pt := randomBytes(t, 3*seg+100)
	aad := []byte("rec/1")
	rec, err := s.Seal(ctx, p, pt, aad)
	require.NoError(t, err)
	other, err := s.Seal(ctx, p, randomBytes(t, 3*seg+100), aad)
	require.NoError(t, err)
	ct := rec.Ciphertext
	sealedSeg := seg + 16

	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(ct)) }
	tests := []struct {
		name string
		ct   []byte
		aad  []byte
		key  []byte
	}{
		{"wrong aad", ct, []byte("rec/2"), nil},
		{"flipped body bit", mod(func(b []byte) []byte { b[100] ^= 1; return b }), aad, nil},
		{"flipped nonce prefix", mod(func(b []byte) []byte { b[12] ^= 1; return b }), aad, nil},
		{"magic", mod(func(b []byte) []byte { b[0] = 'X'; return b }), aad, nil},
		{"version", mod(func(b []byte) []byte { b[4] = 9; return b }), aad, nil},
		{"segment size", mod(func(b []byte) []byte { b[5]++; return b }), aad, nil},
		{"reserved byte", mod(func(b []byte) []byte { b[7] = 1; return b }), aad, nil},
		{"truncated at segment boundary", ct[:16+2*sealedSeg], aad, nil},
		{"truncated mid segment", ct[:16+sealedSeg+10], aad, nil},
		{"truncated to header", ct[:16], aad, nil},
		{"shorter than header", ct[:5], aad, nil},
		{"trailing byte", append(bytes.Clone(ct), 0), aad, nil},
		{"segments swapped", mod(func(b []byte) []byte {
			s1 := bytes.Clone(b[16 : 16+sealedSeg])
			copy(b[16:], b[16+sealedSeg:16+2*sealedSeg])
			copy(b[16+sealedSeg:], s1)
			return b
		}), aad, nil},
		{"segment spliced from another record", mod(func(b []byte) []byte {
			copy(b[16:16+sealedSeg], other.Ciphertext[16:16+sealedSeg])
			return b
		}), aad, nil},
		{"another record's key", ct, aad, other.WrappedKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := rec.WrappedKey
			if tt.key != nil {
				key = tt.key
			}
			_, err := s.Open(ctx, p, key, tt.ct, tt.aad)
			require.ErrorIs(t, err, recordkey.ErrCorrupt)

			r, err := s.NewReader(ctx, p, key, bytes.NewReader(tt.ct), tt.aad)
			if err == nil {
				_, err = io.ReadAll(r)
			}
			require.ErrorIs(t, err, recordkey.ErrCorrupt)
		})
	}
}

func TestWriterMisuse(t *testing.T) {
	ctx := context.Background()
	s, p := newSealer(t)
	var buf bytes.Buffer
	w, err := s.NewWriter(ctx, p, &buf, nil)
	require.NoError(t, err)
	require.NoError(t, w.Close())
	require.NoError(t, w.Close(), "Close is idempotent")
	_, err = w.Write([]byte("x"))
	require.Error(t, err)

	// A writer that is never closed produces a record that does not open.
	buf.Reset()
	w, err = s.NewWriter(ctx, p, &buf, nil)
	require.NoError(t, err)
	_, err = w.Write(randomBytes(t, 3*seg))
	require.NoError(t, err)
	_, err = s.Open(ctx, p, w.WrappedKey(), buf.Bytes(), nil)
	require.ErrorIs(t, err, recordkey.ErrCorrupt)

	_, err = recordkey.NewSealer(nil)
	require.Error(t, err)
	_, err = recordkey.NewSealer(openLocal(t, t.TempDir()), recordkey.WithSegmentSize(1000))
	require.Error(t, err, "segment sizes are powers of two")
}

func TestSealedSize(t *testing.T) {
	require.Equal(t, int64(16+16), recordkey.SealedSize(0, 0))
	require.Equal(t, int64(16+65536+16), recordkey.SealedSize(65536, 0))
	require.Equal(t, int64(16+65537+32), recordkey.SealedSize(65537, 0))
}

// FuzzOpen feeds arbitrary bytes as a sealed record, as read back from a blob store that
// may be damaged or hostile. Opening must never panic and must fail with ErrCorrupt unless
// the input is exactly the sealed record.
func FuzzOpen(f *testing.F) {
	ctx := context.Background()
	s, p := newSealer(f)
	pt := []byte("fuzzed record content that spans more than one segment")
	pt = bytes.Repeat(pt, 40)
	rec, err := s.Seal(ctx, p, pt, nil)
	require.NoError(f, err)
	f.Add(rec.Ciphertext)
	f.Add(rec.Ciphertext[:40])
	f.Add([]byte("CLRK\x01\x0a\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := s.Open(ctx, p, rec.WrappedKey, data, nil)
		if err == nil {
			require.Equal(t, rec.Ciphertext, data)
			require.Equal(t, pt, got)
		} else {
			require.ErrorIs(t, err, recordkey.ErrCorrupt)
		}
		r, err := s.NewReader(ctx, p, rec.WrappedKey, bytes.NewReader(data), nil)
		if err == nil {
			_, err = io.ReadAll(r)
		}
		if err != nil {
			require.ErrorIs(t, err, recordkey.ErrCorrupt)
		}
	})
}

func TestStreamErrorsPropagate(t *testing.T) {
	ctx := context.Background()
	s, p := newSealer(t)
	rec, err := s.Seal(ctx, p, randomBytes(t, 3*seg), nil)
	require.NoError(t, err)

	boom := errors.New("disk on fire")
	src := io.MultiReader(bytes.NewReader(rec.Ciphertext[:16+seg+16+5]), iotest.ErrReader(boom))
	r, err := s.NewReader(ctx, p, rec.WrappedKey, src, nil)
	require.NoError(t, err)
	_, err = io.ReadAll(r)
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, recordkey.ErrCorrupt, "an I/O error is not corruption")

	w, err := s.NewWriter(ctx, p, failingWriter{boom}, nil)
	require.ErrorIs(t, err, boom, "header write fails")
	require.Nil(t, w)

	_, err = s.NewReader(ctx, p, rec.WrappedKey, iotest.ErrReader(boom), nil)
	require.ErrorIs(t, err, boom)
	require.NotErrorIs(t, err, recordkey.ErrCorrupt)
}

type failingWriter struct{ err error }

func (f failingWriter) Write([]byte) (int, error) { return 0, f.err }
