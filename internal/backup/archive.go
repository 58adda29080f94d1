package backup

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/zstd"
)

// archiveWriter streams files into a tar archive compressed with zstd, hashing each on the
// way; the manifest goes last, once every hash is known. Nothing is held in memory beyond
// the compressor's window.
type archiveWriter struct {
	zw    *zstd.Encoder
	tw    *tar.Writer
	files []FileEntry
	seen  map[string]bool
}

func newArchiveWriter(w io.Writer) (*archiveWriter, error) {
	// One encoder goroutine: the backup shares the machine with a running node.
	zw, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithWindowSize(8<<20))
	if err != nil {
		return nil, fmt.Errorf("write archive: %w", err)
	}
	return &archiveWriter{zw: zw, tw: tar.NewWriter(zw), seen: map[string]bool{}}, nil
}

// add writes size bytes of r as the file name.
func (a *archiveWriter) add(name string, r io.Reader, size int64) error {
	if err := checkEntryPath(name); err != nil {
		return err
	}
	if a.seen[name] {
		return fmt.Errorf("write archive: %s added twice", name)
	}
	a.seen[name] = true
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o600, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write archive %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(a.tw, h), io.LimitReader(r, size))
	if err != nil {
		return fmt.Errorf("write archive %s: %w", name, err)
	}
	if n != size {
		return fmt.Errorf("write archive %s: %d bytes instead of %d", name, n, size)
	}
	a.files = append(a.files, FileEntry{Path: name, Size: size, SHA256: hex.EncodeToString(h.Sum(nil))})
	return nil
}

// addFile adds the file at path as name; a file that is gone by now is skipped (a blob deleted
// by an erasure while the backup ran) and reported as false.
func (a *archiveWriter) addFile(name, path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("write archive: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("write archive: %w", err)
	}
	// Files are replaced by rename, never rewritten in place: the open file keeps its size.
	return true, a.add(name, f, st.Size())
}

// close writes the manifest with the files' hashes and finishes the archive.
func (a *archiveWriter) close(m *Manifest) error {
	m.Files = a.files
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: ManifestName, Size: int64(len(b)), Mode: 0o600, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
	if err := a.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if _, err := a.tw.Write(b); err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	if err := a.tw.Close(); err != nil {
		return fmt.Errorf("write archive: %w", err)
	}
	return a.zw.Close()
}

// maxDecoderWindow bounds the memory a hostile archive can make the decompressor use; the
// writer's level (SpeedDefault) uses an 8 MiB window.
const maxDecoderWindow = 16 << 20

// Extract reads an archive into dest, a directory that must not exist yet, and checks every
// file against the manifest: each file listed is present with its size and SHA-256, nothing
// else is there, and no entry leaves dest. On any error dest may hold a partial extraction,
// which the caller removes. Errors wrap ErrIntegrity, ErrUnsafePath or ErrFormat.
func Extract(ctx context.Context, r io.Reader, dest string) (*Manifest, error) {
	if err := os.Mkdir(dest, 0o700); err != nil {
		return nil, fmt.Errorf("extract archive: %w", err)
	}
	in := &countingReader{r: r}
	zr, err := zstd.NewReader(in, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxDecoderWindow), zstd.WithDecoderMaxMemory(4*maxDecoderWindow), zstd.WithDecoderLowmem(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
	}
	defer zr.Close()
	tr := tar.NewReader(&bombGuard{r: zr, in: in})
	got := map[string]FileEntry{}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the archive ends before its manifest (truncated?)", ErrIntegrity)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrIntegrity, err)
		}
		if hdr.Name == ManifestName {
			m, err := decodeManifest(tr)
			if err != nil {
				return nil, err
			}
			if _, err := tr.Next(); !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("%w: entries after the manifest", ErrIntegrity)
			}
			return m, matchManifest(m, got)
		}
		if hdr.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("%w: %q is not a regular file", ErrUnsafePath, hdr.Name)
		}
		if err := checkEntryPath(hdr.Name); err != nil {
			return nil, err
		}
		if _, dup := got[hdr.Name]; dup {
			return nil, fmt.Errorf("%w: %s appears twice", ErrIntegrity, hdr.Name)
		}
		e, err := extractFile(tr, dest, hdr.Name)
		if err != nil {
			return nil, err
		}
		got[hdr.Name] = e
	}
}

func extractFile(r io.Reader, dest, name string) (FileEntry, error) {
	p := filepath.Join(dest, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return FileEntry{}, fmt.Errorf("extract %s: %w", name, err)
	}
	// O_EXCL: dest is fresh and only this function creates files in it, so nothing there can
	// be a link planted to redirect a write.
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return FileEntry{}, fmt.Errorf("extract %s: %w", name, err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), r)
	if err != nil {
		f.Close()
		return FileEntry{}, fmt.Errorf("%w: %s: %w", ErrIntegrity, name, err)
	}
	if err := f.Close(); err != nil {
		return FileEntry{}, fmt.Errorf("extract %s: %w", name, err)
	}
	return FileEntry{Path: name, Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// matchManifest checks the extracted files against the manifest, both ways.
func matchManifest(m *Manifest, got map[string]FileEntry) error {
	var errs []error
	for _, want := range m.Files {
		have, ok := got[want.Path]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%w: %s is missing", ErrIntegrity, want.Path))
		case have != want:
			errs = append(errs, fmt.Errorf("%w: %s does not match its manifest entry", ErrIntegrity, want.Path))
		}
		delete(got, want.Path)
	}
	for p := range got {
		errs = append(errs, fmt.Errorf("%w: %s is not in the manifest", ErrIntegrity, p))
	}
	return errors.Join(errs...)
}

// Decompression bombs: zstd turns a few bytes into gigabytes of zeros. Archives of CareLedger
// hold ciphertexts (incompressible) and blocks (a few times), so past bombFloor bytes an
// archive that expands more than bombRatio times is refused before it fills the disk.
var (
	bombFloor int64 = 256 << 20
	bombRatio int64 = 1000
)

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type bombGuard struct {
	r   io.Reader
	in  *countingReader
	out int64
}

func (b *bombGuard) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.out += int64(n)
	if b.out > bombFloor && b.out > bombRatio*b.in.n {
		return n, fmt.Errorf("%w: the archive expands more than %d times (a decompression bomb?)", ErrIntegrity, bombRatio)
	}
	return n, err
}
