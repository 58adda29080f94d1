package directory_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func open(t *testing.T, path string) *directory.Directory {
	t.Helper()
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	d, err := directory.Open(path, directory.DefaultOrgs(), directory.WithClock(func() time.Time { return at }))
	require.NoError(t, err)
	return d
}

var (
	clinician = directory.Member{MSP: "ClinicMSP", Pseudonym: model.PseudonymFor("ClinicMSP", "c-1001"), Role: model.RoleClinician}
	colleague = directory.Member{MSP: "ClinicMSP", Pseudonym: model.PseudonymFor("ClinicMSP", "c-1002"), Role: model.RoleClinician}
	admin     = directory.Member{MSP: "ClinicMSP", Pseudonym: model.PseudonymFor("ClinicMSP", "admin"), Role: model.RoleAdmin}
	patient   = directory.Member{MSP: "PatientsMSP", Pseudonym: model.PseudonymFor("PatientsMSP", "9f2c1e"), Role: model.RolePatient}
	opAdmin   = directory.Member{MSP: "PatientsMSP", Pseudonym: model.PseudonymFor("PatientsMSP", "admin"), Role: model.RoleAdmin}
	maker     = directory.Member{MSP: "PharmaMSP", Pseudonym: model.PseudonymFor("PharmaMSP", "m1"), Role: model.RoleManufacturer}
	anon      = directory.Member{MSP: "PatientsMSP", Pseudonym: model.PseudonymFor("PatientsMSP", "anonymizer"), Role: model.RoleAnonymizer}
	weber     = directory.Profile{Name: "Dr Anna Weber", Profession: "internist", Department: "Cardiology"}
)

// TestWhoMayWrite: a clinician their own entry, an admin their organisation's members by
// enrollment ID; nobody else, and never a patient's pseudonym.
func TestWhoMayWrite(t *testing.T) {
	ctx := context.Background()
	d := open(t, filepath.Join(t.TempDir(), "directory.db"))
	defer d.Close()
	cases := []struct {
		name         string
		by           directory.Member
		pseudonym    string
		enrollmentID string
		ok           bool
	}{
		{"clinician, own entry", clinician, clinician.Pseudonym, "", true},
		{"clinician, a colleague's entry", clinician, colleague.Pseudonym, "", false},
		{"clinician naming an enrollment ID", clinician, colleague.Pseudonym, "c-1002", false},
		{"admin, a member by enrollment ID", admin, colleague.Pseudonym, "c-1002", true},
		{"admin, pseudonym and enrollment ID disagree", admin, clinician.Pseudonym, "c-1002", false},
		{"admin, no enrollment ID", admin, colleague.Pseudonym, "", false},
		{"admin, another organisation's member", admin, patient.Pseudonym, "9f2c1e", false},
		{"operator's admin naming a patient", opAdmin, patient.Pseudonym, "9f2c1e", false},
		{"patient, own pseudonym", patient, patient.Pseudonym, "", false},
		{"manufacturer", maker, maker.Pseudonym, "", false},
		{"anonymiser", anon, anon.Pseudonym, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := d.Put(ctx, c.by, c.pseudonym, c.enrollmentID, weber)
			if !c.ok {
				require.ErrorIs(t, err, directory.ErrForbidden)
				return
			}
			require.NoError(t, err)
			require.Equal(t, "ClinicMSP", e.MSP)
			require.Equal(t, c.pseudonym, e.Pseudonym)
		})
	}
	_, err := d.Get(ctx, patient, patient.Pseudonym)
	require.ErrorIs(t, err, directory.ErrNotFound, "no patient ever has an entry")
}

// TestWhoMayRead: patients, clinicians and admins by exact pseudonym; manufacturers and the
// anonymiser never; a patient's pseudonym looks like any unknown one.
func TestWhoMayRead(t *testing.T) {
	ctx := context.Background()
	d := open(t, filepath.Join(t.TempDir(), "directory.db"))
	defer d.Close()
	_, err := d.Put(ctx, clinician, clinician.Pseudonym, "", weber)
	require.NoError(t, err)
	for _, by := range []directory.Member{patient, colleague, admin, opAdmin} {
		e, err := d.Get(ctx, by, clinician.Pseudonym)
		require.NoError(t, err, by.Role)
		require.Equal(t, weber, e.Profile)
	}
	for _, by := range []directory.Member{maker, anon, {MSP: "ClinicMSP", Role: model.RoleGateway}, {MSP: "ClinicMSP"}} {
		_, err := d.Get(ctx, by, clinician.Pseudonym)
		require.ErrorIs(t, err, directory.ErrForbidden, by.Role)
		_, err = d.Lookup(ctx, by, []string{clinician.Pseudonym})
		require.ErrorIs(t, err, directory.ErrForbidden, by.Role)
	}
	for _, p := range []string{patient.Pseudonym, colleague.Pseudonym, "not-a-pseudonym", strings.Repeat("0", 32)} {
		_, err := d.Get(ctx, patient, p)
		require.ErrorIs(t, err, directory.ErrNotFound, p)
	}
	got, err := d.Lookup(ctx, patient, []string{clinician.Pseudonym, colleague.Pseudonym, "x"})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, "Dr Anna Weber", got[clinician.Pseudonym].Name)
}

