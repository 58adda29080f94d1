package recordkey

import (
	"errors"
	"fmt"
	"regexp"
)

// Sentinel errors shared by every KeyService and the Sealer; use errors.Is.
var (
	// ErrKeyDestroyed means the patient's key-encryption key was destroyed (crypto-shredding).
	// Nothing wrapped under it can be unwrapped again, and no new data keys are issued.
	ErrKeyDestroyed = errors.New("patient key destroyed")
	// ErrKeyNotFound means the patient has no key-encryption key yet.
	ErrKeyNotFound = errors.New("patient key not found")
	// ErrCorrupt means a wrapped key or sealed record is malformed, truncated, was modified, or
	// belongs to another patient or other additional data.
	ErrCorrupt = errors.New("wrapped key or ciphertext corrupt")
	// ErrKeyRetired means the data key was wrapped under a KEK version that was retired
	// after rotation; it should have been rewrapped first.
	ErrKeyRetired = errors.New("key version retired")
	// ErrBadVersion means a KEK version outside the versions the patient has.
	ErrBadVersion = errors.New("no such key version")
	// ErrInvalidPatient means the patient ID is empty, too long or has characters other than
	// letters, digits, '-' and '_'.
	ErrInvalidPatient = errors.New("invalid patient ID")
)

var patientPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// ValidatePatientID checks a patient ID (normally a 32-hex-digit ledger pseudonym). IDs
// become file names and Vault key names, hence the strict alphabet.
func ValidatePatientID(id string) error {
	if !patientPattern.MatchString(id) {
		return fmt.Errorf("%w: %q", ErrInvalidPatient, id)
	}
	return nil
}
