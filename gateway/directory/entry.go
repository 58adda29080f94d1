package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/careledger/careledger/chaincode/model"
)

// Bounds on a profile's fields, in characters.
const (
	MaxNameRunes       = 100
	MaxProfessionRunes = 80
	MaxDepartmentRunes = 80
)

// Profile is what a clinician or their admin says about the clinician.
type Profile struct {
	// Name is the display name, e.g. "Dr Anna Weber".
	Name string `json:"name"`
	// Profession is the role the clinician practises, e.g. "internist" or "nurse".
	Profession string `json:"profession"`
	// Department is where in the organisation they work, e.g. "Cardiology"; may be empty.
	Department string `json:"department,omitempty"`
}

// Entry is one clinician in the directory.
type Entry struct {
	Pseudonym string `json:"pseudonym"`
	MSP       string `json:"msp"`
	Profile
	UpdatedAt time.Time `json:"updatedAt"`
}

// Sentinel errors callers branch on.
var (
	// ErrNotFound: no entry has that pseudonym (or the caller named no clinician).
	ErrNotFound = errors.New("no directory entry")
	// ErrForbidden: the caller may not read or write this entry.
	ErrForbidden = errors.New("not permitted by the directory")
	// ErrInvalid wraps a profile or argument that breaks the rules; its text says which.
	ErrInvalid = errors.New("invalid directory entry")
	// ErrCorrupt: a stored entry cannot be read back; only that entry is affected.
	ErrCorrupt = errors.New("corrupt directory entry")
)

// Check reports the first rule p breaks, wrapping ErrInvalid, after trimming spaces.
func (p *Profile) Check() error {
	p.Name = strings.TrimSpace(p.Name)
	p.Profession = strings.TrimSpace(p.Profession)
	p.Department = strings.TrimSpace(p.Department)
	for _, f := range []struct {
		field, value string
		max          int
		required     bool
	}{
		{"name", p.Name, MaxNameRunes, true},
		{"profession", p.Profession, MaxProfessionRunes, true},
		{"department", p.Department, MaxDepartmentRunes, false},
	} {
		if f.value == "" {
			if f.required {
				return fmt.Errorf("%w: %s is required", ErrInvalid, f.field)
			}
			continue
		}
		if !utf8.ValidString(f.value) || utf8.RuneCountInString(f.value) > f.max {
			return fmt.Errorf("%w: %s must be at most %d characters of text", ErrInvalid, f.field, f.max)
		}
		for _, r := range f.value {
			if !unicode.IsPrint(r) {
				return fmt.Errorf("%w: %s may not hold control or invisible characters", ErrInvalid, f.field)
			}
		}
	}
	return nil
}

// ParseProfile reads a profile from JSON: one object, no unknown fields, every rule of Check.
func ParseProfile(b []byte) (Profile, error) {
	var p Profile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return Profile{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if dec.More() {
		return Profile{}, fmt.Errorf("%w: more than one JSON value", ErrInvalid)
	}
	if err := p.Check(); err != nil {
		return Profile{}, err
	}
	return p, nil
}

// Member is the authenticated person asking, as their certificate says.
type Member struct {
	MSP       string
	Pseudonym string
	Role      model.Role
}

// mayRead reports whether m has a reason to look up clinicians.
func (m Member) mayRead() bool {
	switch m.Role {
	case model.RolePatient, model.RoleClinician, model.RoleAdmin:
		return true
	}
	return false
}
