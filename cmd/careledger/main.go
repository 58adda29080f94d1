// Command careledger runs CareLedger: `careledger up` starts everything on one machine (the
// embedded Fabric-protocol ledger, the key store, the encrypted record store, the gateway and
// the API); other subcommands run single services, verify the ledger, drive benchmarks and act
// for each role.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	// Times are written in people's time zones (the web pages' default is Europe/Berlin),
	// which must exist on machines and images without a zone database.
	_ "time/tzdata"

	"github.com/careledger/careledger/app-api/client"
	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := execute(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// execute runs the command line args and returns the exit code; an error is printed once, to
// stderr.
func execute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "careledger:", errorText(err))
		return 1
	}
	return 0
}

// errorText is how an error reads on the terminal. An API error is shown by status and code
// with each detail (one per wrong FHIR element) on its own line.
func errorText(err error) string {
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr != err {
		return err.Error()
	}
	lines := strings.Split(apiErr.Message, "\n")
	var b strings.Builder
	fmt.Fprintf(&b, "%d %s: %s", apiErr.Status, apiErr.Code, lines[0])
	for _, l := range lines[1:] {
		b.WriteString("\n  " + l)
	}
	if apiErr.RequestID != "" {
		fmt.Fprintf(&b, "\n  (request %s)", apiErr.RequestID)
	}
	return b.String()
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
		newPatientCmd(g), newClinicianCmd(g), newManufacturerCmd(g), newAnonymizerCmd(g), newAdminCmd(g),
		newAgentCmd(g))
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command group answer an unknown subcommand with an
// error and suggestions, at every level: cobra does so only for the root and otherwise shows
// the group's help and exits 0, so `careledger patient grnats` looked like success.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	cmd.SuggestionsMinimumDistance = 2
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() || !cmd.HasParent() {
		return
	}
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		return unknownSubcommand(cmd, args)
	}
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
