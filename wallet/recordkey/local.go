package recordkey

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/careledger/careledger/wallet/internal/atrest"
)

// Local is the default KeyService: KEKs live in a directory, one file per patient, each
// encrypted with AES-256-GCM under a master key derived from a passphrase (argon2id). Writes
// are atomic. A directory is used by one process at a time; Open takes a lock to enforce
// that.
//
// Layout of dir:
//
//	keystore.json          KDF parameters and passphrase check value
//	keys/<patient>.kek     the patient's KEK versions, sealed under the master key
//	keys/<patient>.erased  tombstone left by DestroyKey
//	lock                   held while the store is open
type Local struct {
	dir    string
	master cipher.AEAD
	unlock func()

	mu    sync.Mutex
	cache map[string]*keyset // decrypted keysets of patients seen since Open
}

// keyset is one patient's KEK versions, stored as JSON inside the sealed file.
type keyset struct {
	Patient string         `json:"patient"`
	Latest  int            `json:"latest"`
	Min     int            `json:"min,omitempty"` // versions below were retired
	Keys    map[int][]byte `json:"keys"`
}

type storeMeta struct {
	Version int              `json:"version"`
	KDF     atrest.KDFParams `json:"kdf"`
	Check   []byte           `json:"check"`
}

// ErrWrongPassphrase means the passphrase does not open the local key store.
var ErrWrongPassphrase = errors.New("wrong key store passphrase")

// ErrStoreLocked means another process has the local key store open.
var ErrStoreLocked = errors.New("key store in use by another process")

// LocalOption configures OpenLocal.
type LocalOption func(*localConfig)

type localConfig struct{ cost atrest.Cost }

// WithLocalKDFCost sets the argon2id cost used when a store is created: time passes, memory
// in KiB and threads. Lower it only in tests.
func WithLocalKDFCost(time, memoryKiB uint32, threads uint8) LocalOption {
	return func(c *localConfig) { c.cost = atrest.Cost{Time: time, MemoryKiB: memoryKiB, Threads: threads} }
}

// OpenLocal opens the key store in dir, creating it (mode 0700) if it does not exist.
// Call Close when done to release the lock.
func OpenLocal(dir string, passphrase []byte, opts ...LocalOption) (*Local, error) {
	cfg := localConfig{cost: atrest.DefaultCost}
	for _, o := range opts {
		o(&cfg)
	}
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("open key store: empty passphrase")
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	// Tighten a directory that existed before: key files are private even by name.
	if err := os.Chmod(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open key store: %w", err)
	}
	unlock, err := lockFile(filepath.Join(dir, "lock"))
	if err != nil {
		return nil, fmt.Errorf("open key store %s: %w", dir, err)
	}
	master, err := openMaster(dir, passphrase, cfg.cost)
	if err != nil {
		unlock()
		return nil, fmt.Errorf("open key store %s: %w", dir, err)
	}
	return &Local{dir: dir, master: master, unlock: unlock, cache: map[string]*keyset{}}, nil
}

func openMaster(dir string, passphrase []byte, cost atrest.Cost) (cipher.AEAD, error) {
	path := filepath.Join(dir, "keystore.json")
	var meta storeMeta
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		params, err := atrest.NewParams(cost)
		if err != nil {
			return nil, err
		}
		dk, err := atrest.Derive(passphrase, params)
		if err != nil {
			return nil, err
		}
		defer dk.Wipe()
		meta = storeMeta{Version: 1, KDF: params, Check: dk.Check[:]}
		out, err := json.MarshalIndent(meta, "", "  ")
		if err != nil {
			return nil, err
		}
		if err := atrest.WriteFileAtomic(path, out, 0o600); err != nil {
			return nil, err
		}
		return newAEAD(dk.Key[:])
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return nil, fmt.Errorf("%w: keystore.json: %w", ErrCorrupt, err)
	}
	if meta.Version != 1 {
		return nil, fmt.Errorf("%w: keystore.json: unsupported version %d", ErrCorrupt, meta.Version)
	}
	dk, err := atrest.Derive(passphrase, meta.KDF)
	if err != nil {
		return nil, fmt.Errorf("%w: keystore.json: %w", ErrCorrupt, err)
	}
	defer dk.Wipe()
	if !dk.CheckMatches(meta.Check) {
		return nil, ErrWrongPassphrase
	}
	return newAEAD(dk.Key[:])
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// Close releases the store's lock and forgets cached keys.
func (l *Local) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ks := range l.cache {
		ks.wipe()
	}
	l.cache = nil
	if l.unlock != nil {
		l.unlock()
		l.unlock = nil
	}
	return nil
}

