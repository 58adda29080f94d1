package recordkey

import "context"

// DataKeySize is the size of data keys and KEKs: 256 bits, for AES-256.
const DataKeySize = 32

// DataKey is a fresh data key and its wrapped form.
type DataKey struct {
	// Plaintext is the key itself. Use it, then clear it; never store it.
	Plaintext []byte
	// Wrapped is the key encrypted under the patient's KEK, opaque and specific to the
	// KeyService; store it next to the ciphertext.
	Wrapped []byte
	// Version is the KEK version that wrapped it.
	Version int
}

// KeyService holds one key-encryption key per patient and wraps data keys with it.
// Implementations are safe for concurrent use. Wrapped keys are bound to the patient:
// unwrapping one under another patient's ID fails.
type KeyService interface {
	// NewDataKey generates a data key wrapped under the patient's current KEK version,
	// creating the KEK on first use. It fails with ErrKeyDestroyed for an erased patient.
	NewDataKey(ctx context.Context, patientID string) (DataKey, error)
	// UnwrapDataKey recovers a data key. It fails with ErrKeyDestroyed after DestroyKey,
	// ErrKeyNotFound if the patient never had a key, ErrCorrupt if wrapped is damaged or
	// not the patient's.
	UnwrapDataKey(ctx context.Context, patientID string, wrapped []byte) ([]byte, error)
	// RewrapDataKey re-encrypts a wrapped key under the patient's latest KEK version without
	// revealing it to the caller, and returns the new wrapped key and its version.
	RewrapDataKey(ctx context.Context, patientID string, wrapped []byte) ([]byte, int, error)
	// RotateKey adds a new KEK version, used for new data keys and rewraps from now on, and
	// returns it. Earlier versions still unwrap until the keys they wrapped are rewrapped.
	RotateKey(ctx context.Context, patientID string) (int, error)
	// RetireKeyVersions destroys the patient's KEK versions older than below (at most the
	// latest version), completing a rotation after every data key was rewrapped: data keys
	// still wrapped under a retired version fail with ErrKeyRetired from then on.
	RetireKeyVersions(ctx context.Context, patientID string, below int) error
	// DestroyKey erases every version of the patient's KEK (crypto-shredding) and marks the
	// patient so no new key is created for them. It is idempotent.
	DestroyKey(ctx context.Context, patientID string) error
}
