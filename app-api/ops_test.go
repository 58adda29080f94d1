package api_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/network"
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
// (never by path) to an admin's certificate, and /openapi.yaml the embedded document.
func TestMetricsAndOpenAPIAreServed(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.client(t, e.patient)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	_, err = patient.PatientRecords(ctx, me.ID, "", client.Page{})
	require.NoError(t, err)

	admin := e.stack.Issue(t, network.PatientsMSP, network.UserSpec{Name: "ops-admin", Role: network.RoleAdmin})
	resp, err := e.rawHTTP(tlsCert(admin)).Get(e.srv.URL + "/metrics")
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	metrics := string(body)
	require.Contains(t, metrics, `careledger_api_requests_total{method="GET",route="/v1/patients/{patientID}/records",status="200"} 1`)
	require.Contains(t, metrics, "careledger_api_request_duration_seconds_bucket")
	require.NotContains(t, metrics, me.ID)

	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp, err = e.rawHTTP(nil).Get(e.srv.URL + "/openapi.yaml")
	require.NoError(t, err)
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, string(api.OpenAPI()), string(body))
	require.True(t, strings.HasPrefix(string(body), "openapi: 3."))
}

// TestMetricsNeedAnAdminCertificate: request counts per route tell who uses the service how
// much, so only an admin's certificate reads them; the matrix checks every other caller.
func TestMetricsNeedAnAdminCertificate(t *testing.T) {
	e := startEnv(t)
	admin := e.stack.Issue(t, network.ClinicMSP, network.UserSpec{Name: "metrics-admin", Role: network.RoleAdmin})
	for _, tc := range []struct {
		name   string
		cert   *tls.Certificate
		status int
	}{
		{"admin", tlsCert(admin), http.StatusOK},
		{"patient", tlsCert(e.patient), http.StatusForbidden},
		{"manufacturer", tlsCert(e.manufacturer), http.StatusForbidden},
		{"no certificate", nil, http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.rawHTTP(tc.cert).Get(e.srv.URL + "/metrics")
			require.NoError(t, err)
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			require.Equal(t, tc.status, resp.StatusCode, string(body))
			if tc.status != http.StatusOK {
				require.NotContains(t, string(body), "careledger_api_requests_total")
			}
		})
	}
}

// TestHealthFailureMakesNotReady: a failed local component (the embedded node after a failed
// block write) turns /readyz into 503 NOT_READY with the reason, while /healthz still passes.
func TestHealthFailureMakesNotReady(t *testing.T) {
	var failure atomic.Pointer[error]
	e := startEnv(t, func(c *api.Config) {
		c.Health = func() error {
			if p := failure.Load(); p != nil {
				return *p
			}
			return nil
		}
	})
	ctx := context.Background()
	anon := e.anonymous(t)
	require.NoError(t, anon.Ready(ctx))
	err := error(&api.NotReadyError{Reason: "the ledger node cannot write blocks", Err: errors.New("no space left on device")})
	failure.Store(&err)
	ae := apiError(t, anon.Ready(ctx), http.StatusServiceUnavailable, api.CodeNotReady)
	require.Contains(t, ae.Message, "cannot write blocks")
	require.NotContains(t, ae.Message, "space left")
	require.Positive(t, ae.RetryAfter)
	require.NoError(t, anon.Health(ctx))
	failure.Store(nil)
	require.NoError(t, anon.Ready(ctx))
}
