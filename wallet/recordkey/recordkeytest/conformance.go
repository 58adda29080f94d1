// Package recordkeytest is the conformance suite every recordkey.KeyService must pass. The
// local key store, Vault Transit and the PKCS#11 key service run the same tests, so callers
// can rely on the same behaviour, crypto-shredding in particular, whichever backend is
// configured.
package recordkeytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"testing"

	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/stretchr/testify/require"
)

// NewPatientID returns a fresh random patient ID in the ledger's format, so tests against a
// shared server never collide.
func NewPatientID(tb testing.TB) string {
	tb.Helper()
	var b [16]byte
	_, err := rand.Read(b[:])
	require.NoError(tb, err)
	return hex.EncodeToString(b[:])
}

// Run runs the suite against ks.
func Run(t *testing.T, ks recordkey.KeyService) {
	ctx := context.Background()

	t.Run("data keys are fresh and unwrap", func(t *testing.T) {
		p := NewPatientID(t)
		a, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		b, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		require.Len(t, a.Plaintext, recordkey.DataKeySize)
		require.NotEqual(t, a.Plaintext, b.Plaintext)
		require.NotEqual(t, a.Wrapped, b.Wrapped)
		require.False(t, bytes.Contains(a.Wrapped, a.Plaintext), "wrapped key must not contain the key")
		require.Equal(t, 1, a.Version)

		got, err := ks.UnwrapDataKey(ctx, p, a.Wrapped)
		require.NoError(t, err)
		require.Equal(t, a.Plaintext, got)
	})

	t.Run("wrapped keys are bound to their patient", func(t *testing.T) {
		p, q := NewPatientID(t), NewPatientID(t)
		a, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		_, err = ks.NewDataKey(ctx, q)
		require.NoError(t, err)
		_, err = ks.UnwrapDataKey(ctx, q, a.Wrapped)
		require.ErrorIs(t, err, recordkey.ErrCorrupt)
		_, _, err = ks.RewrapDataKey(ctx, q, a.Wrapped)
		require.ErrorIs(t, err, recordkey.ErrCorrupt)
	})

	t.Run("damaged wrapped keys are rejected", func(t *testing.T) {
		p := NewPatientID(t)
		a, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		cases := map[string][]byte{
			"empty":     {},
			"garbage":   []byte("definitely not a wrapped key"),
			"truncated": a.Wrapped[:len(a.Wrapped)-4],
			"flipped":   flipLast(a.Wrapped),
		}
		for name, w := range cases {
			t.Run(name, func(t *testing.T) {
				_, err := ks.UnwrapDataKey(ctx, p, w)
				require.ErrorIs(t, err, recordkey.ErrCorrupt)
			})
		}
	})

	t.Run("unknown patient", func(t *testing.T) {
		p, q := NewPatientID(t), NewPatientID(t)
		a, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		_, err = ks.UnwrapDataKey(ctx, q, a.Wrapped)
		require.ErrorIs(t, err, recordkey.ErrKeyNotFound)
		_, err = ks.RotateKey(ctx, q)
		require.ErrorIs(t, err, recordkey.ErrKeyNotFound)
	})

	t.Run("invalid patient IDs", func(t *testing.T) {
		for _, bad := range []string{"", "../etc", "a/b", "with space", string(make([]byte, 65))} {
			_, err := ks.NewDataKey(ctx, bad)
			require.ErrorIs(t, err, recordkey.ErrInvalidPatient, "%q", bad)
			_, err = ks.UnwrapDataKey(ctx, bad, []byte("x"))
			require.ErrorIs(t, err, recordkey.ErrInvalidPatient, "%q", bad)
			require.ErrorIs(t, ks.DestroyKey(ctx, bad), recordkey.ErrInvalidPatient, "%q", bad)
		}
	})

	t.Run("rotation rewraps without touching ciphertexts", func(t *testing.T) {
		p := NewPatientID(t)
		sealer, err := recordkey.NewSealer(ks)
		require.NoError(t, err)
		content := bytes.Repeat([]byte("aftercare note "), 5000)
		aad := []byte("record-1/v1")
		rec, err := sealer.Seal(ctx, p, content, aad)
		require.NoError(t, err)
		require.Equal(t, 1, rec.KeyVersion)
		ciphertext := bytes.Clone(rec.Ciphertext)

		v, err := ks.RotateKey(ctx, p)
		require.NoError(t, err)
		require.Equal(t, 2, v)

		// The old wrapping still works until it is rewrapped.
		got, err := sealer.Open(ctx, p, rec.WrappedKey, rec.Ciphertext, aad)
		require.NoError(t, err)
		require.Equal(t, content, got)

		rewrapped, ver, err := ks.RewrapDataKey(ctx, p, rec.WrappedKey)
		require.NoError(t, err)
		require.Equal(t, 2, ver)
		require.NotEqual(t, rec.WrappedKey, rewrapped)
		got, err = sealer.Open(ctx, p, rewrapped, ciphertext, aad)
		require.NoError(t, err)
		require.Equal(t, content, got)
		require.Equal(t, ciphertext, rec.Ciphertext)

		dk, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		require.Equal(t, 2, dk.Version, "new data keys use the latest version")
	})

	t.Run("retiring old versions after rewrap", func(t *testing.T) {
		p := NewPatientID(t)
		sealer, err := recordkey.NewSealer(ks)
		require.NoError(t, err)
		old, err := sealer.Seal(ctx, p, []byte("written under v1"), nil)
		require.NoError(t, err)
		forgotten, err := sealer.Seal(ctx, p, []byte("never rewrapped"), nil)
		require.NoError(t, err)
		_, err = ks.RotateKey(ctx, p)
		require.NoError(t, err)
		rewrapped, _, err := ks.RewrapDataKey(ctx, p, old.WrappedKey)
		require.NoError(t, err)

		require.ErrorIs(t, ks.RetireKeyVersions(ctx, p, 3), recordkey.ErrBadVersion, "cannot retire the latest")
		require.ErrorIs(t, ks.RetireKeyVersions(ctx, p, 0), recordkey.ErrBadVersion)
		require.NoError(t, ks.RetireKeyVersions(ctx, p, 2))
		require.NoError(t, ks.RetireKeyVersions(ctx, p, 1), "lowering is a no-op")

		got, err := sealer.Open(ctx, p, rewrapped, old.Ciphertext, nil)
		require.NoError(t, err)
		require.Equal(t, []byte("written under v1"), got)
		_, err = sealer.Open(ctx, p, forgotten.WrappedKey, forgotten.Ciphertext, nil)
		require.ErrorIs(t, err, recordkey.ErrKeyRetired)
		_, _, err = ks.RewrapDataKey(ctx, p, forgotten.WrappedKey)
		require.ErrorIs(t, err, recordkey.ErrKeyRetired)

		require.ErrorIs(t, ks.RetireKeyVersions(ctx, NewPatientID(t), 1), recordkey.ErrKeyNotFound)
	})

	t.Run("crypto-shredding", func(t *testing.T) {
		p, other := NewPatientID(t), NewPatientID(t)
		sealer, err := recordkey.NewSealer(ks)
		require.NoError(t, err)
		var recs []*recordkey.Sealed
		for i := range 3 {
			rec, err := sealer.Seal(ctx, p, []byte{byte(i), 1, 2, 3}, nil)
			require.NoError(t, err)
			recs = append(recs, rec)
		}
		_, err = ks.RotateKey(ctx, p)
		require.NoError(t, err)
		rotated, err := sealer.Seal(ctx, p, []byte("after rotation"), nil)
		require.NoError(t, err)
		recs = append(recs, rotated)
		kept, err := sealer.Seal(ctx, other, []byte("someone else"), nil)
		require.NoError(t, err)

		require.NoError(t, ks.DestroyKey(ctx, p))

		for _, rec := range recs {
			_, err := sealer.Open(ctx, p, rec.WrappedKey, rec.Ciphertext, nil)
			require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
			_, err = ks.UnwrapDataKey(ctx, p, rec.WrappedKey)
			require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
			_, _, err = ks.RewrapDataKey(ctx, p, rec.WrappedKey)
			require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
		}
		_, err = ks.NewDataKey(ctx, p)
		require.ErrorIs(t, err, recordkey.ErrKeyDestroyed, "an erased patient gets no new key")
		_, err = ks.RotateKey(ctx, p)
		require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
		require.ErrorIs(t, ks.RetireKeyVersions(ctx, p, 1), recordkey.ErrKeyDestroyed)
		require.NoError(t, ks.DestroyKey(ctx, p), "destroying twice is fine")

		got, err := sealer.Open(ctx, other, kept.WrappedKey, kept.Ciphertext, nil)
		require.NoError(t, err, "other patients are unaffected")
		require.Equal(t, []byte("someone else"), got)

		never := NewPatientID(t)
		require.NoError(t, ks.DestroyKey(ctx, never), "erasing a patient without records works")
		_, err = ks.NewDataKey(ctx, never)
		require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
	})

	t.Run("concurrent first use creates one key", func(t *testing.T) {
		p := NewPatientID(t)
		const n = 8
		keys := make([]recordkey.DataKey, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { keys[i], errs[i] = ks.NewDataKey(ctx, p) })
		}
		wg.Wait()
		for i := range n {
			require.NoError(t, errs[i])
			got, err := ks.UnwrapDataKey(ctx, p, keys[i].Wrapped)
			require.NoError(t, err)
			require.Equal(t, keys[i].Plaintext, got)
		}
	})

	t.Run("errors are sentinels", func(t *testing.T) {
		// Guard against implementations returning look-alike errors.
		p := NewPatientID(t)
		require.NoError(t, ks.DestroyKey(ctx, p))
		_, err := ks.NewDataKey(ctx, p)
		require.True(t, errors.Is(err, recordkey.ErrKeyDestroyed))
		require.False(t, errors.Is(err, recordkey.ErrKeyNotFound))
	})
}

func flipLast(b []byte) []byte {
	c := bytes.Clone(b)
	c[len(c)-2] ^= 0x01
	return c
}