// TestEntriesSurviveReopenAndCorruptionIsLocal: the store is durable, a corrupt entry is an
// integrity error for that entry alone, and a deleted entry is gone.
func TestEntriesSurviveReopenAndCorruptionIsLocal(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "directory.db")
	d := open(t, path)
	_, err := d.Put(ctx, clinician, clinician.Pseudonym, "", weber)
	require.NoError(t, err)
	_, err = d.Put(ctx, colleague, colleague.Pseudonym, "", directory.Profile{Name: "Jonas Klein", Profession: "nurse"})
	require.NoError(t, err)
	require.NoError(t, d.Close())

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket([]byte("ClinicMSP")).Put([]byte(colleague.Pseudonym), []byte(`{"pseudonym":"`+colleague.Pseudonym+`","msp":"PharmaMSP","name":"Mallory"}`))
	}))
	require.NoError(t, db.Close())

	d = open(t, path)
	defer d.Close()
	e, err := d.Get(ctx, patient, clinician.Pseudonym)
	require.NoError(t, err)
	require.Equal(t, "Cardiology", e.Department)
	require.Equal(t, time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC), e.UpdatedAt)
	_, err = d.Get(ctx, patient, colleague.Pseudonym)
	require.ErrorIs(t, err, directory.ErrCorrupt)
	got, err := d.Lookup(ctx, patient, []string{clinician.Pseudonym, colleague.Pseudonym})
	require.NoError(t, err)
	require.Len(t, got, 1, "the corrupt entry is left out, the good one shown")

	require.ErrorIs(t, d.Delete(ctx, patient, clinician.Pseudonym, ""), directory.ErrForbidden)
	require.NoError(t, d.Delete(ctx, clinician, clinician.Pseudonym, ""))
	_, err = d.Get(ctx, patient, clinician.Pseudonym)
	require.ErrorIs(t, err, directory.ErrNotFound)
}

func TestProfileRules(t *testing.T) {
	cases := []struct {
		name, body, mentions string
	}{
		{"no name", `{"profession":"nurse"}`, "name is required"},
		{"no profession", `{"name":"A"}`, "profession is required"},
		{"long name", `{"name":"` + strings.Repeat("a", 101) + `","profession":"nurse"}`, "at most 100"},
		{"control character", `{"name":"A\u0007","profession":"nurse"}`, "control"},
		{"bidi override", `{"name":"A\u202eB","profession":"nurse"}`, "invisible"},
		{"unknown field", `{"name":"A","profession":"nurse","patients":[]}`, "unknown field"},
		{"two values", `{"name":"A","profession":"nurse"}{}`, "more than one"},
		{"not JSON", `name=A`, "invalid"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := directory.ParseProfile([]byte(c.body))
			require.ErrorIs(t, err, directory.ErrInvalid)
			require.Contains(t, err.Error(), c.mentions)
		})
	}
	p, err := directory.ParseProfile([]byte(`{"name":"  Dr Anna Weber ","profession":"internist"}`))
	require.NoError(t, err)
	require.Equal(t, "Dr Anna Weber", p.Name)
}

// FuzzParseProfile: no input crashes the parser, and whatever it accepts keeps every rule.
func FuzzParseProfile(f *testing.F) {
	f.Add([]byte(`{"name":"Dr Anna Weber","profession":"internist","department":"Cardiology"}`))
	f.Add([]byte(`{"name":"A\u202e","profession":"x"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := directory.ParseProfile(b)
		if err != nil {
			return
		}
		again := p
		require.NoError(t, again.Check())
		require.Equal(t, p, again, "an accepted profile is already in its checked form")
		require.NotEmpty(t, p.Name)
		require.NotEmpty(t, p.Profession)
	})
}

func ExampleEntry_FHIR() {
	e := directory.Entry{Pseudonym: "b9f6bb5d1356a98daaea83bd3cc11b00", MSP: "ClinicMSP", Profile: weber}
	r := e.FHIR("Klinikum Musterstadt")
	fmt.Println(r.PractitionerRole["code"], r.Organization["name"])
	// Output: [map[text:internist]] Klinikum Musterstadt
}

// TestOrganisationsFile: the first start writes the defaults, an operator's edit is read back,
// and a broken file is an error.
func TestOrganisationsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "directory", "organisations.json")
	orgs, err := directory.LoadOrgs(path, directory.DefaultOrgs())
	require.NoError(t, err)
	require.Equal(t, directory.DefaultOrgs(), orgs)
	require.NoError(t, os.WriteFile(path, []byte(`{"ClinicMSP":{"name":"St. Elisabeth","clinicians":true}}`), 0o600))
	orgs, err = directory.LoadOrgs(path, directory.DefaultOrgs())
	require.NoError(t, err)
	require.Equal(t, map[string]directory.Org{"ClinicMSP": {Name: "St. Elisabeth", Clinicians: true}}, orgs)
	for _, bad := range []string{`{"ClinicMSP":`, `{"Clinic MSP":{"name":"x"}}`, `{"ClinicMSP":{"name":""}}`} {
		require.NoError(t, os.WriteFile(path, []byte(bad), 0o600))
		_, err = directory.LoadOrgs(path, directory.DefaultOrgs())
		require.Error(t, err, bad)
	}
}
