package backup

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/internal/datadir"
	"github.com/careledger/careledger/network"
)

// Paths inside a data directory (and inside an archive, which mirrors it).
const (
	nodeDir        = "network"
	blockLogPath   = "network/ledger/blocks.log"
	auditPath      = "audit.db"
	keysDir        = "keys"
	recordsDir     = "records"
	passphraseFile = "keystore.passphrase"
	custodianFile  = "recordkeys.custodian"
	// RestoringMarker is present in a data directory while a restore is unfinished; nothing may
	// start on such a directory.
	RestoringMarker = "RESTORING"
)

// Component format versions this release writes; a restore or start refuses newer ones.
var componentVersions = map[string]int{
	"datadir":  datadir.Current, // format.json
	"blocklog": 1,               // network/ledger/blocks.log records (length, CRC-32C, common.Block)
	"keystore": 1,               // keys/keystore.json "version"
	"records":  1,               // records/<key>.blob, SHA-256 named ciphertexts
	"audit":    1,               // audit.db buckets
}

// excluded says what Write leaves out on purpose.
var excluded = []string{
	passphraseFile + ": the local key store's passphrase never enters a backup; keep it (or CARELEDGER_KEYSTORE_PASSPHRASE) apart from the archives",
	"network/ledger/ledger.db: the ledger index is rebuilt from the block log on restore",
	"events.checkpoint: a restored gateway starts with no cached decision, so it follows events from the restored ledger's end; the live checkpoint may lie beyond it",
	"spool/, lock files, sockets, temporary files",
}

// Options say what to back up and how.
type Options struct {
	// DataDir is the data directory of `careledger up`, running or not.
	DataDir string
	// TempDir holds the ledger and audit snapshots while they are archived (on disk, never in
	// memory); default os.TempDir().
	TempDir string
	// AuditSnapshot writes a consistent copy of the audit queue of the process that has it open;
	// nil when no process has (the file is then read directly).
	AuditSnapshot func(ctx context.Context, w io.Writer) error
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Write writes an archive of o.DataDir to w and returns its manifest. It may run while
// `careledger up` runs on the directory and blocks nothing there: the ledger is read up to its
// last synced block without a lock (network.SnapshotBlockLog), the audit queue is copied in one
// bbolt read transaction, and every other file is immutable or replaced by rename. The ledger is
// taken first, then the record store, then the keys, so every ciphertext the archived ledger
// names is in the archive and every key that wrapped one.
func Write(ctx context.Context, w io.Writer, o Options) (*Manifest, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if _, err := os.Stat(filepath.Join(o.DataDir, RestoringMarker)); err == nil {
		return nil, fmt.Errorf("backup: %s holds an unfinished restore", o.DataDir)
	}
	a, err := newArchiveWriter(w)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Format: FormatVersion, CareLedger: Version(), CreatedAt: o.Now().UTC(), Components: componentVersions, Excluded: excluded}

	_, err = spool(o.TempDir, "blocks-*.log", func(f io.Writer) (any, error) {
		return network.SnapshotBlockLog(ctx, filepath.Join(o.DataDir, nodeDir), f)
	}, func(path string, v any) error {
		ls := v.(network.LogSnapshot)
		m.Online = ls.Online
		m.Ledger.Height, m.Ledger.LastBlockHash = ls.Height, hex.EncodeToString(ls.LastHash)
		_, err := a.addFile(blockLogPath, path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("backup ledger: %w", err)
	}

	if err := a.addTree(ctx, o.DataDir, func(rel string) bool { return rel != keysDir }); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(o.DataDir, keysDir)); err == nil {
		if err := a.addTree(ctx, o.DataDir, func(rel string) bool { return rel == keysDir || strings.HasPrefix(rel, keysDir+"/") }); err != nil {
			return nil, err
		}
	}

	if _, err := os.Stat(filepath.Join(o.DataDir, auditPath)); err == nil {
		_, err := spool(o.TempDir, "audit-*.db", func(f io.Writer) (any, error) {
			if o.AuditSnapshot != nil {
				return nil, o.AuditSnapshot(ctx, f)
			}
			_, err := audit.SnapshotFile(filepath.Join(o.DataDir, auditPath), f)
			return nil, err
		}, func(path string, _ any) error {
			_, err := a.addFile(auditPath, path)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("backup audit queue: %w", err)
		}
	}
	m.KeyCustodian = custodianOf(o.DataDir)
	if err := a.close(m); err != nil {
		return nil, err
	}
	return m, nil
}

// spool writes through fill into a temporary file, hands it to use, and removes it.
func spool(dir, pattern string, fill func(io.Writer) (any, error), use func(path string, v any) error) (any, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	v, err := fill(f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return v, use(f.Name(), v)
}

// skip reports whether the data directory's entry at rel (slash-separated) stays out of an
// archive: see excluded.
func skip(rel string, d fs.DirEntry) bool {
	base := filepath.Base(rel)
	switch {
	case rel == passphraseFile || strings.HasSuffix(base, ".passphrase"),
		rel == "network/ledger", rel == "spool", rel == auditPath, rel == RestoringMarker,
		rel == keysDir+"/lock", rel == "events.checkpoint", base == "LOCK", base == "in-use",
		strings.HasPrefix(base, "."): // temporary files of atomic writes
		return true
	}
	return !d.IsDir() && !d.Type().IsRegular()
}

// addTree adds the regular files of the data directory whose top-level entry passes top.
func (a *archiveWriter) addTree(ctx context.Context, root string, top func(rel string) bool) error {
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // removed while we walk: an erased patient's blobs
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		first, _, _ := strings.Cut(rel, "/")
		if !top(first) || skip(rel, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		_, err = a.addFile(rel, p)
		return err
	})
	if err != nil {
		return fmt.Errorf("backup %s: %w", root, err)
	}
	return nil
}

// custodianOf says who holds the data directory's KEKs, as `up` wrote it down.
func custodianOf(dataDir string) string {
	if b, err := os.ReadFile(filepath.Join(dataDir, custodianFile)); err == nil {
		return strings.TrimSpace(string(b))
	}
	if _, err := os.Stat(filepath.Join(dataDir, keysDir, "keystore.json")); err == nil {
		return CustodianLocal
	}
	return ""
}

// CustodianLocal is how `up` names the local key store in recordkeys.custodian.
const CustodianLocal = "local key store"

// Version is the running CareLedger's version: its module version and VCS revision when the
// binary carries them.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			v += "+" + s.Value
		}
	}
	if v == "" {
		v = "devel"
	}
	return v
}
