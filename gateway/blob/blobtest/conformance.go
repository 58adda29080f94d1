// Package blobtest is the conformance suite every blob.Store backend must pass.
package blobtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/careledger/careledger/gateway/blob"
	"github.com/stretchr/testify/require"
)

// Run checks a store's contract: round trips, replacement, not-found, idempotent delete,
// prefix listing, key validation, large objects and concurrent writers.
func Run(t *testing.T, s blob.Store) {
	ctx := context.Background()
	t.Run("round trip", func(t *testing.T) {
		data := []byte("ciphertext \x00\xff bytes")
		require.NoError(t, s.Put(ctx, "sha256/abc", data))
		got, err := s.Get(ctx, "sha256/abc")
		require.NoError(t, err)
		require.Equal(t, data, got)
		require.NoError(t, s.Put(ctx, "sha256/abc", []byte("replaced")))
		got, err = s.Get(ctx, "sha256/abc")
		require.NoError(t, err)
		require.Equal(t, []byte("replaced"), got)
	})
	t.Run("empty object", func(t *testing.T) {
		require.NoError(t, s.Put(ctx, "empty", nil))
		got, err := s.Get(ctx, "empty")
		require.NoError(t, err)
		require.Empty(t, got)
	})
	t.Run("not found and delete", func(t *testing.T) {
		_, err := s.Get(ctx, "missing/key")
		require.ErrorIs(t, err, blob.ErrNotFound)
		require.NoError(t, s.Put(ctx, "gone", []byte("x")))
		require.NoError(t, s.Delete(ctx, "gone"))
		_, err = s.Get(ctx, "gone")
		require.ErrorIs(t, err, blob.ErrNotFound)
		require.NoError(t, s.Delete(ctx, "gone"), "deleting twice is fine")
	})
	t.Run("list by prefix", func(t *testing.T) {
		for _, k := range []string{"p/a/1", "p/a/2", "p/b/1", "q/a/1"} {
			require.NoError(t, s.Put(ctx, k, []byte(k)))
		}
		keys, err := s.List(ctx, "p/a/")
		require.NoError(t, err)
		require.Equal(t, []string{"p/a/1", "p/a/2"}, keys)
		keys, err = s.List(ctx, "p/")
		require.NoError(t, err)
		require.Len(t, keys, 3)
	})
	t.Run("invalid keys", func(t *testing.T) {
		for _, k := range []string{"", "../etc/passwd", "a/../../b", "/abs", "a//b", "a b", "a\x00b", ".hidden", "a/"} {
			require.ErrorIs(t, s.Put(ctx, k, []byte("x")), blob.ErrInvalidKey, "key %q", k)
			_, err := s.Get(ctx, k)
			require.ErrorIs(t, err, blob.ErrInvalidKey, "key %q", k)
		}
	})
	t.Run("large object", func(t *testing.T) {
		data := make([]byte, 9<<20)
		_, err := rand.Read(data)
		require.NoError(t, err)
		require.NoError(t, s.Put(ctx, "large", data))
		got, err := s.Get(ctx, "large")
		require.NoError(t, err)
		require.True(t, bytes.Equal(data, got))
	})
	t.Run("concurrent writers never tear an object", func(t *testing.T) {
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				payload := bytes.Repeat([]byte{byte('a' + w)}, 256<<10)
				for i := 0; i < 5; i++ {
					if err := s.Put(ctx, "contended", payload); err != nil {
						t.Errorf("put: %v", err)
					}
					got, err := s.Get(ctx, "contended")
					if err != nil && !errors.Is(err, blob.ErrNotFound) {
						t.Errorf("get: %v", err)
						continue
					}
					if err := uniform(got); err != nil {
						t.Error(err)
					}
				}
			}(w)
		}
		wg.Wait()
	})
	if sp, ok := s.(streamPutter); ok {
		t.Run("streamed put", func(t *testing.T) {
			data := make([]byte, 3<<20+5)
			_, _ = rand.Read(data)
			require.NoError(t, sp.PutStream(ctx, "streamed", bytes.NewReader(data), int64(len(data))))
			got, err := s.Get(ctx, "streamed")
			require.NoError(t, err)
			require.Equal(t, data, got)
			require.Error(t, sp.PutStream(ctx, "short", bytes.NewReader(data[:10]), 11), "fewer bytes than announced")
			_, err = s.Get(ctx, "short")
			require.ErrorIs(t, err, blob.ErrNotFound)
		})
	}
}

// streamPutter is a store that can also write an object from a reader.
type streamPutter interface {
	PutStream(ctx context.Context, key string, r io.Reader, size int64) error
}

func uniform(b []byte) error {
	if len(b) != 256<<10 {
		return fmt.Errorf("torn object: %d bytes", len(b))
	}
	for _, c := range b {
		if c != b[0] {
			return errors.New("torn object: mixed writers")
		}
	}
	return nil
}
