// Command careledger runs CareLedger: `careledger up` starts everything on one machine (the
// embedded Fabric-protocol ledger, the key store, the encrypted record store, the gateway and
// the API); other subcommands run single services, verify the ledger, drive benchmarks and act
// for each role.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"syscall"
	// Times are written in people's time zones (the web pages' default is Europe/Berlin),
	// which must exist on machines and images without a zone database.
	_ "time/tzdata"

	"github.com/spf13/cobra"
)

func main() {
	tuneRuntime()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "careledger:", err)
		os.Exit(1)
	}
}

// tuneRuntime adjusts Go's defaults for CareLedger's load; GOGC, GOMEMLIMIT and GOMAXPROCS
// still override each.
//
// It trades memory for CPU: the hot paths (signatures, JSON, protobuf) allocate a lot of
// short-lived garbage, and on a small machine collecting it less often lifts ledger throughput
// by about a quarter (see the README). A soft memory limit makes the collector work harder
// before memory runs short.
//
// It runs one more P than there are CPUs: the ledger's commit loop spends much of its time in
// fsync and bbolt's page writes, and a P blocked in a system call is handed to other work only
// after a delay, so with two CPUs a third of one sat idle. On a 2-core machine the extra P
// lifted committed transactions by 4 to 17% and cost evaluations 3 to 7%.
func tuneRuntime() {
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 1)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(2 << 30)
	}
}

// globals are the flags every subcommand shares.
type globals struct {
	dataDir  string
	logLevel string
	logJSON  bool
}

func newRoot() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:           "careledger",
		Short:         "Patient-controlled health records on a permissioned ledger",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&g.dataDir, "data-dir", envOr("CARELEDGER_DATA_DIR", defaultDataDir()), "where CareLedger keeps its ledger, keys, records and wallets (env CARELEDGER_DATA_DIR)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", envOr("CARELEDGER_LOG_LEVEL", "info"), "debug, info, warn or error")
	root.PersistentFlags().BoolVar(&g.logJSON, "log-json", os.Getenv("CARELEDGER_LOG_JSON") == "true", "log JSON instead of text")
	root.AddCommand(newUpCmd(g), newNodeCmd(g), newLedgerCmd(g), newBenchCmd(g), newAnonymizeCmd(),
		newPatientCmd(g), newClinicianCmd(g), newManufacturerCmd(g), newAnonymizerCmd(g), newAdminCmd(g),
		newBackupCmd(g), newRestoreCmd(g))
	return root
}

func (g *globals) logger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(g.logLevel)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if g.logJSON {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "careledger")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "careledger")
	}
	return ".careledger"
}
