package backup

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// FormatVersion is the version of the archive layout this package writes and reads.
const FormatVersion = 1

// ManifestName is the archive's last entry.
const ManifestName = "MANIFEST.json"

// maxManifest bounds the manifest an archive may carry (about a million files).
const maxManifest = 256 << 20

// Manifest describes an archive: what wrote it, the ledger it holds and every file with its
// hash. Fields are in a fixed order so manifests diff well.
type Manifest struct {
	Format     int       `json:"format"`
	CareLedger string    `json:"careledger"`
	CreatedAt  time.Time `json:"createdAt"`
	// Online is set when the node was running while the snapshot was taken.
	Online bool `json:"online"`
	Ledger struct {
		Height        uint64 `json:"height"`
		LastBlockHash string `json:"lastBlockHash"` // hex header hash of block Height-1
	} `json:"ledger"`
	// Components are the on-disk format versions of the data directory's parts.
	Components map[string]int `json:"components"`
	// KeyCustodian is who holds patients' KEKs: the local key store (its sealed keys are in the
	// archive, its passphrase never), Vault Transit or a PKCS#11 token (no key is in the archive).
	KeyCustodian string `json:"keyCustodian"`
	// Excluded names what was deliberately left out, and why.
	Excluded []string    `json:"excluded"`
	Files    []FileEntry `json:"files"`
}

// FileEntry is one file of the archive.
type FileEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// ErrFormat means the archive was written in a format version this CareLedger cannot read.
var ErrFormat = errors.New("unsupported backup format")

// ErrIntegrity means the archive is damaged or was tampered with: a file does not match its
// manifest entry, a file is missing or extra, or the archive ends early.
var ErrIntegrity = errors.New("backup archive fails its integrity check")

// ErrUnsafePath means an archive entry names a path outside the data directory, or a kind of
// entry (link, device) an archive of CareLedger never holds.
var ErrUnsafePath = errors.New("unsafe path in backup archive")

// decodeManifest reads and checks a manifest: format version, well-formed unique paths and
// hashes.
func decodeManifest(r io.Reader) (*Manifest, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxManifest+1))
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	if len(b) > maxManifest {
		return nil, fmt.Errorf("%w: manifest over %d bytes", ErrIntegrity, maxManifest)
	}
	var probe struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrIntegrity, err)
	}
	if probe.Format != FormatVersion {
		if probe.Format > FormatVersion {
			return nil, fmt.Errorf("%w: archive format %d was written by a newer CareLedger; this one reads format %d: restore it with that release or later", ErrFormat, probe.Format, FormatVersion)
		}
		return nil, fmt.Errorf("%w: archive format %d", ErrFormat, probe.Format)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: manifest: %w", ErrIntegrity, err)
	}
	seen := make(map[string]bool, len(m.Files))
	for _, f := range m.Files {
		if err := checkEntryPath(f.Path); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("%w: manifest lists %s twice", ErrIntegrity, f.Path)
		}
		seen[f.Path] = true
		if f.Size < 0 || len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("%w: manifest entry %s is malformed", ErrIntegrity, f.Path)
		}
	}
	return &m, nil
}

// checkEntryPath accepts a relative, clean, slash-separated path that stays inside the
// directory it is extracted into and is not the manifest.
func checkEntryPath(p string) error {
	if p == "" || p == ManifestName || strings.HasPrefix(p, "/") || strings.Contains(p, "\\") ||
		strings.ContainsRune(p, 0) || path.Clean(p) != p || p == ".." || strings.HasPrefix(p, "../") {
		return fmt.Errorf("%w: %q", ErrUnsafePath, p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." || seg == "." || seg == "" {
			return fmt.Errorf("%w: %q", ErrUnsafePath, p)
		}
	}
	return nil
}
