package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

func newUpCmd(g *globals) *cobra.Command {
	var ledgerAddr string
	var ttl time.Duration
	var ext externalFlags
	var fabricFile, apiAddr string
	var limits api.ServerLimits
	var demoPatients int
	var demoSeed uint64
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run CareLedger on this machine: ledger, keys, record store, gateway and API",
		Long: `up starts, in one process, the embedded Fabric-protocol ledger with the default
consortium (PatientsMSP, ClinicMSP, PharmaMSP), the record key store (local, Vault Transit with
--vault-addr, or a PKCS#11 token with --pkcs11-module and --pkcs11-token), the encrypted
record store, the audit trail and the gateway. The first start generates the consortium's crypto
material, sets the role policy and puts demo identities into a wallet under --data-dir, then
generates a demo population (--demo-population synthetic patients, from --demo-seed) and
publishes a demo cohort from it; later starts reuse everything. Stop it with Ctrl-C.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := g.logger()
			out := cmd.OutOrStdout()
			vault, s3, err := ext.resolve()
			if err != nil {
				return err
			}
			hsm, err := ext.resolvePKCS11()
			if err != nil {
				return err
			}
			var fabric *connprofile.Profile
			if fabricFile != "" {
				if fabric, err = connprofile.Load(fabricFile); err != nil {
					return err
				}
			}
			lock, err := lockDataDir(g.dataDir)
			if err != nil {
				return err
			}
			defer lock.release()
			progress, finish := stepReporter(out, len(startSteps))
			s, err := startStack(ctx, stackConfig{
				Vault: vault, PKCS11: hsm, S3: s3, Fabric: fabric,
				DataDir: g.dataDir, LedgerAddr: ledgerAddr, DecisionTTL: ttl, Logger: log,
				KeyPassphrase:  []byte(os.Getenv("CARELEDGER_KEYSTORE_PASSPHRASE")),
				WalletPassword: []byte(envOr("CARELEDGER_WALLET_PASSPHRASE", demoWalletPassphrase)),
				Progress:       progress,
				HTTPLimits:     limits,
			})
			finish()
			if err != nil {
				return err
			}
			defer s.Close()
			if err := s.serveAPI(apiAddr); err != nil {
				return err
			}
			// The commands of this machine find the API here; a clean stop removes it.
			caFile, _, _ := apiTLSFiles(g.dataDir)
			if caFile, err = filepath.Abs(caFile); err != nil {
				return err
			}
			if err := writeEndpoint(g.dataDir, "https://"+s.apiAddr, caFile); err != nil {
				return err
			}
			defer os.Remove(endpointFile(g.dataDir))
			if err := s.ensureDemoPopulation(ctx, demoPopulation{Patients: demoPatients, Seed: demoSeed, Out: out}); err != nil {
				if ctx.Err() != nil {
					fmt.Fprintln(out, "\nstopping: the demo population is partly in; the next start adds the rest")
					return s.Close()
				}
				return err
			}
			printWelcome(out, g, s)
			<-ctx.Done()
			fmt.Fprintln(out, "\nstopping: flushing the audit trail and closing the ledger")
			return s.Close()
		},
	}
	cmd.Flags().StringVar(&ledgerAddr, "ledger-listen", envOr("CARELEDGER_LEDGER_LISTEN", "127.0.0.1:7051"), "listen address of the ledger's Fabric Gateway service (env CARELEDGER_LEDGER_LISTEN)")
	ext.register(cmd)
	cmd.Flags().StringVar(&apiAddr, "api-listen", envOr("CARELEDGER_API_LISTEN", defaultAPIAddr), "HTTPS listen address of the API (env CARELEDGER_API_LISTEN)")
	cmd.Flags().StringVar(&fabricFile, "fabric", os.Getenv("CARELEDGER_FABRIC_CONNECTION"), "run against a Fabric network described by this connection file (test-network/build/careledger-connection.json) instead of the embedded ledger (env CARELEDGER_FABRIC_CONNECTION)")
	cmd.Flags().DurationVar(&limits.ReadHeaderTimeout, "http-header-timeout", 10*time.Second, "time a client has to send a request's headers")
	cmd.Flags().DurationVar(&limits.BodyGrace, "http-body-grace", 30*time.Second, "time a request body or a response may take before --http-min-rate applies")
	cmd.Flags().Int64Var(&limits.MinRate, "http-min-rate", 16<<10, "slowest average rate, in bytes per second, at which a client must send a body and read a response; slower clients are disconnected")
	cmd.Flags().DurationVar(&limits.IdleTimeout, "http-idle-timeout", 2*time.Minute, "how long a kept-alive connection may stay idle")
	cmd.Flags().IntVar(&demoPatients, "demo-population", defaultDemoPopulation, "synthetic demo patients generated on first start, with records, research consent and grants to the demo clinician (0: none)")
	cmd.Flags().Uint64Var(&demoSeed, "demo-seed", defaultDemoSeed, "seed of the demo population: the same seed gives the same patients")
	cmd.Flags().DurationVar(&ttl, "decision-cache", 2*time.Second, "how long an allowed access decision may be reused; revocations drop it at once")
	return cmd
}

// printDevKeysWarning says that the local key store with its passphrase file is a development
// mode, and what to use instead.
func printDevKeysWarning(w io.Writer, dataDir string) {
	fmt.Fprintf(w, `DEVELOPMENT MODE: patients' keys are in the local key store, and the passphrase that
opens it is in a file next to them:
  %s
Anyone who can read the data directory can decrypt every record. For real patients' data,
keep the keys elsewhere:
  Vault Transit   --vault-addr https://vault:8200, token in VAULT_TOKEN
  an HSM          --pkcs11-module /path/to/module.so --pkcs11-token LABEL, PIN in %s
or at least give the passphrase in CARELEDGER_KEYSTORE_PASSPHRASE instead of the file.

`, filepath.Join(dataDir, "keystore.passphrase"), pkcs11PINEnv)
}

// demoWalletPassphrase protects the demo identities `up` creates; set
// CARELEDGER_WALLET_PASSPHRASE for anything but a demo.
const demoWalletPassphrase = "careledger-demo"

// stepReporter shows start-up progress: a progress bar on a terminal, a line per step
// otherwise (logs, CI).
func stepReporter(w io.Writer, steps int) (progress func(string), finish func()) {
	if f, ok := w.(*os.File); !ok || !term.IsTerminal(int(f.Fd())) {
		return func(step string) { fmt.Fprintf(w, "starting: %s\n", step) }, func() {}
	}
	bar := progressbar.NewOptions(steps,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("starting"),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(24),
		progressbar.OptionClearOnFinish(),
	)
	return func(step string) {
			bar.Describe(fmt.Sprintf("%-20s", step))
			bar.Add(1)
		}, func() {
			bar.Finish()
			fmt.Fprintln(w)
		}
}

func printWelcome(w io.Writer, g *globals, s *stack) {
	fmt.Fprintf(w, "CareLedger is running.\n\n")
	fmt.Fprintf(w, "  ledger     %s; channel %s, chaincode %s\n", s.ledgerDesc, s.channel, s.chaincode)
	if s.node != nil {
		cons := s.node.Config().Consortium
		fmt.Fprintf(w, "             height %d\n", s.node.Height())
		fmt.Fprintf(w, "  TLS CA     %s\n", filepath.Join(g.dataDir, "network", "organizations", "peerOrganizations", cons.Operator().Domain, "tlsca"))
	}
	caFile, _, _ := apiTLSFiles(g.dataDir)
	fmt.Fprintf(w, "  web UI     https://%s/ (sign in with a wallet identity; trust the TLS CA %s)\n", s.apiAddr, caFile)
	fmt.Fprintf(w, "  API        https://%s/v1 (OpenAPI: /openapi.yaml; clients authenticate with their certificate)\n", s.apiAddr)
	fmt.Fprintf(w, "  keys       %s\n", s.keysDesc)
	fmt.Fprintf(w, "  data       %s\n", g.dataDir)
	fmt.Fprintf(w, "  wallet     %s (demo identities: patient, clinician, manufacturer, anonymizer, admin)\n", filepath.Join(g.dataDir, "wallet"))
	printDemoPopulation(w, g.dataDir)
	fmt.Fprintln(w)
	if s.devKeys {
		printDevKeysWarning(w, g.dataDir)
	}
	if s.node != nil {
		fmt.Fprintf(w, "Verify the ledger's hash chain and signatures (after stopping): careledger ledger verify --data-dir %s\n", g.dataDir)
	}
	dd := ""
	if g.dataDir != defaultDataDir() {
		dd = " --data-dir " + g.dataDir
	}
	fmt.Fprintf(w, "Try, in another terminal (wallet passphrase: CARELEDGER_WALLET_PASSPHRASE, %q for the demo wallet):\n", demoWalletPassphrase)
	for _, ex := range []string{
		"patient whoami", "patient upload --file docs/examples/fhir/observation-hba1c.json", "patient grant --to <clinician pseudonym> --category lab --days 30",
		"patient audit", "clinician patients", "clinician history <patient pseudonym>", "manufacturer cohorts",
		"manufacturer feasibility --purpose drug-safety --criteria docs/examples/cohort/criteria-hypertension-50plus.json",
		"anonymizer publish --purpose drug-safety --k 5 --definition docs/examples/cohort/extract-t2dm.json",
	} {
		fmt.Fprintf(w, "  careledger%s %s\n", dd, ex)
	}
	fmt.Fprintf(w, "(they find this API through %s)\n", endpointFile(g.dataDir))
	fmt.Fprintf(w, "\nPress Ctrl-C to stop; everything is kept for the next start.\n")
}
