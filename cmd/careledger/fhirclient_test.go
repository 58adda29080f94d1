package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/fhir/conformance"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestAnIndependentFHIRClientWalksTheInterface runs fhir-kit-client, a FHIR client that is
// not CareLedger's, against a real `up` stack, as a clinic system would connect: with an
// identity exported as PEM files and the API's CA. It creates records in a transaction,
// searches and pages, reads, updates, vreads, pulls $everything, is refused an invalid
// resource with a 422 naming the element, and, as the patient, reads her Consents and her
// AuditEvents; every response it receives must be valid FHIR R4 by the official JSON
// schema (app-api/fhir/conformance/node/clinic.mjs).
func TestAnIndependentFHIRClientWalksTheInterface(t *testing.T) {
	npm := conformance.Require(t)
	c := startCLIStack(t)
	var patient, doctor model.Caller
	c.jsonOf(&patient, "patient", "whoami")
	c.jsonOf(&doctor, "clinician", "whoami")
	c.must("patient", "upload", "--file", filepath.Join("..", "..", "docs", "examples", "fhir", "patient.json"))
	c.must("patient", "grant", "--to", doctor.ID, "--category", "demographics,lab,vital-signs,medication", "--append", "--days", "1")

	dir := t.TempDir()
	identity := func(label string) map[string]string {
		msp := filepath.Join(dir, label)
		c.must("admin", "export-msp", "--label", label, "--dir", msp)
		keys, err := filepath.Glob(filepath.Join(msp, "keystore", "*_sk"))
		require.NoError(t, err)
		require.Len(t, keys, 1)
		return map[string]string{"cert": filepath.Join(msp, "signcerts", "cert.pem"), "key": keys[0]}
	}
	caFile, _, _ := apiTLSFiles(c.dataDir)
	config, err := json.Marshal(map[string]any{
		"npmDir": npm, "base": c.api + "/fhir", "ca": caFile,
		"clinician": identity("clinician"), "patient": identity("patient"), "patientId": patient.ID,
		"bundle": filepath.Join("..", "..", "docs", "examples", "fhir", "transaction-bundle.json"),
	})
	require.NoError(t, err)
	configFile := filepath.Join(dir, "clinic.json")
	require.NoError(t, os.WriteFile(configFile, config, 0o600))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", conformance.Script("clinic.mjs"), configFile).CombinedOutput()
	require.NoError(t, err, "fhir-kit-client's walk through /fhir:\n%s", out)
	t.Logf("fhir-kit-client:\n%s", out)
}
