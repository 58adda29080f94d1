package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Disk stores objects as files under a directory. Writes go to a temporary file in the target
// directory, are fsynced, renamed over the target and the directory fsynced, so a crash leaves
// either the old object or the complete new one.
type Disk struct {
	root string
}

// NewDisk opens (creating if needed) a store rooted at dir.
func NewDisk(dir string) (*Disk, error) {
	root := filepath.Join(dir, "objects")
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("open blob store: %w", err)
	}
	return &Disk{root: root}, nil
}

func (d *Disk) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key)+".blob")
}

// Put implements Store.
func (d *Disk) Put(ctx context.Context, key string, data []byte) error {
	return d.PutStream(ctx, key, bytes.NewReader(data), int64(len(data)))
}

// PutStream stores what r yields under key, like Put, without holding it in memory. size is
// the object's length; a reader that yields another length is an error and stores nothing.
func (d *Disk) PutStream(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := checkKey("put blob", key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	target := d.path(key)
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	if n, err := io.Copy(tmp, r); err != nil || n != size {
		tmp.Close()
		if err == nil {
			err = fmt.Errorf("%d bytes instead of %d", n, size)
		}
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), target); err != nil {
		return fmt.Errorf("put blob %s: %w", key, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Get implements Store.
func (d *Disk) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey("get blob", key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(d.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("get blob %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get blob %s: %w", key, err)
	}
	return b, nil
}

// Delete implements Store.
func (d *Disk) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete blob", key); err != nil {
		return err
	}
	err := os.Remove(d.path(key))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	if err == nil {
		return syncDir(filepath.Dir(d.path(key)))
	}
	return nil
}

// List implements Store.
func (d *Disk) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() || !strings.HasSuffix(p, ".blob") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := strings.TrimSuffix(filepath.ToSlash(rel), ".blob")
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return ctx.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	sort.Strings(keys)
	return keys, nil
}