func (ks *keyset) wipe() {
	for _, k := range ks.Keys {
		clear(k)
	}
}

func (l *Local) kekPath(patient string) string {
	return filepath.Join(l.dir, "keys", patient+".kek")
}

func (l *Local) tombstonePath(patient string) string {
	return filepath.Join(l.dir, "keys", patient+".erased")
}

// load returns the patient's keyset; l.mu must be held. With create it makes the first
// version if the patient has none.
func (l *Local) load(patient string, create bool) (*keyset, error) {
	if err := ValidatePatientID(patient); err != nil {
		return nil, err
	}
	if l.cache == nil {
		return nil, errors.New("key store closed")
	}
	if ks, ok := l.cache[patient]; ok {
		return ks, nil
	}
	if _, err := os.Stat(l.tombstonePath(patient)); err == nil {
		return nil, ErrKeyDestroyed
	}
	data, err := os.ReadFile(l.kekPath(patient))
	if errors.Is(err, fs.ErrNotExist) {
		if !create {
			return nil, ErrKeyNotFound
		}
		ks := &keyset{Patient: patient, Keys: map[int][]byte{}}
		if err := l.addVersion(ks); err != nil {
			return nil, err
		}
		l.cache[patient] = ks
		return ks, nil
	}
	if err != nil {
		return nil, err
	}
	ks, err := l.decodeKeyset(patient, data)
	if err != nil {
		return nil, err
	}
	l.cache[patient] = ks
	return ks, nil
}

func (l *Local) keysetAAD(patient string) []byte {
	return []byte("careledger/kek/v1\x00" + patient)
}

func (l *Local) decodeKeyset(patient string, data []byte) (*keyset, error) {
	ns := l.master.NonceSize()
	if len(data) < ns+l.master.Overhead() {
		return nil, fmt.Errorf("%w: key file of %s truncated", ErrCorrupt, patient)
	}
	pt, err := l.master.Open(nil, data[:ns], data[ns:], l.keysetAAD(patient))
	if err != nil {
		return nil, fmt.Errorf("%w: key file of %s fails authentication", ErrCorrupt, patient)
	}
	defer clear(pt)
	var ks keyset
	if err := json.Unmarshal(pt, &ks); err != nil {
		return nil, fmt.Errorf("%w: key file of %s: %w", ErrCorrupt, patient, err)
	}
	if ks.Patient != patient || ks.Keys[ks.Latest] == nil {
		return nil, fmt.Errorf("%w: key file of %s is inconsistent", ErrCorrupt, patient)
	}
	return &ks, nil
}

// addVersion adds a fresh KEK version and persists the keyset before it is used, so no data
// key is ever wrapped under a version that is not on disk.
func (l *Local) addVersion(ks *keyset) error {
	k := make([]byte, DataKeySize)
	if _, err := rand.Read(k); err != nil {
		return fmt.Errorf("generate kek: %w", err)
	}
	next := &keyset{Patient: ks.Patient, Latest: ks.Latest + 1, Min: ks.Min, Keys: make(map[int][]byte, len(ks.Keys)+1)}
	for v, key := range ks.Keys {
		next.Keys[v] = key
	}
	next.Keys[next.Latest] = k
	if err := l.persist(next); err != nil {
		return err
	}
	*ks = *next
	return nil
}

func (l *Local) persist(ks *keyset) error {
	pt, err := json.Marshal(ks)
	if err != nil {
		return fmt.Errorf("encode keyset: %w", err)
	}
	defer clear(pt)
	nonce := make([]byte, l.master.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("generate nonce: %w", err)
	}
	out := l.master.Seal(nonce, nonce, pt, l.keysetAAD(ks.Patient))
	return atrest.WriteFileAtomic(l.kekPath(ks.Patient), out, 0o600)
}

// Wrapped data key layout: "CLW1" | KEK version (4, big-endian) | nonce (12) | sealed key (48).
const wrappedLen = 4 + 4 + 12 + DataKeySize + 16

func wrapAAD(patient string, version uint32) []byte {
	b := []byte("careledger/dek/v1\x00" + patient + "\x00")
	return binary.BigEndian.AppendUint32(b, version)
}

