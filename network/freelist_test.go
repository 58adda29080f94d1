package network_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// activeFreelist reads the freelist page that the newer of the index's two bbolt meta pages
// names; bbolt writes ^0 there when it keeps no freelist on disk and must rebuild it on open
// by reading every page.
func activeFreelist(t *testing.T, path string) uint64 {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	const hdr = 16 // page header: id, flags, count, overflow
	pageSize := int(binary.LittleEndian.Uint32(b[hdr+8:]))
	var best, freelist uint64
	for _, off := range []int{0, pageSize} {
		m := b[off+hdr:]
		// magic, version, pageSize, flags, root bucket (root, sequence), freelist, pgid, txid
		if txid := binary.LittleEndian.Uint64(m[48:]); txid >= best {
			best, freelist = txid, binary.LittleEndian.Uint64(m[32:])
		}
	}
	return freelist
}

// The index keeps its freelist on disk, after a clean stop and while the node runs (as a
// kill -9 leaves it), so that opening it reads a few pages rather than all of them: start-up
// time and memory do not grow with the ledger.
func TestIndexOpensWithoutReadingEveryPage(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	commitSome(t, n, 1)
	running := filepath.Join(t.TempDir(), "running.db")
	copyFile(t, indexPath(dir), running)
	require.NotEqual(t, ^uint64(0), activeFreelist(t, running), "while running")
	require.NoError(t, n.Close())
	require.NotEqual(t, ^uint64(0), activeFreelist(t, indexPath(dir)), "after a clean stop")
}
