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
	"syscall"
	// Times are written in people's time zones (the web pages' default is Europe/Berlin),
	// which must exist on machines and images without a zone database.
	_ "time/tzdata"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRoot().ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "careledger:", err)
		os.Exit(1)
	}
}

// globals are the flags every subcommand shares.
type globals struct {
	dataDir  string
	logLevel string
	logJSON  bool
	// runtimeProfile is --runtime-profile; "" means the command's default (see runtime.go).
	runtimeProfile string
}

// setUpRuntime applies --runtime-profile, or def when it was not given.
func (g *globals) setUpRuntime(def string) (string, error) {
	if g.runtimeProfile != "" {
		def = g.runtimeProfile
	}
	return applyRuntime(def)
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
	runtimeFlag(root, &g.runtimeProfile)
	root.PersistentPreRunE = func(*cobra.Command, []string) error {
		_, err := g.setUpRuntime(profileProduction)
		return err
	}
	root.AddCommand(newUpCmd(g), newNodeCmd(g), newLedgerCmd(g), newBenchCmd(g), newAnonymizeCmd(),
		newPatientCmd(g), newClinicianCmd(g), newManufacturerCmd(g), newAnonymizerCmd(g), newAdminCmd(g))
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