func wrap(ks *keyset, version int, dataKey []byte) ([]byte, error) {
	aead, err := newAEAD(ks.Keys[version])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 8, wrappedLen)
	copy(out, "CLW1")
	binary.BigEndian.PutUint32(out[4:8], uint32(version))
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("generate nonce: %w", err)
	}
	out = append(out, nonce...)
	return aead.Seal(out, nonce, dataKey, wrapAAD(ks.Patient, uint32(version))), nil
}

func unwrap(ks *keyset, wrapped []byte) ([]byte, int, error) {
	if len(wrapped) != wrappedLen || !bytes.Equal(wrapped[:4], []byte("CLW1")) {
		return nil, 0, fmt.Errorf("%w: not a wrapped key of the local key store", ErrCorrupt)
	}
	version := binary.BigEndian.Uint32(wrapped[4:8])
	if int(version) < ks.Min && version > 0 {
		return nil, 0, fmt.Errorf("%w: version %d", ErrKeyRetired, version)
	}
	kek, ok := ks.Keys[int(version)]
	if !ok {
		return nil, 0, fmt.Errorf("%w: unknown key version %d", ErrCorrupt, version)
	}
	aead, err := newAEAD(kek)
	if err != nil {
		return nil, 0, err
	}
	dk, err := aead.Open(nil, wrapped[8:20], wrapped[20:], wrapAAD(ks.Patient, version))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: wrapped key fails authentication", ErrCorrupt)
	}
	return dk, int(version), nil
}

// NewDataKey implements KeyService.
func (l *Local) NewDataKey(_ context.Context, patientID string) (DataKey, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks, err := l.load(patientID, true)
	if err != nil {
		return DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	dk := make([]byte, DataKeySize)
	if _, err := rand.Read(dk); err != nil {
		return DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	w, err := wrap(ks, ks.Latest, dk)
	if err != nil {
		return DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	return DataKey{Plaintext: dk, Wrapped: w, Version: ks.Latest}, nil
}

// UnwrapDataKey implements KeyService.
func (l *Local) UnwrapDataKey(_ context.Context, patientID string, wrapped []byte) ([]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks, err := l.load(patientID, false)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	dk, _, err := unwrap(ks, wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	return dk, nil
}

// RewrapDataKey implements KeyService.
func (l *Local) RewrapDataKey(_ context.Context, patientID string, wrapped []byte) ([]byte, int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks, err := l.load(patientID, false)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	dk, _, err := unwrap(ks, wrapped)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	defer clear(dk)
	w, err := wrap(ks, ks.Latest, dk)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	return w, ks.Latest, nil
}

// RotateKey implements KeyService.
func (l *Local) RotateKey(_ context.Context, patientID string) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks, err := l.load(patientID, false)
	if err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	if err := l.addVersion(ks); err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	return ks.Latest, nil
}

// RetireKeyVersions implements KeyService. The shortened keyset is written before the
// retired keys are wiped from memory.
func (l *Local) RetireKeyVersions(_ context.Context, patientID string, below int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	ks, err := l.load(patientID, false)
	if err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	if below < 1 || below > ks.Latest {
		return fmt.Errorf("retire key versions: %w: %d, latest is %d", ErrBadVersion, below, ks.Latest)
	}
	if below <= ks.Min {
		return nil
	}
	next := &keyset{Patient: ks.Patient, Latest: ks.Latest, Min: below, Keys: map[int][]byte{}}
	for v, k := range ks.Keys {
		if v >= below {
			next.Keys[v] = k
		}
	}
	if err := l.persist(next); err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	for v, k := range ks.Keys {
		if v < below {
			clear(k)
		}
	}
	*ks = *next
	return nil
}

// DestroyKey implements KeyService. The tombstone is written before the key file is
// removed, so a crash in between still leaves the patient erased.
func (l *Local) DestroyKey(_ context.Context, patientID string) error {
	if err := ValidatePatientID(patientID); err != nil {
		return fmt.Errorf("destroy key: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cache == nil {
		return errors.New("destroy key: key store closed")
	}
	if err := atrest.WriteFileAtomic(l.tombstonePath(patientID), nil, 0o600); err != nil {
		return fmt.Errorf("destroy key: %w", err)
	}
	if ks, ok := l.cache[patientID]; ok {
		ks.wipe()
		delete(l.cache, patientID)
	}
	if err := atrest.RemoveFile(l.kekPath(patientID)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("destroy key: %w", err)
	}
	return nil
}

var _ KeyService = (*Local)(nil)
