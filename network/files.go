package network

import (
	"os"
	"path/filepath"
	"strings"
)

func writeFiles(root string, files map[string][]byte) error {
	for name, data := range files {
		mode := os.FileMode(0o644)
		// priv_sk (cryptogen) and <ski>_sk (Fabric CA) in keystores, *.key for TLS.
		if strings.HasSuffix(name, "_sk") || strings.HasSuffix(name, ".key") {
			mode = 0o600
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		// Only the service user may read the material: it holds the node's keys.
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			return err
		}
		if err := writeFileSync(p, data, mode); err != nil {
			return err
		}
	}
	return nil
}

func writeFileSync(path string, data []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// replaceFile writes data to path through a synced temporary file and a rename, so a crash
// leaves the old or the new content, never a torn file.
func replaceFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := writeFileSync(tmp, data, mode); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncTree(root string) error {
	return filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}

func syncDir(p string) error {
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// signCertFile is the signing certificate in an identity's msp folder: cryptogen's
// <name>-cert.pem, or cert.pem as Fabric CA's client writes it.
func signCertFile(mspDir, name string) string {
	p := filepath.Join(mspDir, "signcerts", name+"-cert.pem")
	if _, err := os.Stat(p); err != nil {
		if alt := filepath.Join(mspDir, "signcerts", "cert.pem"); fileExists(alt) {
			return alt
		}
	}
	return p
}

// keystoreFile is the private key in an identity's msp folder: cryptogen's priv_sk, or the
// one <ski>_sk Fabric CA's client writes.
func keystoreFile(mspDir string) string {
	p := filepath.Join(mspDir, "keystore", keyFileName)
	if !fileExists(p) {
		if keys, _ := filepath.Glob(filepath.Join(mspDir, "keystore", "*_sk")); len(keys) == 1 {
			return keys[0]
		}
	}
	return p
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
