package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

func newBenchCLICmd() *cobra.Command {
	var runs int
	cmd := &cobra.Command{
		Use:   "cli",
		Short: "Time one role command (patient whoami) as a user runs it, with and without the key agent",
		Long: `Runs the whole stack and the API in a temporary directory, then runs this binary as a
separate process, as a user would: "patient whoami" --runs times with CARELEDGER_AGENT=off (each
run derives the wallet key with argon2id), then with a key agent private to the benchmark: the
first run starts the agent and unlocks once, the others are served by it.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			machineLine(out)
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			s, dir, stop, err := startBenchAPI(ctx, "careledger-bench-cli-")
			if err != nil {
				return err
			}
			defer stop()
			caFile, _, _ := apiTLSFiles(dir)
			if err := writeEndpoint(dir, "https://"+s.apiAddr, caFile); err != nil {
				return err
			}
			sock := filepath.Join(dir, "agent", "agent.sock")
			env := append(os.Environ(), "CARELEDGER_WALLET_PASSPHRASE="+benchPassphrase, "CARELEDGER_AGENT_SOCK="+sock, "CARELEDGER_API=", "CARELEDGER_API_CA=")
			once := func(agent string) (time.Duration, error) {
				c := exec.CommandContext(ctx, exe, "--data-dir", dir, "patient", "whoami")
				c.Env = append(env, "CARELEDGER_AGENT="+agent)
				start := time.Now()
				b, err := c.CombinedOutput()
				if err != nil {
					return 0, fmt.Errorf("careledger patient whoami: %w: %s", err, b)
				}
				return time.Since(start), nil
			}
			series := func(agent string, n int) ([]time.Duration, error) {
				var lat []time.Duration
				for range n {
					d, err := once(agent)
					if err != nil {
						return nil, err
					}
					lat = append(lat, d)
				}
				return lat, nil
			}
			without, err := series("off", runs)
			if err != nil {
				return err
			}
			defer func() { // the benchmark's own agent
				if c, err := dialAgent(sock); err == nil {
					c.call(agentRequest{Op: "stop"})
					c.Close()
				}
			}()
			first, err := once("on")
			if err != nil {
				return err
			}
			with, err := series("on", runs)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "careledger patient whoami, %d runs each, wall time per command (process start to exit):\n", runs)
			fmt.Fprintf(out, "  without agent (argon2id each time):  p50 %v  p90 %v  max %v\n", pct(without, 50), pct(without, 90), pct(without, 100))
			fmt.Fprintf(out, "  with agent, first (starts, unlocks): %v\n", first.Round(10*time.Microsecond))
			fmt.Fprintf(out, "  with agent, later:                   p50 %v  p90 %v  max %v\n", pct(with, 50), pct(with, 90), pct(with, 100))
			return nil
		},
	}
	cmd.Flags().IntVar(&runs, "runs", 10, "commands per series")
	return cmd
}
