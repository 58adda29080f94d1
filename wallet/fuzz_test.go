package wallet_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

// FuzzParseFile feeds arbitrary bytes to the wallet file parser, which reads files from disk
// that may have been damaged or tampered with. It must never panic, and whatever it accepts
// must either open with the right passphrase or fail with one of the documented errors.
func FuzzParseFile(f *testing.F) {
	dir := f.TempDir()
	w, err := wallet.Open(dir, cheap)
	require.NoError(f, err)
	require.NoError(f, w.Put("seed", newTestIdentity(f, wallet.RolePatient, "p-fuzz"), []byte("pw")))
	good, err := os.ReadFile(filepath.Join(dir, "seed.id.json"))
	require.NoError(f, err)
	f.Add(good)
	f.Add(good[:len(good)-10])
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"kdf":{"alg":"argon2id","time":4294967295}}`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := wallet.ParseFile(data)
		if err != nil {
			require.ErrorIs(t, err, wallet.ErrCorrupt)
			return
		}
		// Only run the KDF when it is cheap; ParseFile's bounds keep it finite otherwise.
		if file.KDF.MemoryKiB > 1024 || file.KDF.Time > 2 {
			return
		}
		id, err := file.Open([]byte("pw"))
		if err != nil {
			if !(errorIs(err, wallet.ErrCorrupt) || errorIs(err, wallet.ErrWrongPassphrase)) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		require.Equal(t, file.MSPID, id.MSPID())
	})
}

func errorIs(err, target error) bool { return errors.Is(err, target) }
