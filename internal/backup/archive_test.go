package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// entry is one raw tar entry of a crafted archive.
type entry struct {
	name     string
	typeflag byte
	data     string
	link     string
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// craft builds a zstd tar of entries, then a manifest (nil: none) as the last entry.
func craft(t testing.TB, entries []entry, manifest any) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf)
	require.NoError(t, err)
	tw := tar.NewWriter(zw)
	write := func(e entry) {
		if e.typeflag == 0 {
			e.typeflag = tar.TypeReg
		}
		require.NoError(t, tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: e.typeflag, Size: int64(len(e.data)), Linkname: e.link, Mode: 0o600}))
		_, err := tw.Write([]byte(e.data))
		require.NoError(t, err)
	}
	for _, e := range entries {
		write(e)
	}
	if manifest != nil {
		b, err := json.Marshal(manifest)
		require.NoError(t, err)
		write(entry{name: ManifestName, data: string(b)})
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}

func manifestOf(format int, files ...entry) *Manifest {
	m := &Manifest{Format: format}
	for _, f := range files {
		m.Files = append(m.Files, FileEntry{Path: f.name, Size: int64(len(f.data)), SHA256: sum(f.data)})
	}
	return m
}

var (
	fileA = entry{name: "wallet/patient.id.json", data: `{"id":"x"}`}
	fileB = entry{name: "network/ledger/blocks.log", data: "blocks"}
)

func TestExtractRefusesBadArchives(t *testing.T) {
	good := craft(t, []entry{fileA, fileB}, manifestOf(FormatVersion, fileA, fileB))
	tests := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"tampered file", craft(t, []entry{fileA, {name: fileB.name, data: "bl0cks"}}, manifestOf(FormatVersion, fileA, fileB)), ErrIntegrity},
		{"missing file", craft(t, []entry{fileA}, manifestOf(FormatVersion, fileA, fileB)), ErrIntegrity},
		{"file not in the manifest", craft(t, []entry{fileA, fileB}, manifestOf(FormatVersion, fileA)), ErrIntegrity},
		{"no manifest", craft(t, []entry{fileA, fileB}, nil), ErrIntegrity},
		{"truncated", good[:len(good)/2], ErrIntegrity},
		{"truncated by one byte", good[:len(good)-1], ErrIntegrity},
		{"not an archive", []byte("PK\x03\x04 this is a zip"), ErrIntegrity},
		{"empty", nil, ErrIntegrity},
		{"newer format", craft(t, []entry{fileA}, manifestOf(FormatVersion+1, fileA)), ErrFormat},
		{"format zero", craft(t, []entry{fileA}, manifestOf(0, fileA)), ErrFormat},
		{"manifest not JSON", craft(t, []entry{fileA, {name: ManifestName, data: "{"}}, nil), ErrIntegrity},
		{"entry after the manifest", craft(t, []entry{fileA, {name: ManifestName, data: mustJSON(manifestOf(FormatVersion, fileA))}, fileB}, nil), ErrIntegrity},
		{"duplicate entry", craft(t, []entry{fileA, fileA}, manifestOf(FormatVersion, fileA)), ErrIntegrity},
		{"parent traversal", craft(t, []entry{{name: "../evil", data: "x"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"traversal inside", craft(t, []entry{{name: "wallet/../../evil", data: "x"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"absolute path", craft(t, []entry{{name: "/etc/evil", data: "x"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"dot segment", craft(t, []entry{{name: "./wallet/x", data: "x"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"backslash", craft(t, []entry{{name: `..\evil`, data: "x"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"symlink", craft(t, []entry{{name: "wallet", typeflag: tar.TypeSymlink, link: "/etc"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"hard link", craft(t, []entry{{name: "wallet/x", typeflag: tar.TypeLink, link: "/etc/passwd"}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"directory entry", craft(t, []entry{{name: "wallet/", typeflag: tar.TypeDir}}, manifestOf(FormatVersion)), ErrUnsafePath},
		{"decompression bomb", bomb(t), ErrIntegrity},
		{"manifest lists a traversal", craft(t, nil, &Manifest{Format: FormatVersion, Files: []FileEntry{{Path: "../x", SHA256: sum("")}}}), ErrUnsafePath},
		{"manifest hash malformed", craft(t, []entry{fileA}, &Manifest{Format: FormatVersion, Files: []FileEntry{{Path: fileA.name, Size: int64(len(fileA.data)), SHA256: "zz"}}}), ErrIntegrity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			_, err := Extract(context.Background(), bytes.NewReader(tt.archive), filepath.Join(parent, "d"))
			require.ErrorIs(t, err, tt.want)
			left, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Len(t, left, 1, "nothing is written beside the destination")
		})
	}
	t.Run("good", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "d")
		m, err := Extract(context.Background(), bytes.NewReader(good), dest)
		require.NoError(t, err)
		require.Len(t, m.Files, 2)
		b, err := os.ReadFile(filepath.Join(dest, "network", "ledger", "blocks.log"))
		require.NoError(t, err)
		require.Equal(t, "blocks", string(b))
	})
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// FuzzExtract feeds arbitrary bytes to the archive reader: it must never panic, never write
// outside its destination, and accept only what matches a manifest.
func FuzzExtract(f *testing.F) {
	f.Add(craft(f, []entry{fileA, fileB}, manifestOf(FormatVersion, fileA, fileB)))
	f.Add(craft(f, []entry{{name: "../evil", data: "x"}}, manifestOf(FormatVersion)))
	f.Add(craft(f, []entry{fileA}, manifestOf(FormatVersion+1, fileA)))
	f.Add([]byte{})
	// Mutations find zstd frames that expand to gigabytes; refuse them early here.
	bombFloor = 1 << 20
	f.Fuzz(func(t *testing.T, data []byte) {
		parent := t.TempDir()
		m, err := Extract(context.Background(), bytes.NewReader(data), filepath.Join(parent, "d"))
		left, rerr := os.ReadDir(parent)
		require.NoError(t, rerr)
		require.Len(t, left, 1)
		if err == nil {
			require.Equal(t, FormatVersion, m.Format)
		}
	})
}

// FuzzDecodeManifest checks the manifest parser alone.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte(mustJSON(manifestOf(FormatVersion, fileA, fileB))))
	f.Add([]byte(`{"format":1,"files":[{"path":"../x","size":0,"sha256":""}]}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeManifest(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, e := range m.Files {
			require.NoError(t, checkEntryPath(e.Path))
		}
	})
}

// bomb is a small archive holding one file of zeros larger than bombFloor.
func bomb(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	require.NoError(t, err)
	tw := tar.NewWriter(zw)
	size := bombFloor + 1<<20
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "records/x", Typeflag: tar.TypeReg, Size: size, Mode: 0o600}))
	zeros := make([]byte, 1<<20)
	for written := int64(0); written < size; written += int64(len(zeros)) {
		_, err := tw.Write(zeros)
		require.NoError(t, err)
	}
	require.NoError(t, tw.Close())
	require.NoError(t, zw.Close())
	return buf.Bytes()
}
