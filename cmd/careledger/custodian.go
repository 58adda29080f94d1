package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Who holds patients' key-encryption keys for a data directory.
const (
	custodianLocal  = "local key store"
	custodianVault  = "Vault Transit"
	custodianPKCS11 = "PKCS#11 token"
)

// checkCustodian makes sure a data directory keeps the custodian of its record keys. The
// wrapped data keys stored with the records can be unwrapped only by the custodian that
// wrapped them, and CareLedger cannot move keys between custodians: starting with another
// one would make every existing record undecryptable, reported as corrupt. The custodian is
// written down (recordCustodian) once its key service opened; a data directory from before
// that with a local key store in it counts as the local key store's.
func checkCustodian(dataDir, custodian string) error {
	b, err := os.ReadFile(custodianFile(dataDir))
	switch {
	case err == nil:
		if have := strings.TrimSpace(string(b)); have != custodian {
			return custodianMismatch(dataDir, have, custodian)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("read record key custodian: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "keys", "keystore.json")); err == nil && custodian != custodianLocal {
		return custodianMismatch(dataDir, custodianLocal, custodian)
	}
	return nil
}

// recordCustodian writes down the data directory's custodian on first start.
func recordCustodian(dataDir, custodian string) error {
	path := custodianFile(dataDir)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.WriteFile(path, []byte(custodian+"\n"), 0o600); err != nil {
		return fmt.Errorf("record key custodian: %w", err)
	}
	return nil
}

func custodianFile(dataDir string) string { return filepath.Join(dataDir, "recordkeys.custodian") }

func custodianMismatch(dataDir, have, want string) error {
	return fmt.Errorf("the records in %s have their keys in the %s, not in a %s: CareLedger cannot move patients' keys between custodians, and without them those records could not be decrypted; start with the %s again, or use a new --data-dir", dataDir, have, want, have)
}
