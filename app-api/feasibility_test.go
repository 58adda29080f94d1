package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// feasibilityStub answers every feasibility query with 40, except queries about E10, which
// it refuses for the budget, standing in for the anonymiser behind FeasibilityCounter.
type feasibilityStub struct{}

func (feasibilityStub) Feasibility(_ context.Context, q api.FeasibilityQuery) (*api.FeasibilityAnswer, error) {
	for _, c := range q.Definition.Include {
		if c.Condition == "E10" {
			return nil, fmt.Errorf("%w: %s has no privacy budget for %s", api.ErrBudgetExhausted, q.Requester.MSP, q.Purpose)
		}
	}
	if q.Requester.Role != model.RoleManufacturer || !model.ValidPseudonym(q.Requester.ID) {
		return nil, fmt.Errorf("the API passed a requester that is not a manufacturer")
	}
	return &api.FeasibilityAnswer{Count: 40, Rounding: 10, Threshold: 20, Mechanism: "rounding", QueryHash: q.Definition.Hash()}, nil
}

func setBudget(t *testing.T, e *env, msp string) {
	t.Helper()
	admin := e.stack.Client(t, e.stack.User(t, network.PatientsMSP, "Admin"))
	_, err := admin.SetPrivacyBudget(context.Background(), model.PrivacyBudgetRequest{MSP: msp, Purpose: "drug-safety", Epsilon: 1, MaxQueries: 10})
	require.NoError(t, err)
}

// TestFeasibilityInputIsCheckedAndRefusalsMapped: bad feasibility requests get 400 naming
// the field or the criterion's element, a budget refusal is 403 BUDGET_EXHAUSTED, and a
// server without a counter answers 501.
func TestFeasibilityInputIsCheckedAndRefusalsMapped(t *testing.T) {
	e := startEnv(t, func(c *api.Config) { c.Feasibility = feasibilityStub{} })
	setBudget(t, e, network.PharmaMSP)
	maker := e.rawHTTP(tlsCert(e.manufacturer))
	patient := e.rawHTTP(tlsCert(e.patient))
	good := `{"version":1,"include":[{"condition":"E11"}]}`
	body := func(purpose, criteria, extra string) string {
		return `{"purpose":"` + purpose + `","criteria":` + criteria + extra + `}`
	}
	cases := []struct {
		name, method, path, body string
		hc                       *http.Client
		status                   int
		code, mentions           string
	}{
		{"answered", "POST", "/v1/feasibility", body("drug-safety", good, ""), maker, 200, "", ""},
		{"patients may not ask", "POST", "/v1/feasibility", body("drug-safety", good, ""), patient, 403, "FORBIDDEN", "manufacturers"},
		{"unknown purpose", "POST", "/v1/feasibility", body("marketing", good, ""), maker, 400, "INVALID_ARGUMENT", "purpose"},
		{"no criteria", "POST", "/v1/feasibility", `{"purpose":"drug-safety"}`, maker, 400, "INVALID_ARGUMENT", "criteria"},
		{"criteria not a definition", "POST", "/v1/feasibility", body("drug-safety", `"E11"`, ""), maker, 400, "INVALID_ARGUMENT", "criteria"},
		{"criteria element named", "POST", "/v1/feasibility", body("drug-safety", `{"version":1,"include":[{"condition":"diabetes"}]}`, ""), maker, 400, "INVALID_ARGUMENT", "criteria.include[0].condition"},
		{"criteria unknown member", "POST", "/v1/feasibility", body("drug-safety", `{"version":1,"include":[{"condition":"E11"}],"patientName":"Jane"}`, ""), maker, 400, "INVALID_ARGUMENT", "patientName"},
		{"lab unit", "POST", "/v1/feasibility", body("drug-safety", `{"version":1,"include":[{"lab":{"loinc":"4548-4","comparator":">","value":7,"unit":"per cent"}}]}`, ""), maker, 400, "INVALID_ARGUMENT", "lab.unit"},
		{"epsilon too large", "POST", "/v1/feasibility", body("drug-safety", good, `,"epsilon":50`), maker, 400, "INVALID_ARGUMENT", "epsilon"},
		{"epsilon negative", "POST", "/v1/feasibility", body("drug-safety", good, `,"epsilon":-1`), maker, 400, "INVALID_ARGUMENT", "epsilon"},
		{"rounding too large", "POST", "/v1/feasibility", body("drug-safety", good, `,"rounding":5000`), maker, 400, "INVALID_ARGUMENT", "rounding"},
		{"threshold negative", "POST", "/v1/feasibility", body("drug-safety", good, `,"threshold":-1`), maker, 400, "INVALID_ARGUMENT", "threshold"},
		{"unknown field", "POST", "/v1/feasibility", body("drug-safety", good, `,"k":5`), maker, 400, "INVALID_ARGUMENT", `"k"`},
		{"budget exhausted", "POST", "/v1/feasibility", body("drug-safety", `{"version":1,"include":[{"condition":"E10"}]}`, ""), maker, 403, api.CodeBudgetExhausted, "no privacy budget"},
		{"budget: own", "GET", "/v1/privacy-budget?purpose=drug-safety", "", maker, 200, "", ""},
		{"budget: no purpose", "GET", "/v1/privacy-budget", "", maker, 400, "INVALID_ARGUMENT", "purpose"},
		{"budget: bad msp", "GET", "/v1/privacy-budget?msp=a%20b&purpose=drug-safety", "", maker, 400, "INVALID_ARGUMENT", "msp"},
		{"budget: another organisation's", "GET", "/v1/privacy-budget?msp=ClinicMSP&purpose=drug-safety", "", maker, 403, "FORBIDDEN", "own"},
		{"budget: unset", "GET", "/v1/privacy-budget?purpose=ai-training", "", maker, 404, "NOT_FOUND", "ai-training"},
		{"disclosures: unknown parameter", "GET", "/v1/disclosures?manufacturer=x", "", patient, 400, "INVALID_ARGUMENT", "manufacturer"},
		{"disclosures: bad msp", "GET", "/v1/disclosures?msp=../x", "", patient, 400, "INVALID_ARGUMENT", "msp"},
		{"disclosures: patient sees all", "GET", "/v1/disclosures", "", patient, 200, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.srv.URL+tc.path, bytes.NewReader([]byte(tc.body)))
			require.NoError(t, err)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			resp, err := tc.hc.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			if tc.status == 200 {
				require.Equal(t, 200, resp.StatusCode)
				return
			}
			var eb api.ErrorBody
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
			require.Equal(t, tc.status, resp.StatusCode, eb.Error.Message)
			require.Equal(t, tc.code, eb.Error.Code)
			require.Contains(t, eb.Error.Message, tc.mentions)
		})
	}

	bare := startEnv(t)
	req, err := http.NewRequest("POST", bare.srv.URL+"/v1/feasibility", bytes.NewReader([]byte(body("drug-safety", good, ""))))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := bare.rawHTTP(tlsCert(bare.manufacturer)).Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotImplemented, resp.StatusCode)
}
