package recordkey_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/recordkeytest"
	"github.com/stretchr/testify/require"
)

const storePass = "store passphrase"

// cheapKDF keeps argon2id fast in tests.
var cheapKDF = recordkey.WithLocalKDFCost(1, 64, 1)

func openLocal(t testing.TB, dir string) *recordkey.Local {
	t.Helper()
	l, err := recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLocalConformance(t *testing.T) {
	recordkeytest.Run(t, openLocal(t, t.TempDir()))
}

func TestLocalPersistsAcrossReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.NoError(t, err)
	p, erased := recordkeytest.NewPatientID(t), recordkeytest.NewPatientID(t)
	dk, err := l.NewDataKey(ctx, p)
	require.NoError(t, err)
	_, err = l.RotateKey(ctx, p)
	require.NoError(t, err)
	dk2, err := l.NewDataKey(ctx, p)
	require.NoError(t, err)
	_, err = l.NewDataKey(ctx, erased)
	require.NoError(t, err)
	require.NoError(t, l.DestroyKey(ctx, erased))

	_, err = recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.ErrorIs(t, err, recordkey.ErrStoreLocked, "one process per store")
	require.NoError(t, l.Close())

	_, err = recordkey.OpenLocal(dir, []byte("wrong"), cheapKDF)
	require.ErrorIs(t, err, recordkey.ErrWrongPassphrase)

	l = openLocal(t, dir)
	for _, k := range []recordkey.DataKey{dk, dk2} {
		got, err := l.UnwrapDataKey(ctx, p, k.Wrapped)
		require.NoError(t, err)
		require.Equal(t, k.Plaintext, got)
	}
	_, err = l.NewDataKey(ctx, erased)
	require.ErrorIs(t, err, recordkey.ErrKeyDestroyed, "erasure survives a restart")

	// Nothing readable is left of the erased patient's key, and live keys are private.
	_, err = os.Stat(filepath.Join(dir, "keys", erased+".kek"))
	require.ErrorIs(t, err, os.ErrNotExist)
	st, err := os.Stat(filepath.Join(dir, "keys", p+".kek"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	st, err = os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
}

func TestLocalDetectsTamperedKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.NoError(t, err)
	p, q := recordkeytest.NewPatientID(t), recordkeytest.NewPatientID(t)
	dk, err := l.NewDataKey(ctx, p)
	require.NoError(t, err)
	_, err = l.NewDataKey(ctx, q)
	require.NoError(t, err)
	require.NoError(t, l.Close())

	path := filepath.Join(dir, "keys", p+".kek")
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	other, err := os.ReadFile(filepath.Join(dir, "keys", q+".kek"))
	require.NoError(t, err)

	tests := map[string][]byte{
		"truncated":          good[:10],
		"flipped":            append(append([]byte(nil), good[:len(good)-1]...), good[len(good)-1]^1),
		"another's key file": other,
		"empty":              {},
	}
	for name, content := range tests {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(path, content, 0o600))
			l := openLocal(t, dir)
			_, err := l.UnwrapDataKey(ctx, p, dk.Wrapped)
			require.ErrorIs(t, err, recordkey.ErrCorrupt)
			_, err = l.NewDataKey(ctx, p)
			require.ErrorIs(t, err, recordkey.ErrCorrupt, "a damaged key file is never replaced by a fresh key")
			require.NoError(t, l.Close())
		})
	}
}

func TestLocalCorruptStoreMeta(t *testing.T) {
	dir := t.TempDir()
	l, err := recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.NoError(t, err)
	require.NoError(t, l.Close())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keystore.json"), []byte("{"), 0o600))
	_, err = recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.ErrorIs(t, err, recordkey.ErrCorrupt)
}

// FuzzLocalUnwrap feeds arbitrary wrapped keys, read back from record metadata that may be
// damaged or forged, to the local store: only the genuine wrapped key may unwrap.
func FuzzLocalUnwrap(f *testing.F) {
	ctx := context.Background()
	l := openLocal(f, f.TempDir())
	p := recordkeytest.NewPatientID(f)
	dk, err := l.NewDataKey(ctx, p)
	require.NoError(f, err)
	f.Add(dk.Wrapped)
	f.Add(dk.Wrapped[:8])
	f.Add([]byte("CLW1\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, wrapped []byte) {
		got, err := l.UnwrapDataKey(ctx, p, wrapped)
		if err != nil {
			require.ErrorIs(t, err, recordkey.ErrCorrupt)
			return
		}
		require.Equal(t, dk.Wrapped, wrapped)
		require.Equal(t, dk.Plaintext, got)
	})
}

func TestLocalRetirementSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := recordkey.OpenLocal(dir, []byte(storePass), cheapKDF)
	require.NoError(t, err)
	p := recordkeytest.NewPatientID(t)
	v1, err := l.NewDataKey(ctx, p)
	require.NoError(t, err)
	_, err = l.RotateKey(ctx, p)
	require.NoError(t, err)
	v2, err := l.NewDataKey(ctx, p)
	require.NoError(t, err)
	require.NoError(t, l.RetireKeyVersions(ctx, p, 2))
	require.NoError(t, l.Close())

	l = openLocal(t, dir)
	_, err = l.UnwrapDataKey(ctx, p, v1.Wrapped)
	require.ErrorIs(t, err, recordkey.ErrKeyRetired)
	got, err := l.UnwrapDataKey(ctx, p, v2.Wrapped)
	require.NoError(t, err)
	require.Equal(t, v2.Plaintext, got)
	v, err := l.RotateKey(ctx, p)
	require.NoError(t, err)
	require.Equal(t, 3, v)
	_, err = l.UnwrapDataKey(ctx, p, v1.Wrapped)
	require.ErrorIs(t, err, recordkey.ErrKeyRetired, "rotation keeps retired versions retired")
}
