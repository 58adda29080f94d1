// Package datadir versions a CareLedger data directory as a whole and migrates older ones on
// start. format.json records the directory's format; a newer CareLedger migrates an older
// directory step by step, refuses a newer one, and never leaves one half-migrated: before a step
// runs, format.json says which step is under way, every step is idempotent, and a start that
// finds a step under way runs it again to the end before anything else opens the directory.
package datadir

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// FileName is the format file at the top of a data directory.
const FileName = "format.json"

// Current is the data directory format this CareLedger writes. Format 1 is a directory of the
// release before format.json existed; it is recognised by having no format.json.
const Current = 2

// Format is the content of format.json.
type Format struct {
	Version int `json:"version"`
	// Migrating is set while the step from Version to Version+1 runs.
	Migrating bool `json:"migrating,omitempty"`
}

// NewerError means the data directory was written by a newer CareLedger.
type NewerError struct {
	Dir       string
	Have, Max int
}

func (e *NewerError) Error() string {
	return fmt.Sprintf("data directory %s has format %d, written by a newer CareLedger; this one reads formats up to %d: run the newer release (downgrades are not supported; restore a backup taken before the upgrade instead)", e.Dir, e.Have, e.Max)
}

// Step migrates a data directory from one format to the next. It must be idempotent: after a
// crash it runs again on whatever part of its work is done.
type Step struct {
	Name  string
	Apply func(ctx context.Context, dir string) error
}

// Steps[i] migrates format i+1 to i+2.
var Steps = []Step{
	{Name: "record the data directory format in format.json", Apply: func(context.Context, string) error { return nil }},
}

// Read returns the directory's format: format 1 without format.json in a directory that holds
// data, Current in an empty or missing directory (a first start).
func Read(dir string) (Format, error) {
	b, err := os.ReadFile(filepath.Join(dir, FileName))
	if errors.Is(err, fs.ErrNotExist) {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) || (err == nil && len(entries) == 0) {
			return Format{Version: Current}, nil
		}
		if err != nil {
			return Format{}, fmt.Errorf("read data directory format: %w", err)
		}
		return Format{Version: 1}, nil
	}
	if err != nil {
		return Format{}, fmt.Errorf("read data directory format: %w", err)
	}
	var f Format
	if err := json.Unmarshal(b, &f); err != nil || f.Version < 1 {
		return Format{}, fmt.Errorf("read data directory format: %s is malformed", FileName)
	}
	return f, nil
}

// Migrate brings the data directory in dir to Current with steps (nil: Steps), or refuses it
// with a *NewerError. It must run before anything else opens the directory.
func Migrate(ctx context.Context, dir string, steps []Step, log *slog.Logger) error {
	if steps == nil {
		steps = Steps
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	current := len(steps) + 1
	f, err := Read(dir)
	if err != nil {
		return err
	}
	_, statErr := os.Stat(filepath.Join(dir, FileName))
	recorded := statErr == nil
	if f.Version > current || (f.Version == current && f.Migrating) {
		return &NewerError{Dir: dir, Have: f.Version, Max: current}
	}
	for f.Version < current {
		step := steps[f.Version-1]
		if f.Migrating {
			log.Warn("finishing a data directory migration that was interrupted", "from", f.Version, "step", step.Name)
		} else {
			log.Info("migrating the data directory", "from", f.Version, "to", f.Version+1, "step", step.Name)
		}
		if err := write(dir, Format{Version: f.Version, Migrating: true}); err != nil {
			return err
		}
		if err := step.Apply(ctx, dir); err != nil {
			return fmt.Errorf("migrate data directory from format %d (%s): %w", f.Version, step.Name, err)
		}
		f = Format{Version: f.Version + 1}
		if err := write(dir, f); err != nil {
			return err
		}
		recorded = true
	}
	if !recorded {
		return write(dir, f) // a first start
	}
	return nil
}

// write replaces format.json atomically and durably.
func write(dir string, f Format) error {
	b, err := json.Marshal(f)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write data directory format: %w", err)
	}
	tmp := filepath.Join(dir, "."+FileName+".tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write data directory format: %w", err)
	}
	fh, err := os.Open(tmp)
	if err == nil {
		err = errors.Join(fh.Sync(), fh.Close())
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, FileName))
	}
	if err == nil {
		var d *os.File
		if d, err = os.Open(dir); err == nil {
			err = errors.Join(d.Sync(), d.Close())
		}
	}
	if err != nil {
		return fmt.Errorf("write data directory format: %w", err)
	}
	return nil
}
