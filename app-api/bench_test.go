package api_test

import (
	"bytes"
	"context"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestBenchAPIReports runs the benchmark the CLI exposes on a small count and checks what it
// prints; it asserts no timing.
func TestBenchAPIReports(t *testing.T) {
	e := startEnv(t)
	var out bytes.Buffer
	res, err := api.BenchAPI(context.Background(), &out, api.BenchTarget{Patient: e.client(t, e.patient), Clinician: e.client(t, e.clinician)}, api.BenchOptions{Requests: 40, Concurrency: 4})
	require.NoError(t, err)
	require.Equal(t, 40, res.Requests)
	require.Zero(t, res.Errors)
	require.Contains(t, out.String(), "requests/s")
	require.Contains(t, out.String(), "p99")
	_, err = api.BenchAPI(context.Background(), &out, api.BenchTarget{}, api.BenchOptions{})
	require.Error(t, err)
}

// BenchmarkGrantedRead measures one granted read through HTTPS, authentication, the ledger's
// decision, decryption and the audit queue.
func BenchmarkGrantedRead(b *testing.B) {
	e := startEnv(b)
	ctx := context.Background()
	patient, clinician := e.client(b, e.patient), e.client(b, e.clinician)
	doc, err := clinician.Me(ctx)
	require.NoError(b, err)
	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(b, err)
	_, _, err = patient.Grant(ctx, model.GrantRequest{Grantee: model.Grantee{ID: doc.ID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(b, err)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := clinician.Content(ctx, rec.ID, 0, "TREAT"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
