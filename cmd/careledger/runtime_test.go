package main

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRuntimeProfiles: production leaves the runtime to follow the machine or container, the
// benchmarks' throughput tuning is applied once however often it is asked for, and a variable
// in the environment wins over either.
func TestRuntimeProfiles(t *testing.T) {
	t.Setenv("GOMAXPROCS", "")
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	t.Cleanup(func() {
		runtime.SetDefaultGOMAXPROCS()
		debug.SetGCPercent(100)
		debug.SetMemoryLimit(math.MaxInt64)
	})
	_, err := applyRuntime(profileProduction)
	require.NoError(t, err)
	procs := runtime.GOMAXPROCS(0)

	for range 2 {
		line, err := applyRuntime(profileThroughput)
		require.NoError(t, err)
		require.Equal(t, procs+1, runtime.GOMAXPROCS(0), "one more P, not one more each time")
		require.Equal(t, int64(2<<30), debug.SetMemoryLimit(-1))
		require.Contains(t, line, "runtime profile throughput")
		require.Contains(t, line, "GOGC 400")
		require.Contains(t, line, "GOMEMLIMIT 2.0 GiB")
	}

	line, err := applyRuntime(profileProduction)
	require.NoError(t, err)
	require.Equal(t, procs, runtime.GOMAXPROCS(0))
	require.Contains(t, line, "GOGC 100")
	require.NotEqual(t, int64(2<<30), debug.SetMemoryLimit(-1), "the benchmark's limit is not production's")

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	line, err = applyRuntime(profileThroughput)
	require.NoError(t, err)
	require.Contains(t, line, "GOGC 50", "the environment wins")

	_, err = applyRuntime("fast")
	require.Error(t, err)
}
