package wallet

import "errors"

// Sentinel errors callers branch on. Errors returned by this package wrap them with the
// operation and the label, so use errors.Is.
var (
	// ErrNotFound means the wallet has no identity under the label.
	ErrNotFound = errors.New("identity not found")
	// ErrWrongPassphrase means the passphrase does not open the identity.
	ErrWrongPassphrase = errors.New("wrong passphrase")
	// ErrCorrupt means the file is truncated, malformed or was modified after it was written.
	ErrCorrupt = errors.New("wallet file corrupt")
	// ErrInvalidLabel means the label is empty, too long or has characters other than
	// letters, digits, '.', '_', '-' and '@' (labels become file names).
	ErrInvalidLabel = errors.New("invalid identity label")
	// ErrInvalidIdentity means a certificate or key is missing, malformed, of an unsupported type,
	// or the key does not belong to the certificate.
	ErrInvalidIdentity = errors.New("invalid identity")
	// ErrExists means an export target already holds an identity.
	ErrExists = errors.New("already exists")
)
