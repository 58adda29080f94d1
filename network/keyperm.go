package network

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// InsecureKeyError is returned, wrapped, when group or others may read a private key in the
// node's material.
type InsecureKeyError struct {
	// Path is the key file, Mode its permissions.
	Path string
	Mode fs.FileMode
}

func (e *InsecureKeyError) Error() string {
	return fmt.Sprintf("private key %s is readable by group or others (mode %04o): only the service user may read it; run `chmod 600 %s` and `chmod 700` on its directory, then start again",
		e.Path, e.Mode.Perm(), e.Path)
}

// CheckKeyPermissions checks that no private key in the material of c's organisations under
// dir (CA, TLS CA, peer and service identity keys) can be read by group or others, and
// returns an *InsecureKeyError naming the first that can.
func CheckKeyPermissions(dir string, c Consortium) error {
	for _, o := range c.Orgs {
		err := filepath.WalkDir(OrgDir(dir, o), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !isKeyFile(d.Name()) {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Mode().Perm()&0o077 != 0 {
				return &InsecureKeyError{Path: p, Mode: info.Mode()}
			}
			return nil
		})
		if err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("check key permissions: %w", err)
		}
	}
	return nil
}

// isKeyFile reports whether a file name is one under which Fabric tools keep private keys:
// keystore/priv_sk or keystore/<SKI>_sk, and tls/*.key.
func isKeyFile(name string) bool {
	return strings.HasSuffix(name, "_sk") || strings.HasSuffix(name, ".key")
}
