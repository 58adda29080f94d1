package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestCommandLines runs command lines as a user types them and checks exit code, stdout and
// stderr: mistakes are caught before the wallet is unlocked, errors are printed once, and
// nothing succeeds silently.
func TestCommandLines(t *testing.T) {
	c := startCLIStack(t)
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	pdf := file("scan.pdf", "%PDF-1.7 a scanned letter")
	notJSON := file("note.txt", "blood pressure fine")
	invalidFHIR := file("obs.json", `{"resourceType":"Observation"}`)
	lab := file("lab.json", `{"resourceType":"Observation","status":"final","code":{"text":"Hb"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`)
	var rec model.Record
	c.jsonOf(&rec, "patient", "upload", "--file", lab)
	readOut := filepath.Join(dir, "read.json")
	role := []string{"--api", c.api} // after the role's name

	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string // each must appear; "=" + text: stdout is exactly text
		stderr []string
		// unlocks says whether the wallet may be unlocked: local mistakes must not cost
		// the passphrase's key derivation.
		unlocks bool
	}{
		{name: "unknown role subcommand", args: []string{"patient", "grnats"}, code: 1,
			stderr: []string{`unknown command "grnats" for "careledger patient"`, "Did you mean this?", "grants"}},
		{name: "unknown nested subcommand", args: []string{"patient", "delegate", "ad", "x"}, code: 1,
			stderr: []string{`unknown command "ad" for "careledger patient delegate"`, "add"}},
		{name: "unknown agent subcommand", args: []string{"agent", "stpo"}, code: 1, stderr: []string{`unknown command "stpo"`, "stop"}},
		{name: "unknown ledger subcommand", args: []string{"ledger", "verfy"}, code: 1, stderr: []string{"verify"}},
		{name: "unknown top-level command", args: []string{"patinet"}, code: 1, stderr: []string{`unknown command "patinet"`, "patient"}},
		{name: "a group alone shows its help", args: []string{"patient"}, code: 0, stdout: []string{"Available Commands:", "grants"}},
		{name: "enroll is enrol", args: []string{"admin", "enroll", "--help"}, code: 0, stdout: []string{"Aliases:\n  enrol, enroll"}},
		{name: "missing file", args: []string{"patient", "upload", "--file", filepath.Join(dir, "missing.json")}, code: 1,
			stderr: []string{"missing.json: no such file"}},
		{name: "PDF without --type", args: []string{"patient", "upload", "--file", pdf}, code: 1,
			stderr: []string{"is a PDF, not FHIR JSON", "--type application/pdf --category document"}},
		{name: "not JSON", args: []string{"patient", "upload", "--file", notJSON}, code: 1, stderr: []string{"is not JSON"}},
		{name: "document without category", args: []string{"patient", "upload", "--file", pdf, "--type", "application/pdf"}, code: 1,
			stderr: []string{"a document needs --category"}},
		{name: "a Bundle stores one record per entry, each printed", args: []string{"patient", "upload", "--file", "../../docs/examples/fhir/patient-bundle.json"}, code: 0, unlocks: true,
			stdout: []string{"demographics", "medication", "diagnosis", "document"}},
		{name: "unknown category", args: []string{"patient", "upload", "--file", lab, "--category", "labs"}, code: 1, stderr: []string{`--category "labs"`}},
		{name: "grant to nobody", args: []string{"patient", "grant", "--category", "lab"}, code: 1, stderr: []string{"--to <pseudonym> or --org"}},
		{name: "erase unconfirmed", args: []string{"patient", "erase"}, code: 1, stderr: []string{`--confirm "erase everything"`}},
		{name: "emergency too long", args: []string{"clinician", "emergency", "p", "--reason", "other-emergency", "--minutes", "5000"}, code: 1,
			stderr: []string{"--minutes 5000"}},
		{name: "download of an unknown kind", args: []string{"manufacturer", "download", "c1", "-o", filepath.Join(dir, "x.txt")}, code: 1,
			stderr: []string{"say which file with --file"}},
		{name: "read into a missing directory", args: []string{"patient", "read", rec.ID, "-o", filepath.Join(dir, "no", "such", "dir", "x.json")}, code: 1,
			stderr: []string{"no such file or directory"}},
		{name: "invalid FHIR: the server's error once, each element on its line", args: []string{"patient", "upload", "--file", invalidFHIR}, code: 1, unlocks: true,
			stderr: []string{"careledger: 422 INVALID_CONTENT: invalid record content: Observation.", "\n  Observation.", "(request "}},
		{name: "no grants in words", args: []string{"patient", "grants"}, code: 0, unlocks: true, stdout: []string{"=no grants\n"}},
		{name: "no patients in words", args: []string{"clinician", "patients"}, code: 0, unlocks: true, stdout: []string{"=no patients have granted you access\n"}},
		{name: "no cohorts in words", args: []string{"manufacturer", "cohorts"}, code: 0, unlocks: true, stdout: []string{"=no published cohorts\n"}},
		{name: "read -o says what it wrote", args: []string{"patient", "read", rec.ID, "-o", readOut}, code: 0, unlocks: true,
			stdout: []string{"="}, stderr: []string{"wrote " + readOut + ": record " + rec.ID + " version 1", "application/fhir+json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"--data-dir", c.dataDir}, tc.args...)
			if r := tc.args[0]; r == "patient" || r == "clinician" || r == "manufacturer" {
				args = append(append([]string{"--data-dir", c.dataDir, r}, role...), tc.args[1:]...)
			}
			var stdout, stderr bytes.Buffer
			before := walletUnlocks.Load()
			code := execute(context.Background(), args, &stdout, &stderr)
			require.Equal(t, tc.code, code, "stdout: %s\nstderr: %s", stdout.String(), stderr.String())
			for _, want := range tc.stdout {
				if exact, ok := strings.CutPrefix(want, "="); ok {
					require.Equal(t, exact, stdout.String())
				} else {
					require.Contains(t, stdout.String(), want)
				}
			}
			for _, want := range tc.stderr {
				require.Contains(t, stderr.String(), want)
			}
			if tc.code != 0 {
				require.Equal(t, 1, strings.Count(stderr.String(), "careledger:"), "an error is printed once: %s", stderr.String())
			}
			require.Equal(t, 1, max(strings.Count(stderr.String(), "invalid record content"), 1), "said once: %s", stderr.String())
			if !tc.unlocks {
				require.Equal(t, before, walletUnlocks.Load(), "a local mistake is reported before the wallet is unlocked")
			}
		})
	}
	b, err := os.ReadFile(readOut)
	require.NoError(t, err)
	require.Contains(t, string(b), `"Hb"`)
}
