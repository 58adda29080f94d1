package main

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestFeasibilityThroughTheCLI(t *testing.T) {
	c := startCLIStack(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
		return p
	}
	// Four patients with type 2 diabetes and one with asthma; all but the last consent.
	for i, icd := range []string{"E11.9", "E11.65", "E11.9", "J45.9", "E11.9"} {
		label := fmt.Sprintf("f%d", i)
		c.must("admin", "enrol", "--role", "patient", "--label", label)
		var me model.Caller
		c.jsonOf(&me, "patient", "whoami", "--as", label)
		c.must("patient", "upload", "--as", label, "--file", write(label+"-demo.json", `{"resourceType":"Patient","gender":"female","birthDate":"1961-03-15"}`))
		c.must("patient", "upload", "--as", label, "--file", write(label+"-cond.json",
			`{"resourceType":"Condition","code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":"`+icd+`"}]},"onsetDateTime":"2020-01-01","subject":{"reference":"Patient/`+me.ID+`"}}`))
		if i < 4 {
			c.must("patient", "research", "--as", label, "--opt-in", "--purpose", "drug-safety")
		}
	}
	crit := write("t2dm.json", `{"version":1,"include":[{"condition":"E11"},{"age":{"min":40}}]}`)

	var a client.FeasibilityAnswer
	c.jsonOf(&a, "manufacturer", "feasibility", "--criteria", crit, "--purpose", "drug-safety", "--rounding", "1", "--threshold", "0")
	require.Equal(t, 3, a.Count, "three consenting patients with E11; the fourth never consented")
	require.Equal(t, demoBudgetQueries-1, a.RemainingQueries, "up gives a demo budget")

	c.must("patient", "research", "--as", "f0", "--opt-out")
	c.jsonOf(&a, "manufacturer", "feasibility", "--criteria", crit, "--purpose", "drug-safety", "--rounding", "1", "--threshold", "0")
	require.Equal(t, 2, a.Count, "withdrawal is honoured in the next answer")

	c.jsonOf(&a, "manufacturer", "feasibility", "--criteria", crit, "--purpose", "drug-safety")
	require.True(t, a.Withheld, "2, rounded to tens, is below the default threshold")
	require.Contains(t, c.must("manufacturer", "feasibility", "--criteria", crit, "--purpose", "drug-safety", "--epsilon", "0.5"), "laplace+rounding")

	var b model.PrivacyBudget
	c.jsonOf(&b, "manufacturer", "budget", "--purpose", "drug-safety")
	require.Equal(t, 4, b.Queries)
	require.InDelta(t, 0.5, b.SpentEpsilon, 1e-9)

	// The trust centre's admin lowers the budget below what is spent: the next query is
	// refused, and nothing more is recorded.
	c.must("admin", "budget", "--api", c.api, "--org", "PharmaMSP", "--purpose", "drug-safety", "--epsilon", "0.5", "--queries", "4")
	_, err := c.run("manufacturer", "feasibility", "--criteria", crit, "--purpose", "drug-safety")
	require.ErrorContains(t, err, "BUDGET_EXHAUSTED")
	_, err = c.run("admin", "budget", "--api", c.api, "--as", "manufacturer", "--org", "PharmaMSP", "--purpose", "drug-safety", "--queries", "1000")
	require.ErrorContains(t, err, "FORBIDDEN", "a manufacturer cannot raise its own budget")

	var log model.DisclosurePage
	c.jsonOf(&log, "patient", "disclosures", "--as", "f3")
	require.Len(t, log.Disclosures, 4)
	require.Empty(t, log.Disclosures[0].Answer.Requester.ID, "patients see which organisation, not which staff member")

	_, err = c.run("patient", "feasibility", "--criteria", crit, "--purpose", "drug-safety")
	require.Error(t, err)
	bad := write("bad.json", `{"version":1,"include":[{"condition":"diabetes"}]}`)
	_, err = c.run("manufacturer", "feasibility", "--criteria", bad, "--purpose", "drug-safety")
	require.ErrorContains(t, err, "include[0].condition")
}
