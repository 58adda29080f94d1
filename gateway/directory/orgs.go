package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/careledger/careledger/chaincode/model"
)

// orgFile is the organisations file: MSP ID → human name and whether it employs clinicians.
type orgFile map[string]orgEntry

type orgEntry struct {
	Name       string `json:"name"`
	Clinicians bool   `json:"clinicians"`
}

// LoadOrgs reads the organisations file at path (e.g. <data-dir>/directory/organisations.json),
// writing defaults to it first when it does not exist, so an operator renames organisations by
// editing one file. A malformed file is an error, not a silent fallback to MSP IDs.
func LoadOrgs(path string, defaults map[string]Org) (map[string]Org, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		f := orgFile{}
		for id, o := range defaults {
			f[id] = orgEntry{o.Name, o.Clinicians}
		}
		if b, err = json.MarshalIndent(f, "", "  "); err != nil {
			return nil, fmt.Errorf("write organisations file: %w", err)
		}
		b = append(b, '\n')
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("write organisations file: %w", err)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, fmt.Errorf("write organisations file: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("read organisations file: %w", err)
	}
	var f orgFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("read organisations file %s: %w", path, err)
	}
	out := make(map[string]Org, len(f))
	for id, o := range f {
		if !model.ValidMSPID(id) {
			return nil, fmt.Errorf("read organisations file %s: %q is not an MSP ID", path, id)
		}
		p := Profile{Name: o.Name, Profession: "-"}
		if err := p.Check(); err != nil {
			return nil, fmt.Errorf("read organisations file %s: %s: %w", path, id, err)
		}
		out[id] = Org{Name: p.Name, Clinicians: o.Clinicians}
	}
	return out, nil
}
