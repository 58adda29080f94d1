// Package blob stores record ciphertexts off-chain. The ledger holds only a ciphertext's
// SHA-256 and an opaque locator; this package holds the bytes, behind one small interface with
// two backends: a directory on disk (the single-machine default) and S3-compatible object
// storage (MinIO, Ceph, AWS S3) for production. Neither ever exposes a half-written object.
package blob

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrNotFound means no object is stored under the key.
var ErrNotFound = errors.New("blob not found")

// ErrInvalidKey means the key is not acceptable (see ValidKey).
var ErrInvalidKey = errors.New("invalid blob key")

// Store holds immutable objects by key. Implementations are safe for concurrent use.
type Store interface {
	// Put stores data under key, replacing any object there. Readers see either the old
	// object or the whole new one, never part of it; when Put returns nil the object is
	// durable.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the object, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// Delete removes the object; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// List returns the keys that start with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}

var keyPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]*(/[A-Za-z0-9][A-Za-z0-9._:-]*)*$`)

// ValidKey reports whether key may name an object: 1 to 512 characters, slash-separated
// segments of letters, digits, '.', '_', ':' and '-', each starting with a letter or digit, so
// no key can climb out of its directory or bucket prefix.
func ValidKey(key string) bool {
	return len(key) <= 512 && keyPattern.MatchString(key) && !strings.Contains(key, "..")
}

func checkKey(op, key string) error {
	if !ValidKey(key) {
		return fmt.Errorf("%s %q: %w", op, key, ErrInvalidKey)
	}
	return nil
}
