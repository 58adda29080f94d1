package api_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/stretchr/testify/require"
)

// TestLedgerDown: when the ledger is unreachable, requests get 503 with Retry-After, and
// readiness fails while health still passes.
func TestLedgerDown(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.client(t, e.patient)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)

	require.NoError(t, e.stack.Node.Close())

	for name, call := range map[string]func() error{
		"me":      func() error { _, err := patient.Me(ctx); return err },
		"content": func() error { _, err := patient.Content(ctx, rec.ID, 0, ""); return err },
		"upload": func() error {
			_, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
			return err
		},
		"grant": func() error {
			_, _, err := patient.Grant(ctx, grantBody)
			return err
		},
		"ready": func() error { return patient.Ready(ctx) },
	} {
		t.Run(name, func(t *testing.T) {
			ae := apiError(t, call(), http.StatusServiceUnavailable, api.CodeLedgerUnavailable)
			require.Equal(t, 5*time.Second, ae.RetryAfter)
		})
	}
	require.NoError(t, patient.Health(ctx))
	_ = me
}

// TestMetricsAndOpenAPIAreServed: /metrics exposes the request counters by route pattern
// (never by path), and /openapi.yaml the embedded document.
func TestMetricsAndOpenAPIAreServed(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.client(t, e.patient)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	_, err = patient.PatientRecords(ctx, me.ID, "", client.Page{})
	require.NoError(t, err)

	hc := e.rawHTTP(nil)
	resp, err := hc.Get(e.srv.URL + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	metrics := string(body)
	require.Contains(t, metrics, `careledger_api_requests_total{method="GET",route="/v1/patients/{patientID}/records",status="200"} 1`)
	require.Contains(t, metrics, "careledger_api_request_duration_seconds_bucket")
	require.NotContains(t, metrics, me.ID)

	resp, err = hc.Get(e.srv.URL + "/openapi.yaml")
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, string(api.OpenAPI()), string(body))
	require.True(t, strings.HasPrefix(string(body), "openapi: 3."))
}
