package network

import (
	"os"
	"path/filepath"
	"strings"
)

func writeFiles(root string, files map[string][]byte) error {
	for name, data := range files {
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, keyFileName) || strings.HasSuffix(name, ".key") {
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
