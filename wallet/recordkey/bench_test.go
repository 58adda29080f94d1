package recordkey_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/stretchr/testify/require"
)

// TestBenchPrints checks the report the CLI shows, with tiny sizes and durations; the
// figures themselves are not asserted (that would be a timed test).
func TestBenchPrints(t *testing.T) {
	var out bytes.Buffer
	res, err := recordkey.Bench(context.Background(), &out, openLocal(t, t.TempDir()), recordkey.BenchOptions{
		Sizes: []int{4 << 10}, MinDuration: time.Millisecond,
	})
	require.NoError(t, err)
	ops := map[string]bool{}
	for _, r := range res {
		ops[r.Op] = true
		require.Positive(t, r.Ops)
	}
	for _, op := range []string{"aes-256-gcm", "sha-256", "encrypt", "decrypt", "seal", "open", "wrap", "unwrap"} {
		require.True(t, ops[op], op)
		require.Contains(t, out.String(), op)
	}
	require.Contains(t, out.String(), "machine:")
	require.Contains(t, out.String(), "4 KiB")
}
