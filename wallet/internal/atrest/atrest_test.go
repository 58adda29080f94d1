package atrest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/wallet/internal/atrest"
	"github.com/stretchr/testify/require"
)

// cheap keeps unit tests fast; real files use atrest.DefaultCost.
var cheap = atrest.Cost{Time: 1, MemoryKiB: 64, Threads: 1}

func TestDeriveIsDeterministicAndChecksPassphrase(t *testing.T) {
	p, err := atrest.NewParams(cheap)
	require.NoError(t, err)
	a, err := atrest.Derive([]byte("correct horse"), p)
	require.NoError(t, err)
	b, err := atrest.Derive([]byte("correct horse"), p)
	require.NoError(t, err)
	require.Equal(t, a.Key, b.Key)
	require.True(t, a.CheckMatches(b.Check[:]))
	require.NotEqual(t, a.Key[:], a.Check[:])

	c, err := atrest.Derive([]byte("wrong horse"), p)
	require.NoError(t, err)
	require.False(t, a.CheckMatches(c.Check[:]))

	p2, err := atrest.NewParams(cheap)
	require.NoError(t, err)
	require.NotEqual(t, p.Salt, p2.Salt, "salts must be random")
}

func TestValidateRejectsOutOfBounds(t *testing.T) {
	good, err := atrest.NewParams(cheap)
	require.NoError(t, err)
	tests := []struct {
		name   string
		modify func(*atrest.KDFParams)
	}{
		{"unknown algorithm", func(p *atrest.KDFParams) { p.Algorithm = "md5" }},
		{"zero time", func(p *atrest.KDFParams) { p.Time = 0 }},
		{"huge time", func(p *atrest.KDFParams) { p.Time = 1 << 20 }},
		{"tiny memory", func(p *atrest.KDFParams) { p.MemoryKiB = 1 }},
		{"huge memory", func(p *atrest.KDFParams) { p.MemoryKiB = 1 << 31 }},
		{"zero threads", func(p *atrest.KDFParams) { p.Threads = 0 }},
		{"short salt", func(p *atrest.KDFParams) { p.Salt = p.Salt[:4] }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := good
			p.Salt = append([]byte(nil), good.Salt...)
			tt.modify(&p)
			require.ErrorIs(t, p.Validate(), atrest.ErrBadParams)
			_, err := atrest.Derive([]byte("x"), p)
			require.ErrorIs(t, err, atrest.ErrBadParams)
		})
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	require.NoError(t, atrest.WriteFileAtomic(path, []byte("one"), 0o600))
	require.NoError(t, atrest.WriteFileAtomic(path, []byte("two"), 0o600))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, "two", string(got))
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary files left behind")

	err = atrest.WriteFileAtomic(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600)
	require.Error(t, err)

	require.NoError(t, atrest.RemoveFile(path))
	_, err = os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist)
}
