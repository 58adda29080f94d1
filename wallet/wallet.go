package wallet

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/careledger/careledger/wallet/internal/atrest"
)

// fileExt is the suffix of identity files in a wallet directory.
const fileExt = ".id.json"

var labelPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$`)

func validateLabel(label string) error {
	if !labelPattern.MatchString(label) || strings.Contains(label, "..") {
		return fmt.Errorf("%w: %q", ErrInvalidLabel, label)
	}
	return nil
}

// KDFCost tunes the passphrase key derivation (argon2id) for new wallet files. Existing
// files keep the cost they were written with.
type KDFCost struct {
	// Time is the number of passes over memory.
	Time uint32
	// MemoryKiB is the memory cost in KiB.
	MemoryKiB uint32
	// Threads is the parallelism.
	Threads uint8
}

// DefaultKDFCost is argon2id with 64 MiB and 3 passes (RFC 9106, second recommendation).
var DefaultKDFCost = KDFCost(atrest.DefaultCost)

// Option configures a Wallet.
type Option func(*Wallet)

// WithKDFCost sets the key derivation cost for identities written from now on. Lower it only
// in tests.
func WithKDFCost(c KDFCost) Option { return func(w *Wallet) { w.cost = atrest.Cost(c) } }

// Wallet is a directory of encrypted identity files, one per label, each readable and
// writable only by the owner. Writes are atomic: a file is either the old identity or the
// new one, never half of each. Safe for concurrent use by one process; concurrent writers in
// several processes see last-writer-wins per label.
type Wallet struct {
	dir  string
	cost atrest.Cost
}

// Open opens the wallet in dir, creating the directory (mode 0700) if needed.
func Open(dir string, opts ...Option) (*Wallet, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open wallet: %w", err)
	}
	// Tighten a directory that existed before: labels are private too.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open wallet: %w", err)
	}
	w := &Wallet{dir: dir, cost: atrest.DefaultCost}
	for _, o := range opts {
		o(w)
	}
	if _, err := atrest.NewParams(w.cost); err != nil {
		return nil, fmt.Errorf("open wallet: %w", err)
	}
	return w, nil
}

func (w *Wallet) path(label string) string { return filepath.Join(w.dir, label+fileExt) }

// Put stores id under label, encrypted with passphrase, replacing any identity already there.
func (w *Wallet) Put(label string, id *Identity, passphrase []byte) error {
	if err := validateLabel(label); err != nil {
		return fmt.Errorf("put identity: %w", err)
	}
	if id == nil {
		return fmt.Errorf("put identity %q: %w: nil identity", label, ErrInvalidIdentity)
	}
	if len(passphrase) == 0 {
		return fmt.Errorf("put identity %q: empty passphrase", label)
	}
	data, err := sealIdentity(label, id, passphrase, w.cost)
	if err != nil {
		return fmt.Errorf("put identity %q: %w", label, err)
	}
	if err := atrest.WriteFileAtomic(w.path(label), data, 0o600); err != nil {
		return fmt.Errorf("put identity %q: %w", label, err)
	}
	return nil
}

// File reads and parses the identity file under label without decrypting it.
func (w *Wallet) File(label string) (*File, error) {
	if err := validateLabel(label); err != nil {
		return nil, fmt.Errorf("read identity: %w", err)
	}
	data, err := os.ReadFile(w.path(label))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read identity %q: %w", label, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read identity %q: %w", label, err)
	}
	f, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("read identity %q: %w", label, err)
	}
	if f.Label != label {
		// A file copied or renamed under another label: refuse rather than mix identities up.
		return nil, fmt.Errorf("read identity %q: %w: file holds label %q", label, ErrCorrupt, f.Label)
	}
	return f, nil
}

// Get decrypts and returns the identity under label.
func (w *Wallet) Get(label string, passphrase []byte) (*Identity, error) {
	f, err := w.File(label)
	if err != nil {
		return nil, err
	}
	return f.Open(passphrase)
}

// Certificate returns the MSP ID and certificate under label; no passphrase is needed
// because certificates are public.
func (w *Wallet) Certificate(label string) (string, *x509.Certificate, error) {
	f, err := w.File(label)
	if err != nil {
		return "", nil, err
	}
	cert, err := parseCertPEM([]byte(f.Certificate))
	if err != nil {
		return "", nil, fmt.Errorf("read identity %q: %w: %w", label, ErrCorrupt, err)
	}
	return f.MSPID, cert, nil
}

// List returns the labels in the wallet, sorted.
func (w *Wallet) List() ([]string, error) {
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return nil, fmt.Errorf("list identities: %w", err)
	}
	var labels []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasSuffix(name, fileExt) {
			continue
		}
		label := strings.TrimSuffix(name, fileExt)
		if validateLabel(label) == nil {
			labels = append(labels, label)
		}
	}
	sort.Strings(labels)
	return labels, nil
}

// Remove deletes the identity under label, overwriting the file first.
func (w *Wallet) Remove(label string) error {
	if err := validateLabel(label); err != nil {
		return fmt.Errorf("remove identity: %w", err)
	}
	if _, err := os.Stat(w.path(label)); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove identity %q: %w", label, ErrNotFound)
	}
	if err := atrest.RemoveFile(w.path(label)); err != nil {
		return fmt.Errorf("remove identity %q: %w", label, err)
	}
	return nil
}
