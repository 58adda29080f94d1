package main

import (
	"bytes"
	"crypto"
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
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/wallet"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

const defaultAPIAddr = "127.0.0.1:8443"

// session is a role command's connection to the API as one wallet identity.
type session struct {
	c     *client.Client
	agent *agentConn // nil when the key is in this process
	out   io.Writer
	json  bool
}

// Close ends the session's connections.
func (s *session) Close() {
	s.c.Close()
	if s.agent != nil {
		s.agent.Close()
	}
}

// clientFlags are the flags every role command shares.
type clientFlags struct {
	api, as, walletDir, caFile string
	json                       bool
}

func (f *clientFlags) register(cmd *cobra.Command, label string) {
	p := cmd.PersistentFlags()
	p.StringVar(&f.api, "api", os.Getenv("CARELEDGER_API"), "the CareLedger API (env CARELEDGER_API; default: the careledger up running on --data-dir, else https://"+defaultAPIAddr+")")
	p.StringVar(&f.as, "as", label, "wallet label of the identity to act as")
	p.StringVar(&f.walletDir, "wallet", os.Getenv("CARELEDGER_WALLET"), "wallet directory (default: <data-dir>/wallet; env CARELEDGER_WALLET)")
	p.StringVar(&f.caFile, "api-ca", os.Getenv("CARELEDGER_API_CA"), "CA certificate that verifies the API's TLS certificate (default: the running up's, else <data-dir>/api/ca.pem)")
	p.BoolVar(&f.json, "json", false, "print JSON instead of tables")
}

// endpoint is the API to talk to and the CA file that verifies it: the flags, else what the
// `up` running on the data directory wrote, else the defaults.
func (f *clientFlags) endpoint(g *globals) (url, caFile string) {
	url, caFile = f.api, f.caFile
	if ep, ok := readEndpoint(g.dataDir); ok {
		if url == "" {
			url = ep.URL
		}
		if caFile == "" {
			caFile = ep.CA
		}
	}
	if url == "" {
		url = "https://" + defaultAPIAddr
	}
	if caFile == "" {
		caFile, _, _ = apiTLSFiles(g.dataDir)
	}
	return url, caFile
}

// open unlocks the identity and connects to the API with its certificate. The key is kept by
// the user's agent (started on demand; see `careledger agent`), which signs for this command;
// with CARELEDGER_AGENT=off or without an agent it is unlocked here. The passphrase comes from
// CARELEDGER_WALLET_PASSPHRASE, else it is asked on the terminal, and only when the agent does
// not hold the identity yet. Consent transactions are signed on this machine, offline, and
// only signatures are sent.
func (f *clientFlags) open(cmd *cobra.Command, g *globals) (*session, error) {
	dir := f.walletDir
	if dir == "" {
		dir = filepath.Join(g.dataDir, "wallet")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	w, err := wallet.Open(dir)
	if err != nil {
		return nil, err
	}
	file, err := w.File(f.as)
	if err != nil {
		return nil, err
	}
	url, caFile := f.endpoint(g)
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read the API's CA certificate: %w (start `careledger up` first, or pass --api-ca)", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	ask := func() ([]byte, error) { return passphrase(cmd, f.as) }
	s := &session{out: cmd.OutOrStdout(), json: f.json}
	var mspID string
	var certPEM []byte
	var signer crypto.Signer
	if agentEnabled() {
		if s.agent, err = connectAgent(); err != nil {
			g.logger().Debug("no key agent; unlocking the wallet in this process", "err", err)
		}
	}
	if s.agent != nil {
		id, err := unlockWithAgent(s.agent, dir, f.as, ask)
		if err != nil {
			s.agent.Close()
			return nil, err
		}
		mspID, certPEM, signer = id.mspID, id.certPEM, id.signer
	} else {
		pass, err := ask()
		if err != nil {
			return nil, err
		}
		id, err := unlockIdentity(file, pass)
		clear(pass)
		if err != nil {
			return nil, fmt.Errorf("unlock %q from the wallet: %w", f.as, err)
		}
		mspID, certPEM, signer = id.MSPID(), id.CertificatePEM(), id.Signer()
	}
	if s.c, err = client.New(url, client.WithIdentity(mspID, certPEM, signer), client.WithRootCAs(roots), client.WithTimeout(time.Minute)); err != nil {
		if s.agent != nil {
			s.agent.Close()
		}
		return nil, err
	}
	return s, nil
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

// list is print for listings: without --json, an empty listing says so in words instead of
// showing a bare header.
func (s *session) list(v any, header []string, rows [][]string, empty string) error {
	if !s.json && len(rows) == 0 {
		_, err := fmt.Fprintln(s.out, empty)
		return err
	}
	return s.print(v, header, rows)
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

// readContent reads a record's content (path, or - for stdin) and checks it locally before
// anything is unlocked or sent: FHIR content must be JSON, and a document sent as FHIR (a
// PDF without --type) gets a hint instead of the server's "malformed JSON".
func readContent(path, mediaType string, typeGiven bool) ([]byte, error) {
	if path == "" {
		return nil, errors.New("--file is required")
	}
	data, err := readInput(path)
	if err != nil {
		return nil, err
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	if mediaType != fhir.MediaType {
		return data, nil
	}
	if bytes.HasPrefix(data, []byte("%PDF-")) || strings.EqualFold(filepath.Ext(path), ".pdf") {
		hint := "upload it with --type application/pdf --category document"
		if typeGiven {
			hint = "--type says FHIR JSON; for a PDF use --type application/pdf --category document"
		}
		return nil, fmt.Errorf("%s is a PDF, not FHIR JSON: %s", path, hint)
	}
	if !json.Valid(data) {
		return nil, fmt.Errorf("%s is not JSON: records are FHIR R4 JSON, or documents with --type <media type> --category <category>", path)
	}
	return data, nil
}

// checkOutput fails when the file path (not - or empty: stdout) cannot be created because its
// directory is missing.
func checkOutput(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		return fmt.Errorf("-o %s: %w", path, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("-o %s: %s is not a directory", path, filepath.Dir(path))
	}
	return nil
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
