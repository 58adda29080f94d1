package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestResearchToManufacturerThroughTheCLI(t *testing.T) {
	c := startCLIStack(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	var ids []string
	for i := 0; i < 6; i++ {
		label := fmt.Sprintf("p%d", i)
		c.must("admin", "enrol", "--role", "patient", "--label", label)
		var me model.Caller
		c.jsonOf(&me, "patient", "whoami", "--as", label)
		ids = append(ids, me.ID)
		sex := []string{"female", "male"}[i%2]
		c.must("patient", "upload", "--as", label, "--file", write(label+"-demo.json",
			fmt.Sprintf(`{"resourceType":"Patient","gender":%q,"birthDate":"1961-0%d-15","address":[{"postalCode":"1011%d"}]}`, sex, 1+i, i%2)))
		c.must("patient", "upload", "--as", label, "--file", write(label+"-cond.json",
			`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"E11.9"}]},"subject":{"reference":"Patient/`+me.ID+`"}}`))
		if i < 5 {
			c.must("patient", "research", "--as", label, "--opt-in", "--purpose", "drug-safety")
		}
	}

	_, err := c.run("patient", "--as", "p0", "records") // sanity: flags before the subcommand work too
	require.NoError(t, err)
	_, err = c.run("anonymizer", "publish", "--purpose", "drug-safety", "--k", "50")
	require.ErrorContains(t, err, "COHORT_REFUSED")

	var co model.Cohort
	c.jsonOf(&co, "anonymizer", "publish", "--purpose", "drug-safety", "--k", "2", "--suppression", "0.5", "--id", "cohort-cli")
	require.Equal(t, 5, co.Publication.RowCount+co.Publication.SuppressedRows, "the five consenting patients, not the sixth")

	require.Contains(t, c.must("manufacturer", "cohorts"), "cohort-cli")
	out := filepath.Join(dir, "cohort.csv")
	c.must("manufacturer", "download", "cohort-cli", "-o", out)
	data, err := os.ReadFile(out)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	require.Equal(t, co.Publication.DatasetHash, hex.EncodeToString(sum[:]), "what is served is what the ledger names")
	for _, id := range ids {
		require.NotContains(t, string(data), id, "no pseudonym reaches a manufacturer")
	}
	q := c.must("manufacturer", "query", "cohort-cli", "--by", "sex")
	require.Contains(t, q, "cells suppressed", "small cells are withheld, and the output says so")
	require.True(t, strings.Contains(q, "COUNT") || strings.Contains(q, "count"))

	_, err = c.run("anonymizer", "publish", "--as", "patient", "--purpose", "drug-safety", "--k", "2")
	require.Error(t, err, "only the anonymiser publishes")

	// An extract: the consenting diabetics, with age, sex and a diagnosis flag.
	_, err = c.run("anonymizer", "publish", "--purpose", "drug-safety", "--k", "2", "--definition",
		write("bad.json", `{"version":1,"variables":[{"name":"dm","condition":{"codes":["diabetes"]}}]}`))
	require.ErrorContains(t, err, "definition.variables[0].condition.codes[0]")
	var ex model.Cohort
	c.jsonOf(&ex, "anonymizer", "publish", "--purpose", "drug-safety", "--k", "2", "--suppression", "0.5", "--id", "extract-cli", "--definition",
		write("extract.json", `{"version":1,"cohort":{"version":1,"include":[{"condition":"E11"}]},
		"variables":[{"name":"age","age":{}},{"name":"sex","sex":{}},{"name":"diabetes","condition":{"codes":["E10-E14"]}}]}`))
	require.Equal(t, 5, ex.Publication.RowCount+ex.Publication.SuppressedRows)
	require.Len(t, ex.Publication.QueryHash, 64, "the extract's definition is named on the ledger")
	require.ElementsMatch(t, []string{"age", "sex", "diabetes"}, ex.Publication.QuasiIdentifiers)
}
