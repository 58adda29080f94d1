package blob_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/blob/blobtest"
	"github.com/stretchr/testify/require"
)

func TestDiskConformance(t *testing.T) {
	s, err := blob.NewDisk(t.TempDir())
	require.NoError(t, err)
	blobtest.Run(t, s)
}

func TestDiskLeavesNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.NewDisk(dir)
	require.NoError(t, err)
	blobtest.Run(t, s)
	err = filepath.WalkDir(dir, func(p string, e os.DirEntry, err error) error {
		require.NoError(t, err)
		require.NotContains(t, filepath.Base(p), ".tmp-", "a temporary file survived: %s", p)
		if !e.IsDir() {
			info, err := e.Info()
			require.NoError(t, err)
			require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "blobs are private to the service")
		}
		return nil
	})
	require.NoError(t, err)
}
