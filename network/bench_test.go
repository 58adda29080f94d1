package network_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func benchOptions(clients int, d time.Duration) network.BenchOptions {
	return network.BenchOptions{
		Clients: clients, SubmitDuration: d, EvaluateDuration: d,
		Submit:   func(c, i int) (string, []string) { return "put", []string{fmt.Sprintf("bench-%d-%d", c, i), "value"} },
		Evaluate: func(c, i int) (string, []string) { return "get", []string{fmt.Sprintf("bench-%d-%d", c, i%50)} },
	}
}

// TestBenchSmoke runs the bench briefly so that it keeps working; it asserts no figures.
func TestBenchSmoke(t *testing.T) {
	n := startNode(t, t.TempDir())
	res, err := network.Bench(context.Background(), testWriter{t}, n.BenchTarget(loadUser(t, n, network.ClinicMSP, "clinician1")), benchOptions(4, 300*time.Millisecond))
	require.NoError(t, err)
	require.Positive(t, res.Committed)
	require.Zero(t, res.Failed)
	require.Positive(t, res.Evaluated)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// BenchmarkLedger prints the figures: committed tx/s and submit latency at
// LEDGER_BENCH_CLIENTS clients (default 100), and evaluate throughput. Run with
// go test -run '^$' -bench Ledger -benchtime 1x ./network/
func BenchmarkLedger(b *testing.B) {
	clients := 100
	if v, err := strconv.Atoi(os.Getenv("LEDGER_BENCH_CLIENTS")); err == nil {
		clients = v
	}
	n := startNode(b, b.TempDir())
	user := loadUser(b, n, network.ClinicMSP, "clinician1")
	for b.Loop() {
		res, err := network.Bench(context.Background(), os.Stdout, n.BenchTarget(user), benchOptions(clients, 10*time.Second))
		require.NoError(b, err)
		b.ReportMetric(res.SubmitPerSecond, "tx/s")
		b.ReportMetric(float64(res.SubmitP99.Milliseconds()), "p99-ms")
		b.ReportMetric(res.EvaluatePerSecond, "eval/s")
	}
}
