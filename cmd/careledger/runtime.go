package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"

	"github.com/KimMachineGun/automemlimit/memlimit"
	"github.com/spf13/cobra"
)

// Runtime profiles: how the Go runtime is set up for a run (--runtime-profile). GOMAXPROCS,
// GOGC and GOMEMLIMIT in the environment override either profile, each on its own.
const (
	// profileProduction follows the machine or container CareLedger runs in: GOMAXPROCS from
	// the CPUs or the cgroup's CPU limit (cpu.max), as the Go runtime itself sets it and keeps
	// it current; the default GOGC (100); and a soft memory limit of 90% of the cgroup's memory
	// limit (memory.max, or memory.limit_in_bytes under cgroup v1; none outside a container),
	// so that the collector works harder before the kernel kills the process.
	profileProduction = "production"
	// profileThroughput is what the README's figures were measured with, on a 2-CPU machine
	// CareLedger had to itself: it trades memory for CPU and ignores container limits.
	//   - One more P than GOMAXPROCS would be: the ledger's commit loop spends much of its time
	//     in fsync and bbolt's page writes, and a P blocked in a system call is handed to other
	//     work only after a delay, so with two CPUs a third of one sat idle; the extra P lifted
	//     committed transactions by 4 to 17% and cost evaluations 3 to 7%.
	//   - GOGC=400: the hot paths (signatures, JSON, protobuf) allocate a lot of short-lived
	//     garbage, and collecting it less often lifted ledger throughput by about a quarter.
	//   - GOMEMLIMIT=2 GiB, so that the collector works harder before memory runs short.
	profileThroughput = "throughput"
)

// runtimeProfiles lists the profiles for --runtime-profile.
var runtimeProfiles = []string{profileProduction, profileThroughput}

// appliedProfile is the profile applyRuntime last set up ("" before it ran: Go's defaults).
var appliedProfile string

// applyRuntime sets the Go runtime up for profile and returns a line saying what it is now.
func applyRuntime(profile string) (string, error) {
	if !slices.Contains(runtimeProfiles, profile) {
		return "", fmt.Errorf("runtime profile %q: want one of %v", profile, runtimeProfiles)
	}
	procsSet, gcSet, limitSet := os.Getenv("GOMAXPROCS") != "", os.Getenv("GOGC") != "", os.Getenv("GOMEMLIMIT") != ""
	if !procsSet {
		// The runtime's default follows the CPUs and the cgroup's CPU limit, and keeps
		// following them; setting GOMAXPROCS stops that until this is called again.
		runtime.SetDefaultGOMAXPROCS()
	}
	switch profile {
	case profileProduction:
		if !gcSet {
			debug.SetGCPercent(100)
		}
		if !limitSet {
			debug.SetMemoryLimit(containerMemoryLimit())
		}
	case profileThroughput:
		if !procsSet {
			runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
		}
		if !gcSet {
			debug.SetGCPercent(400)
		}
		if !limitSet {
			debug.SetMemoryLimit(2 << 30)
		}
	}
	appliedProfile = profile
	return runtimeLine(profile), nil
}

// containerMemoryLimit is 90% of the cgroup's memory limit, or no limit (math.MaxInt64) when
// the process has none or no cgroup it can read.
func containerMemoryLimit() int64 {
	limit, err := memlimit.ApplyRatio(memlimit.FromCgroup, 0.9)()
	if err != nil || limit > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(limit)
}

// runtimeLine says how the runtime is set up, for benchmark output.
func runtimeLine(profile string) string {
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	limit := "none"
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		limit = fmt.Sprintf("%.1f GiB", float64(l)/(1<<30))
	}
	return fmt.Sprintf("runtime profile %s: GOMAXPROCS %d, GOGC %d, GOMEMLIMIT %s", profile, runtime.GOMAXPROCS(0), gc, limit)
}

// runtimeFlag adds --runtime-profile to cmd; "" means the command's own default.
func runtimeFlag(cmd *cobra.Command, profile *string) {
	cmd.PersistentFlags().StringVar(profile, "runtime-profile", os.Getenv("CARELEDGER_RUNTIME_PROFILE"),
		"how the Go runtime is set up: production (the default: follows the container's CPU and memory limits) or throughput (the benchmarks' tuning for a dedicated machine; the default of bench) (env CARELEDGER_RUNTIME_PROFILE)")
}
