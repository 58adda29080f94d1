package atrest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDFArgon2id names the only key derivation function files may use today. The name is stored
// in each file so a later format can move to another function without guessing.
const KDFArgon2id = "argon2id"

// Bounds on parameters read from a file. A file comes from disk and may have been tampered
// with; without an upper bound a crafted file could make opening it take hours or exhaust
// memory. The lower bounds stop a tampered file from silently downgrading protection.
const (
	minTime      = 1
	maxTime      = 64
	minMemoryKiB = 8
	maxMemoryKiB = 4 << 20 // 4 GiB
	minThreads   = 1
	maxThreads   = 64
	saltLen      = 16
)

// KDFParams are the parameters of a passphrase-based key derivation. They are stored next to
// the ciphertext so files written with older, cheaper settings stay readable after the
// defaults change.
type KDFParams struct {
	// Algorithm is the KDF name; only KDFArgon2id is accepted.
	Algorithm string `json:"alg"`
	// Time is argon2id's number of passes over memory.
	Time uint32 `json:"time"`
	// MemoryKiB is argon2id's memory cost in KiB.
	MemoryKiB uint32 `json:"memoryKiB"`
	// Threads is argon2id's parallelism.
	Threads uint8 `json:"threads"`
	// Salt is a random per-file salt.
	Salt []byte `json:"salt"`
}

// Cost is the tunable part of KDFParams, without the salt.
type Cost struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
}

// DefaultCost follows RFC 9106's second recommended option (64 MiB, 3 passes): around 100 ms
// on a small server, acceptable when a person unlocks a wallet, prohibitive for guessing.
var DefaultCost = Cost{Time: 3, MemoryKiB: 64 * 1024, Threads: 4}

// ErrBadParams reports KDF parameters that are missing, unknown or out of bounds.
var ErrBadParams = errors.New("invalid key derivation parameters")

// NewParams returns parameters with the given cost and a fresh random salt.
func NewParams(c Cost) (KDFParams, error) {
	p := KDFParams{Algorithm: KDFArgon2id, Time: c.Time, MemoryKiB: c.MemoryKiB, Threads: c.Threads, Salt: make([]byte, saltLen)}
	if _, err := rand.Read(p.Salt); err != nil {
		return KDFParams{}, fmt.Errorf("generate salt: %w", err)
	}
	if err := p.Validate(); err != nil {
		return KDFParams{}, err
	}
	return p, nil
}

// Validate checks that the parameters are known and within the accepted bounds.
func (p KDFParams) Validate() error {
	switch {
	case p.Algorithm != KDFArgon2id:
		return fmt.Errorf("%w: unknown algorithm %q", ErrBadParams, p.Algorithm)
	case p.Time < minTime || p.Time > maxTime:
		return fmt.Errorf("%w: time %d outside [%d, %d]", ErrBadParams, p.Time, minTime, maxTime)
	case p.MemoryKiB < minMemoryKiB || p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB outside [%d, %d]", ErrBadParams, p.MemoryKiB, minMemoryKiB, maxMemoryKiB)
	case p.Threads < minThreads || p.Threads > maxThreads:
		return fmt.Errorf("%w: threads %d outside [%d, %d]", ErrBadParams, p.Threads, minThreads, maxThreads)
	case len(p.Salt) < saltLen:
		return fmt.Errorf("%w: salt of %d bytes, want at least %d", ErrBadParams, len(p.Salt), saltLen)
	}
	return nil
}

// DerivedKey is the output of a derivation: an encryption key and a check value. The check
// value is stored in the file so a wrong passphrase can be told apart from a corrupted
// ciphertext; it is derived from separate output bits, so it reveals nothing about the key.
type DerivedKey struct {
	Key   [32]byte
	Check [32]byte
}

// Derive runs the KDF over passphrase.
func Derive(passphrase []byte, p KDFParams) (*DerivedKey, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := argon2.IDKey(passphrase, p.Salt, p.Time, p.MemoryKiB, p.Threads, 64)
	var dk DerivedKey
	copy(dk.Key[:], out[:32])
	dk.Check = sha256.Sum256(out[32:])
	clear(out)
	return &dk, nil
}

// CheckMatches reports in constant time whether check equals the derived check value.
func (dk *DerivedKey) CheckMatches(check []byte) bool {
	return subtle.ConstantTimeCompare(dk.Check[:], check) == 1
}

// Wipe zeroes the key material. Go may have copied it elsewhere; this narrows, not closes,
// the window in which a memory dump reveals it.
func (dk *DerivedKey) Wipe() {
	clear(dk.Key[:])
	clear(dk.Check[:])
}
