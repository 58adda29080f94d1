package main

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/careledger/careledger/wallet"
	"github.com/spf13/cobra"
)

func newAgentCmd(g *globals) *cobra.Command {
	idle := agentIdle()
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Keep wallet identities unlocked for this user's commands (started by the first command)",
		Long: `agent keeps the identities the role commands unlock in its memory, so later commands
need neither the passphrase nor its slow key derivation; it signs for them and never hands a
key out. The first role command starts it (CARELEDGER_AGENT=off: never). It forgets every key
and exits after --idle without use (env CARELEDGER_AGENT_IDLE), on "careledger agent stop",
and forgets the keys on "careledger agent lock". Only the same user can reach it, over the
Unix socket CARELEDGER_AGENT_SOCK (default careledger-agent-<uid>/agent.sock under
XDG_RUNTIME_DIR or the temporary directory).`,
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := protectMemory(); err != nil {
				return fmt.Errorf("agent: %w", err)
			}
			path := agentSocketPath()
			ln, release, err := listenAgent(path)
			if errors.Is(err, errAgentRunning) {
				fmt.Fprintf(cmd.ErrOrStderr(), "agent already running at %s\n", path)
				return nil
			}
			if err != nil {
				return err
			}
			defer release()
			a := newKeyAgent(idle, g.logger().With("component", "agent"))
			fmt.Fprintf(cmd.ErrOrStderr(), "agent listening at %s (keys forgotten after %s idle)\n", path, idle)
			return a.serve(cmd.Context(), ln)
		},
	}
	cmd.Flags().DurationVar(&idle, "idle", idle, "forget keys and stop after this long without use (env CARELEDGER_AGENT_IDLE)")
	simple := func(use, short, op string, done func(*cobra.Command, *agentResponse)) *cobra.Command {
		return &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := dialAgent(agentSocketPath())
				if err != nil {
					fmt.Fprintln(cmd.OutOrStdout(), "no agent running")
					return nil
				}
				defer c.Close()
				resp, err := c.call(agentRequest{Op: op})
				if err != nil {
					return err
				}
				done(cmd, resp)
				return nil
			}}
	}
	cmd.AddCommand(
		simple("stop", "Forget every key and stop the agent", "stop", func(cmd *cobra.Command, _ *agentResponse) {
			fmt.Fprintln(cmd.OutOrStdout(), "agent stopped; keys forgotten")
		}),
		simple("lock", "Forget every key; the next command asks for the passphrase again", "lock", func(cmd *cobra.Command, _ *agentResponse) {
			fmt.Fprintln(cmd.OutOrStdout(), "keys forgotten")
		}),
		simple("status", "Show whether the agent runs and which identities it holds", "status", func(cmd *cobra.Command, r *agentResponse) {
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "agent running (pid %d), stops in %s without use\n", r.PID, r.Idle)
			if len(r.Identities) == 0 {
				fmt.Fprintln(out, "no identities unlocked")
			}
			for _, id := range r.Identities {
				fmt.Fprintln(out, "  "+id)
			}
		}),
	)
	return cmd
}

// unknownSubcommand is the argument check of a runnable command that also has subcommands:
// an argument can only be a mistyped subcommand.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return fmt.Errorf("%s\n\nRun '%s --help' for usage", msg, cmd.CommandPath())
}

func agentIdle() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CARELEDGER_AGENT_IDLE")); err == nil && d > 0 {
		return d
	}
	return defaultAgentIdle
}

// agentEnabled says whether role commands use the agent (CARELEDGER_AGENT=off: never).
func agentEnabled() bool {
	switch strings.ToLower(os.Getenv("CARELEDGER_AGENT")) {
	case "off", "0", "false", "no":
		return false
	}
	return true
}

// connectAgent connects to the user's agent, starting it when none runs.
func connectAgent() (*agentConn, error) {
	path := agentSocketPath()
	if c, err := dialAgent(path); err == nil {
		return c, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// The agent runs in its own session, so Ctrl-C in this terminal does not stop it, with
	// no terminal and no output: it is reached through its socket only.
	cmd := exec.Command(exe, "agent", "--idle", agentIdle().String())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/" // keeps no directory of the user's busy
	// The agent gets passphrases per unlock; it does not keep this command's in its environment.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "CARELEDGER_WALLET_PASSPHRASE=") })
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start agent: %w", err)
	}
	go cmd.Wait() // reaped if it exits while this command runs
	deadline := time.Now().Add(3 * time.Second)
	for {
		c, err := dialAgent(path)
		if err == nil {
			return c, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("start agent: %w", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// agentIdentity is an identity whose key the agent holds.
type agentIdentity struct {
	mspID   string
	certPEM []byte
	signer  crypto.Signer
}

// unlockWithAgent returns the identity label of the wallet in dir through the agent, asking
// for the passphrase (ask) only when the agent does not hold it yet.
func unlockWithAgent(c *agentConn, dir, label string, ask func() ([]byte, error)) (*agentIdentity, error) {
	resp, err := c.call(agentRequest{Op: "identity", Wallet: dir, Label: label})
	if agentCode(err) == agentCodeLocked {
		var pass []byte
		if pass, err = ask(); err != nil {
			return nil, err
		}
		resp, err = c.call(agentRequest{Op: "unlock", Wallet: dir, Label: label, Passphrase: pass})
		if agentCode(err) == agentCodeWrongPassphrase {
			return nil, fmt.Errorf("unlock %q from the wallet: %w", label, wallet.ErrWrongPassphrase)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("unlock %q from the wallet: %w", label, err)
	}
	block, _ := pem.Decode([]byte(resp.Cert))
	if block == nil {
		return nil, errors.New("agent: no certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	return &agentIdentity{mspID: resp.MSPID, certPEM: []byte(resp.Cert),
		signer: &agentSigner{conn: c, wallet: dir, label: label, pub: cert.PublicKey}}, nil
}
