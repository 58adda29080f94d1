package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	bolt "go.etcd.io/bbolt"
)

// Org is one organisation as the directory shows it.
type Org struct {
	// Name is the organisation's human name, e.g. "Klinikum Musterstadt".
	Name string
	// Clinicians says the organisation employs clinicians; only such organisations have
	// entries, so a patient's pseudonym can never be given a name here.
	Clinicians bool
}

// DefaultOrgs are the names `careledger up` gives the default consortium.
func DefaultOrgs() map[string]Org {
	return map[string]Org{
		"PatientsMSP": {Name: "CareLedger Trust Centre"},
		"ClinicMSP":   {Name: "Klinikum Musterstadt", Clinicians: true},
		"PharmaMSP":   {Name: "Pharma Research GmbH"},
	}
}

// Directory is the clinician directory in a bbolt file, one bucket per organisation. It is
// safe for concurrent use.
type Directory struct {
	db   *bolt.DB
	orgs map[string]Org
	now  func() time.Time
}

// Option configures a Directory.
type Option func(*Directory)

// WithClock sets the clock that stamps entries (default time.Now).
func WithClock(now func() time.Time) Option { return func(d *Directory) { d.now = now } }

// Open opens (or creates) the directory at path, e.g. <data-dir>/directory/directory.db. The
// caller closes it.
func Open(path string, orgs map[string]Org, opts ...Option) (*Directory, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open directory: %w", err)
	}
	// A second process on the same file waits a little, then gets an error, never a hang.
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open directory %s: %w", path, err)
	}
	d := &Directory{db: db, orgs: map[string]Org{}, now: time.Now}
	for id, o := range orgs {
		d.orgs[id] = o
	}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Close closes the store.
func (d *Directory) Close() error { return d.db.Close() }

// OrgName is the human name of an organisation, or the MSP ID when none is configured.
func (d *Directory) OrgName(msp string) string {
	if o, ok := d.orgs[msp]; ok && o.Name != "" {
		return o.Name
	}
	return msp
}

// Orgs returns the configured organisations by MSP ID (a copy).
func (d *Directory) Orgs() map[string]Org {
	out := make(map[string]Org, len(d.orgs))
	for id, o := range d.orgs {
		out[id] = o
	}
	return out
}

// Put writes the entry for pseudonym. A clinician writes their own entry (enrollmentID
// empty); an admin writes an entry of their own organisation, naming the member by
// enrollmentID, from which the pseudonym must follow. Anyone else gets ErrForbidden.
func (d *Directory) Put(ctx context.Context, by Member, pseudonym, enrollmentID string, p Profile) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !model.ValidPseudonym(pseudonym) {
		return nil, fmt.Errorf("%w: a pseudonym is 32 lowercase hex digits", ErrInvalid)
	}
	if err := p.Check(); err != nil {
		return nil, err
	}
	switch by.Role {
	case model.RoleClinician:
		if pseudonym != by.Pseudonym || enrollmentID != "" {
			return nil, fmt.Errorf("put directory entry: %w: a clinician may write only their own entry", ErrForbidden)
		}
	case model.RoleAdmin:
		if enrollmentID == "" || model.PseudonymFor(by.MSP, enrollmentID) != pseudonym {
			return nil, fmt.Errorf("put directory entry: %w: an admin names a member of their own organisation by enrollment ID", ErrForbidden)
		}
	default:
		return nil, fmt.Errorf("put directory entry: %w: role %q may not write the directory", ErrForbidden, by.Role)
	}
	if !d.orgs[by.MSP].Clinicians {
		return nil, fmt.Errorf("put directory entry: %w: %s is not configured as employing clinicians", ErrForbidden, by.MSP)
	}
	e := Entry{Pseudonym: pseudonym, MSP: by.MSP, Profile: p, UpdatedAt: d.now().UTC()}
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("put directory entry: %w", err)
	}
	err = d.db.Update(func(tx *bolt.Tx) error {
		// A pseudonym belongs to one organisation: drop a stale copy under another.
		for id := range d.orgs {
			if bk := tx.Bucket([]byte(id)); bk != nil && id != by.MSP {
				if err := bk.Delete([]byte(pseudonym)); err != nil {
					return err
				}
			}
		}
		bk, err := tx.CreateBucketIfNotExists([]byte(by.MSP))
		if err != nil {
			return err
		}
		return bk.Put([]byte(pseudonym), b)
	})
	if err != nil {
		return nil, fmt.Errorf("put directory entry: %w", err)
	}
	return &e, nil
}

// Get returns the entry for pseudonym to a member who may read the directory.
func (d *Directory) Get(ctx context.Context, by Member, pseudonym string) (*Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !by.mayRead() {
		return nil, fmt.Errorf("get directory entry: %w: role %q may not read the directory", ErrForbidden, by.Role)
	}
	return d.lookup(pseudonym)
}

// Lookup returns the entries it finds among pseudonyms, for a page that names several people
// at once (a patient's grants). Unknown, malformed and unreadable ones are left out: one bad
// entry degrades that name, not the page.
func (d *Directory) Lookup(ctx context.Context, by Member, pseudonyms []string) (map[string]Entry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !by.mayRead() {
		return nil, fmt.Errorf("look up directory entries: %w: role %q may not read the directory", ErrForbidden, by.Role)
	}
	out := map[string]Entry{}
	for _, p := range pseudonyms {
		if e, err := d.lookup(p); err == nil {
			out[p] = *e
		}
	}
	return out, nil
}

// Delete removes the entry for pseudonym; who may is as for Put. Deleting an absent entry is
// not an error.
func (d *Directory) Delete(ctx context.Context, by Member, pseudonym, enrollmentID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	switch {
	case by.Role == model.RoleClinician && pseudonym == by.Pseudonym && enrollmentID == "":
	case by.Role == model.RoleAdmin && enrollmentID != "" && model.PseudonymFor(by.MSP, enrollmentID) == pseudonym:
	default:
		return fmt.Errorf("delete directory entry: %w", ErrForbidden)
	}
	err := d.db.Update(func(tx *bolt.Tx) error {
		if bk := tx.Bucket([]byte(by.MSP)); bk != nil {
			return bk.Delete([]byte(pseudonym))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete directory entry: %w", err)
	}
	return nil
}

func (d *Directory) lookup(pseudonym string) (*Entry, error) {
	if !model.ValidPseudonym(pseudonym) {
		return nil, ErrNotFound
	}
	var e *Entry
	err := d.db.View(func(tx *bolt.Tx) error {
		for id := range d.orgs {
			bk := tx.Bucket([]byte(id))
			if bk == nil {
				continue
			}
			b := bk.Get([]byte(pseudonym))
			if b == nil {
				continue
			}
			var got Entry
			if err := json.Unmarshal(b, &got); err != nil || got.Pseudonym != pseudonym || got.MSP != id || got.Check() != nil {
				return fmt.Errorf("%w: %s", ErrCorrupt, id)
			}
			e = &got
			return nil
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("get directory entry: %w", err)
	}
	if e == nil {
		return nil, ErrNotFound
	}
	return e, nil
}
