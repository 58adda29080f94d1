package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestNoPersonalDataReachesTheLedgerOrTheStore runs the user stories with records full of
// personal data, then reads every byte of the ledger (blocks, state, history, indexes) and of
// the record store and finds none of it: the ledger holds hashes and pseudonyms, the store
// ciphertext.
func TestNoPersonalDataReachesTheLedgerOrTheStore(t *testing.T) {
	c := startCLIStack(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	var patient, doctor model.Caller
	c.jsonOf(&patient, "patient", "whoami")
	c.jsonOf(&doctor, "clinician", "whoami")
	personal := []string{"Josephine", "Quaglietti", "1961-04-15", "221B Baker Street", "Marylebone", "NW1 6XE", "+44 20 7946 0958",
		"metastatic", "Type 2 diabetes mellitus with kidney complications"}
	c.must("patient", "upload", "--file", write("patient.json", `{"resourceType":"Patient","name":[{"family":"Quaglietti","given":["Josephine"]}],`+
		`"gender":"female","birthDate":"1961-04-15","telecom":[{"system":"phone","value":"+44 20 7946 0958"}],`+
		`"address":[{"line":["221B Baker Street"],"city":"Marylebone","postalCode":"NW1 6XE"}]}`))
	cond := c.must("patient", "upload", "--json", "--file", write("cond.json", `{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11.2"}],`+
		`"text":"Type 2 diabetes mellitus with kidney complications"},"subject":{"reference":"Patient/`+patient.ID+`"},"note":[{"text":"metastatic? re-check"}]}`))
	require.Contains(t, cond, "diagnosis")
	c.must("patient", "upload", "--file", write("letter.txt", "Dear Josephine Quaglietti, born 1961-04-15, ..."), "--type", "text/plain", "--category", "document")
	c.must("patient", "grant", "--to", doctor.ID, "--category", "diagnosis,document,note", "--days", "7")
	history := c.must("clinician", "history", patient.ID)
	require.Contains(t, history, "Diagnosis: Type 2 diabetes mellitus", "the clinician does read the content")
	c.must("patient", "research", "--opt-in", "--purpose", "drug-safety")
	c.must("patient", "audit")

	scan := func(root string) int {
		files := 0
		require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			require.NoError(t, err)
			if d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			files++
			for _, s := range personal {
				require.False(t, bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(s))), "%q found in %s", s, p)
			}
			return nil
		}))
		return files
	}
	require.Positive(t, scan(filepath.Join(c.dataDir, "network", "ledger")), "the ledger files were scanned")
	require.Positive(t, scan(filepath.Join(c.dataDir, "records")), "the record store was scanned")

	// Positive control: the scan reads raw bytes, so it finds what the ledger does hold in the
	// clear, such as the patient's pseudonym.
	found := false
	filepath.WalkDir(filepath.Join(c.dataDir, "network", "ledger"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			found = found || bytes.Contains(b, []byte(patient.ID))
		}
		return nil
	})
	require.True(t, found, "the scan would have found personal data had it been there")
}
