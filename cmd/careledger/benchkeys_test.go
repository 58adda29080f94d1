package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/wallet/recordkey"
)

func TestKeysComparisonShowsTheKEKOperationsSideBySide(t *testing.T) {
	local := []recordkey.BenchResult{
		{Op: "aes-256-gcm", Size: 4 << 10, Ops: 100, Elapsed: time.Millisecond},
		{Op: "seal", Size: 4 << 10, Ops: 100, Elapsed: 10 * time.Millisecond},
		{Op: "unwrap", Ops: 100, Elapsed: time.Millisecond},
	}
	hsm := []recordkey.BenchResult{
		{Op: "seal", Size: 4 << 10, Ops: 100, Elapsed: 40 * time.Millisecond},
		{Op: "unwrap", Ops: 100, Elapsed: 5 * time.Millisecond},
	}
	var out bytes.Buffer
	printKeysComparison(&out, local, hsm)
	require.NotContains(t, out.String(), "aes-256-gcm", "only operations that use the KEK")
	require.Regexp(t, `seal\s+4 KiB\s+39\s+100µs\s+10\s+400µs\s+25%`, out.String())
	require.Regexp(t, `unwrap\s+-\s+-\s+10µs\s+-\s+50µs\s+20%`, out.String())
}
