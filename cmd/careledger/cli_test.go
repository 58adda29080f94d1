package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// cli runs careledger commands against a stack started in-process, as a user would in a second
// terminal.
type cli struct {
	t       *testing.T
	dataDir string
	api     string
}

func startCLIStack(t *testing.T) *cli {
	dir := t.TempDir()
	cfg := testStackConfig(dir)
	cfg.WalletPassword = []byte("wallet pass")
	s, err := startStack(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	require.NoError(t, s.serveAPI("127.0.0.1:0"))
	t.Setenv("CARELEDGER_WALLET_PASSPHRASE", "wallet pass")
	return &cli{t: t, dataDir: dir, api: "https://" + s.apiAddr}
}

func (c *cli) run(args ...string) (string, error) {
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	full := append([]string{"--data-dir", c.dataDir}, args...)
	if args[0] == "patient" || args[0] == "clinician" || args[0] == "manufacturer" || args[0] == "anonymizer" {
		full = append([]string{"--data-dir", c.dataDir, args[0], "--api", c.api}, args[1:]...)
	}
	root.SetArgs(full)
	err := root.Execute()
	return out.String(), err
}

func (c *cli) must(args ...string) string {
	c.t.Helper()
	out, err := c.run(args...)
	require.NoError(c.t, err, "careledger %s: %s", strings.Join(args, " "), out)
	return out
}

func (c *cli) jsonOf(v any, args ...string) {
	c.t.Helper()
	require.NoError(c.t, json.Unmarshal([]byte(c.must(append(args, "--json")...)), v))
}

func TestCLIWalksEachRolesStory(t *testing.T) {
	c := startCLIStack(t)
	var patient, doctor model.Caller
	c.jsonOf(&patient, "patient", "whoami")
	c.jsonOf(&doctor, "clinician", "whoami")
	require.Equal(t, model.RolePatient, patient.Role)

	lab := filepath.Join(t.TempDir(), "lab.json")
	require.NoError(t, os.WriteFile(lab, []byte(`{"resourceType":"Observation","status":"final","code":{"text":"Hb"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`), 0o600))
	var rec model.Record
	c.jsonOf(&rec, "patient", "upload", "--file", lab)
	require.Equal(t, "lab", rec.Category)

	_, err := c.run("clinician", "read", rec.ID)
	require.Error(t, err, "no grant yet")

	c.must("patient", "grant", "--to", doctor.ID, "--category", "lab", "--days", "30")
	require.Contains(t, c.must("clinician", "patients"), patient.ID)
	history := c.must("clinician", "history", patient.ID)
	require.Contains(t, history, rec.ID)
	require.Contains(t, c.must("clinician", "read", rec.ID), "Hb")

	var trail model.AccessPage
	require.Eventually(t, func() bool {
		c.jsonOf(&trail, "patient", "audit")
		return len(trail.Entries) >= 3
	}, 10e9, 50e6, "the clinician's reads, and the refused attempt before the grant, reach the patient's audit trail")
	require.Equal(t, doctor.ID, trail.Entries[0].Accessor.ID)
	require.Equal(t, model.BasisRefused, trail.Entries[0].Basis, "the read before the grant was refused")
	for _, e := range trail.Entries[1:] {
		require.Equal(t, model.AssuranceMemberSigned, e.Assurance, "the CLI signs every read with the clinician's own key")
	}
	table := c.must("patient", "audit")
	require.Contains(t, table, "SIGNED")
	require.Contains(t, table, "REFUSED: no-grant")
	require.Contains(t, table, "(clinician, Klinikum Musterstadt)", "organisations by their human names")
	require.Contains(t, table, model.AssuranceMemberSigned)

	var grants model.GrantPage
	c.jsonOf(&grants, "patient", "grants", "--active")
	require.Len(t, grants.Grants, 1)
	c.must("patient", "revoke", grants.Grants[0].ID)
	_, err = c.run("clinician", "read", rec.ID)
	require.ErrorContains(t, err, "revoked")

	// The manufacturer sees cohorts and nothing else.
	require.Equal(t, "no published cohorts\n", c.must("manufacturer", "cohorts"))
	root := newRoot()
	root.SetArgs([]string{"--data-dir", c.dataDir, "patient", "--api", c.api, "--as", "manufacturer", "records"})
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	require.Error(t, root.Execute(), "a manufacturer's identity is refused patients' records: %s", out.String())

	// A wrong passphrase unlocks nothing.
	t.Setenv("CARELEDGER_WALLET_PASSPHRASE", "wrong")
	_, err = c.run("patient", "whoami")
	require.Error(t, err)
}

func TestCLIDelegateManagesGrantsForThePatient(t *testing.T) {
	c := startCLIStack(t)
	c.must("admin", "enrol", "--role", "patient", "--label", "daughter")
	var patient, daughter, doctor model.Caller
	c.jsonOf(&patient, "patient", "whoami")
	c.jsonOf(&daughter, "patient", "whoami", "--as", "daughter")
	c.jsonOf(&doctor, "clinician", "whoami")

	_, err := c.run("patient", "grant", "--as", "daughter", "--for", patient.ID, "--to", doctor.ID, "--category", "lab")
	require.Error(t, err, "not a delegate yet")

	c.must("patient", "delegate", "add", daughter.ID, "--days", "30")
	require.Contains(t, c.must("patient", "delegate", "list"), daughter.ID)
	c.must("patient", "grant", "--as", "daughter", "--for", patient.ID, "--to", doctor.ID, "--category", "lab")
	var grants model.GrantPage
	c.jsonOf(&grants, "patient", "grants", "--active")
	require.Len(t, grants.Grants, 1)
	require.Equal(t, daughter.ID, grants.Grants[0].GrantedBy.ID, "the ledger records who granted on the patient's behalf")

	c.must("patient", "delegate", "remove", daughter.ID)
	_, err = c.run("patient", "grant", "--as", "daughter", "--for", patient.ID, "--to", doctor.ID, "--category", "note")
	require.Error(t, err, "the delegation was withdrawn")
}
