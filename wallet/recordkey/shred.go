package recordkey

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/careledger/careledger/wallet/internal/atrest"
)

// ShredLocal destroys a patient's KEK in the local key store in dir without opening it, as
// DestroyKey does: it leaves the tombstone, then removes the sealed key file. Restoring a backup
// uses it to apply again every erasure the ledger records, before anything runs on the restored
// directory, and without the store's passphrase (which a backup never holds). The store must
// not be open in another process.
func ShredLocal(dir, patientID string) error {
	if err := ValidatePatientID(patientID); err != nil {
		return fmt.Errorf("shred key: %w", err)
	}
	keys := filepath.Join(dir, "keys")
	if err := atrest.WriteFileAtomic(filepath.Join(keys, patientID+".erased"), nil, 0o600); err != nil {
		return fmt.Errorf("shred key: %w", err)
	}
	if err := atrest.RemoveFile(filepath.Join(keys, patientID+".kek")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("shred key: %w", err)
	}
	return nil
}
