package main

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/wallet"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const defaultAPIAddr = "127.0.0.1:8443"

// session is a role command's connection to the API as one wallet identity.
type session struct {
	c    *client.Client
	id   *wallet.Identity
	out  io.Writer
	json bool
}

// clientFlags are the flags every role command shares.
type clientFlags struct {
	api, as, walletDir, caFile string
	json                       bool
}

func (f *clientFlags) register(cmd *cobra.Command, label string) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.api, "api", envOr("CARELEDGER_API", "https://"+defaultAPIAddr), "the CareLedger API (env CARELEDGER_API)")
	p.StringVar(&f.as, "as", label, "wallet label of the identity to act as")
	p.StringVar(&f.walletDir, "wallet", os.Getenv("CARELEDGER_WALLET"), "wallet directory (default: <data-dir>/wallet; env CARELEDGER_WALLET)")
	p.StringVar(&f.caFile, "api-ca", os.Getenv("CARELEDGER_API_CA"), "CA certificate that verifies the API's TLS certificate (default: <data-dir>/api/ca.pem)")
	p.BoolVar(&f.json, "json", false, "print JSON instead of tables")
}

// open unlocks the identity (passphrase from CARELEDGER_WALLET_PASSPHRASE, else asked on the
// terminal) and connects to the API with its certificate. The private key stays in this
// process: consent transactions are signed here, offline, and only signatures are sent.
func (f *clientFlags) open(cmd *cobra.Command, g *globals) (*session, error) {
	dir := f.walletDir
	if dir == "" {
		dir = filepath.Join(g.dataDir, "wallet")
	}
	w, err := wallet.Open(dir)
	if err != nil {
		return nil, err
	}
	pass, err := passphrase(cmd, f.as)
	if err != nil {
		return nil, err
	}
	id, err := w.Get(f.as, pass)
	clear(pass)
	if err != nil {
		return nil, fmt.Errorf("unlock %q from the wallet: %w", f.as, err)
	}
	caFile := f.caFile
	if caFile == "" {
		caFile, _, _ = apiTLSFiles(g.dataDir)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read the API's CA certificate: %w (start `careledger up` first, or pass --api-ca)", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	c, err := client.New(f.api, client.WithIdentity(id.MSPID(), id.CertificatePEM(), id.Signer()), client.WithRootCAs(roots), client.WithTimeout(time.Minute))
	if err != nil {
		return nil, err
	}
	return &session{c: c, id: id, out: cmd.OutOrStdout(), json: f.json}, nil
}

func passphrase(cmd *cobra.Command, label string) ([]byte, error) {
	if p := os.Getenv("CARELEDGER_WALLET_PASSPHRASE"); p != "" {
		return []byte(p), nil
	}
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		return nil, errors.New("set CARELEDGER_WALLET_PASSPHRASE or run in a terminal to be asked for the wallet passphrase")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "passphrase for %q: ", label)
	p, err := term.ReadPassword(int(os.Stdin.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	return p, err
}

// print writes v as JSON with --json, else as a table of the given columns.
func (s *session) print(v any, header []string, rows [][]string) error {
	if s.json {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func day(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2 January 2006, 15:04")
}

func until(t *time.Time) string {
	if t == nil {
		return "until revoked"
	}
	return day(*t)
}

func short(s string) string {
	if len(s) > 12 {
		return s[:12] + "…"
	}
	return s
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func writeOutput(cmd *cobra.Command, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := cmd.OutOrStdout().Write(data)
		return err
	}
	return writeTo(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

func createFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
}
