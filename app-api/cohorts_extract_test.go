package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// publisherStub stands in for the anonymiser's publisher: it keeps the request it was given
// and refuses it, so the tests see what the API passed on.
type publisherStub struct{ got *api.CohortRequest }

func (p publisherStub) Publish(_ context.Context, _ *ledger.Client, req api.CohortRequest) (*model.Cohort, error) {
	*p.got = req
	return nil, api.ErrCohortRefused
}

// TestCohortExtractInputIsChecked: an extract definition is parsed before the publisher runs;
// bad ones get 400 naming the element, and l or t without a sensitive variable is refused.
func TestCohortExtractInputIsChecked(t *testing.T) {
	var got api.CohortRequest
	e := startEnv(t, func(c *api.Config) { c.Publisher = publisherStub{&got} })
	anon := e.rawHTTP(tlsCert(e.stack.User(t, network.PatientsMSP, "anonymizer")))
	good := `{"version":1,"cohort":{"version":1,"include":[{"condition":"E11"}]},"variables":[{"name":"age","age":{}},{"name":"hba1c","role":"sensitive","lab":{"loinc":"4548-4","unit":"%"}}]}`
	noSensitive := `{"version":1,"variables":[{"name":"age","age":{}}]}`
	body := func(extra string) string { return `{"purpose":"drug-safety","k":5` + extra + `}` }
	for _, tc := range []struct {
		name, body string
		status     int
		mentions   string
	}{
		{"passed on parsed", body(`,"l":2,"t":0.3,"definition":` + good), http.StatusUnprocessableEntity, ""},
		{"element named", body(`,"definition":{"version":1,"variables":[{"name":"x","lab":{"loinc":"4548","unit":"%"}}]}`), 400, "definition.variables[0].lab.loinc"},
		{"unknown member", body(`,"definition":{"version":1,"variables":[{"name":"age","age":{}}],"name":"Jane"}`), 400, "definition"},
		{"not an object", body(`,"definition":"E11"`), 400, "definition"},
		{"l without a sensitive variable", body(`,"l":2,"definition":` + noSensitive), 400, "sensitive"},
		{"t without a definition", body(`,"t":0.2`), 400, "t"},
		{"t out of range", body(`,"t":1.5,"definition":` + good), 400, "t"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got = api.CohortRequest{}
			req, err := http.NewRequest("POST", e.srv.URL+"/v1/cohorts", bytes.NewReader([]byte(tc.body)))
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := anon.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var eb api.ErrorBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
			require.Equal(t, tc.status, resp.StatusCode, eb.Error.Message)
			require.Contains(t, eb.Error.Message, tc.mentions)
			if tc.status != 400 {
				require.NotNil(t, got.Extract)
				require.Equal(t, []string{"hba1c"}, got.Extract.Sensitive())
				require.Equal(t, 0.3, got.T)
			} else {
				require.Nil(t, got.Extract, "nothing reaches the publisher")
			}
		})
	}
}
