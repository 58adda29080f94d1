package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careledger/careledger/anonymizer"
	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/spf13/cobra"
)

func newBenchCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure CareLedger and print figures",
		Long:  "Each benchmark runs against fresh embedded components in a temporary directory and prints its figures with the machine's core count and the runtime profile (throughput unless --runtime-profile says otherwise).",
	}
	var cpuProfile string
	var profile *os.File
	cmd.PersistentFlags().StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (for go tool pprof)")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		// This replaces the root's hook: the benchmarks run with the tuning they were
		// measured with, and machineLine prints it.
		if _, err := g.setUpRuntime(profileThroughput); err != nil {
			return err
		}
		if cpuProfile == "" {
			return nil
		}
		f, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		profile = f
		return nil
	}
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error {
		if profile == nil {
			return nil
		}
		pprof.StopCPUProfile()
		return profile.Close()
	}
	cmd.AddCommand(newBenchLedgerCmd(g), newBenchKeysCmd(), newBenchRecordsCmd(), newBenchAnonymizerCmd(), newBenchAPICmd(), newBenchCrashCmd(), newBenchLoadCmd(), newBenchResearchCmd(), newBenchCLICmd())
	return cmd
}

func machineLine(w io.Writer) {
	host, _ := os.Hostname()
	fmt.Fprintf(w, "machine: %s, %d CPUs (runtime.NumCPU), GOMAXPROCS %d, %s\n", host, numCPU(), runtime.GOMAXPROCS(0), goVersion())
	fmt.Fprintln(w, runtimeLine(appliedProfile))
}

func newBenchLedgerCmd(g *globals) *cobra.Command {
	var clients int
	var submitDur, evalDur time.Duration
	cmd := &cobra.Command{
		Use:   "ledger",
		Short: "Committed transactions per second and latency through the fabric-gateway SDK",
		Long: `Drives a fresh embedded node with N concurrent fabric-gateway clients. Submits are CareLedger
Grant transactions (endorse, order, wait for commit); evaluates are CheckAccess queries.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			machineLine(out)
			dir, err := os.MkdirTemp("", "careledger-bench-ledger-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			cc, err := contract.NewChaincode()
			if err != nil {
				return err
			}
			n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: cc}, network.WithLogger(g.logger()))
			if err != nil {
				return err
			}
			defer n.Close()
			if err := n.Start(ctx); err != nil {
				return err
			}
			cons := n.Config().Consortium
			patient, err := network.IssueUser(dir, cons.Orgs[0], network.UserSpec{Name: "bench-patient", Role: network.RolePatient})
			if err != nil {
				return err
			}
			owner := model.PseudonymFor(patient.MSPID, patient.EnrollmentID)
			if err := registerBenchRecord(ctx, n, patient, owner); err != nil {
				return err
			}
			_, err = network.Bench(ctx, out, n.BenchTarget(patient), network.BenchOptions{
				Clients: clients, SubmitDuration: submitDur, EvaluateDuration: evalDur,
				Submit: func(c, i int) (string, []string) {
					// Each grant to a grantee of its own: one patient may hold at most
					// contract.MaxActiveGrants grants in force for one grantee.
					return "Grant", []string{fmt.Sprintf(`{"id":"bench-%d-%d","grantee":{"id":"%016x%016x"},"actions":["read"],"categories":["lab"],"purpose":"TREAT"}`, c, i, c, i)}
				},
				Evaluate: func(c, i int) (string, []string) { return "CheckAccess", []string{"bench-record", "read", ""} },
			})
			return err
		},
	}
	cmd.Flags().IntVar(&clients, "clients", 100, "concurrent clients")
	cmd.Flags().DurationVar(&submitDur, "submit", 10*time.Second, "how long to submit")
	cmd.Flags().DurationVar(&evalDur, "evaluate", 5*time.Second, "how long to evaluate")
	return cmd
}

func registerBenchRecord(ctx context.Context, n *network.Node, u *network.User, owner string) error {
	cons := n.Config().Consortium
	conn, err := ledger.Dial(ledger.Endpoint{Address: n.Addr(), TLSCACertPEM: n.TLSCACertPEM(), ServerNameOverride: n.ServerName()}, cons.Channel, cons.Chaincode, ledger.Timeouts{})
	if err != nil {
		return err
	}
	defer conn.Close()
	s := &stack{conn: conn}
	sign, err := identity.NewPrivateKeySign(u.Key)
	if err != nil {
		return err
	}
	c, err := s.clientFor(u.MSPID, u.CertPEM, sign)
	if err != nil {
		return err
	}
	_, err = c.RegisterRecord(ctx, model.NewRecord{ID: "bench-record", Owner: owner, Category: "lab", Hash: strings.Repeat("ab", 32), Locator: "sha256:bench"})
	return err
}

func newBenchKeysCmd() *cobra.Command {
	var ext externalFlags
	cmd := &cobra.Command{
		Use:   "keys",
		Short: "Envelope encryption and key wrapping against the machine's raw AES-GCM and SHA-256",
		Long: `Measures the record encryption path with the local key store and, given --pkcs11-module
and --pkcs11-token (PIN in CARELEDGER_PKCS11_PIN), again with the KEK on that PKCS#11 token,
side by side. The HSM run creates one throwaway patient key on the token and erases it at the
end, which leaves an erasure marker.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			hsm, err := ext.resolvePKCS11()
			if err != nil {
				return err
			}
			return benchKeys(cmd.Context(), cmd.OutOrStdout(), hsm)
		},
	}
	cmd.Flags().StringVar(&ext.pkcs11Module, "pkcs11-module", os.Getenv("CARELEDGER_PKCS11_MODULE"), "also measure with the KEK on a PKCS#11 token through this module (env CARELEDGER_PKCS11_MODULE; PIN from "+pkcs11PINEnv+")")
	cmd.Flags().StringVar(&ext.pkcs11Token, "pkcs11-token", os.Getenv("CARELEDGER_PKCS11_TOKEN"), "label of the PKCS#11 token (env CARELEDGER_PKCS11_TOKEN)")
	return cmd
}

func newBenchAnonymizerCmd() *cobra.Command {
	var adultDir string
	var rows int
	var seed uint64
	cmd := &cobra.Command{
		Use:   "anonymizer",
		Short: "Optimal generalisation on UCI Adult and a synthetic health cohort; DP counts",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			machineLine(out)
			if adultDir == "" {
				fmt.Fprintln(out, "adult: data set not found (set --adult-dir or CARELEDGER_ADULT_DIR); skipped")
			} else if err := anonymizer.BenchAdult(ctx, out, adultDir); err != nil {
				return err
			}
			if err := anonymizer.BenchCohort(ctx, out, rows, seed); err != nil {
				return err
			}
			return anonymizer.BenchDPRelease(ctx, out, rows, seed)
		},
	}
	cmd.Flags().StringVar(&adultDir, "adult-dir", adultDataDir(), "the UCI Adult data set with ARX's hierarchies (env CARELEDGER_ADULT_DIR)")
	cmd.Flags().IntVar(&rows, "rows", 1_200_000, "rows of the synthetic cohort")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed of the synthetic cohort")
	return cmd
}

// adultDataDir finds the Adult data: CARELEDGER_ADULT_DIR, else ../shared/data/adult from the
// working directory or the repository root, else "".
func adultDataDir() string {
	if d := os.Getenv("CARELEDGER_ADULT_DIR"); d != "" {
		return d
	}
	for _, c := range []string{"../shared/data/adult", "../../shared/data/adult", "../../../shared/data/adult"} {
		if st, err := os.Stat(filepath.Join(c, "adult.csv")); err == nil && !st.IsDir() {
			abs, _ := filepath.Abs(c)
			return abs
		}
	}
	return ""
}

func newBenchRecordsCmd() *cobra.Command {
	var readers, records int
	var dur time.Duration
	cmd := &cobra.Command{
		Use:   "records",
		Short: "Upload and granted-read throughput and latency of 4 KiB and 64 KiB FHIR records",
		Long: `Runs the whole embedded stack in a temporary directory. A patient uploads FHIR records and
grants a clinician read access; readers then fetch them through the clinic's gateway (ledger
decision, hash check, decryption, durable audit queue). Finally the grant is revoked and the
number of blocks until the first refusal is measured.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return benchRecords(cmd.Context(), cmd.OutOrStdout(), readers, records, dur)
		},
	}
	cmd.Flags().IntVar(&readers, "readers", 50, "concurrent readers")
	cmd.Flags().IntVar(&records, "records", 200, "records uploaded per size")
	cmd.Flags().DurationVar(&dur, "duration", 10*time.Second, "how long readers read, per size")
	return cmd
}

func benchRecords(ctx context.Context, out io.Writer, readers, records int, dur time.Duration) error {
	machineLine(out)
	dir, err := os.MkdirTemp("", "careledger-bench-records-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	s, err := startStack(ctx, stackConfig{DataDir: dir, LedgerAddr: "127.0.0.1:0", DecisionTTL: 2 * time.Second, KeyPassphrase: []byte("bench"), WalletPassword: []byte("bench")})
	if err != nil {
		return err
	}
	defer s.Close()
	cons := s.node.Config().Consortium
	netDir := filepath.Join(dir, "network")
	patientUser, err := network.IssueUser(netDir, cons.Orgs[0], network.UserSpec{Name: "bench-patient", Role: network.RolePatient})
	if err != nil {
		return err
	}
	clinicOrg, _ := cons.Org(network.ClinicMSP)
	clinicianUser, err := network.LoadUser(netDir, clinicOrg, "clinician1")
	if err != nil {
		return err
	}
	sign, err := identity.NewPrivateKeySign(patientUser.Key)
	if err != nil {
		return err
	}
	patient, err := s.clientFor(patientUser.MSPID, patientUser.CertPEM, sign)
	if err != nil {
		return err
	}
	owner := model.PseudonymFor(patientUser.MSPID, patientUser.EnrollmentID)
	doctor := model.PseudonymFor(clinicianUser.MSPID, clinicianUser.EnrollmentID)
	clinician := s.gateways[network.ClinicMSP].For(clinicianUser.CertPEM)
	if _, err := patient.Grant(ctx, model.GrantRequest{ID: "bench-grant", Grantee: model.Grantee{ID: doctor}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}); err != nil {
		return err
	}
	fmt.Fprintf(out, "raw AES-256-GCM: %.0f MiB/s (64 KiB blocks, one core)\n", rawAESGCM())
	var sample string
	for _, size := range []int{4 << 10, 64 << 10} {
		ids := make([]string, records)
		body := fhirOfSize(size)
		lat := make([]time.Duration, 0, records)
		t0 := time.Now()
		for i := range ids {
			t := time.Now()
			rec, err := s.svc.Upload(ctx, patient, gateway.Upload{Owner: owner, Content: gateway.Content{MediaType: fhir.MediaType, Data: body}})
			if err != nil {
				return fmt.Errorf("upload: %w", err)
			}
			lat = append(lat, time.Since(t))
			ids[i] = rec.ID
		}
		sample = ids[0]
		up := time.Since(t0)
		fmt.Fprintf(out, "upload %2d KiB: %d records in %.1fs, %.0f/s sequential, p50 %s p99 %s\n", size>>10, records, up.Seconds(), float64(records)/up.Seconds(), pct(lat, 50), pct(lat, 99))

		var done, failed atomic.Int64
		var mu sync.Mutex
		var all []time.Duration
		rctx, cancel := context.WithTimeout(ctx, dur)
		var wg sync.WaitGroup
		start := time.Now()
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func(r int) {
				defer wg.Done()
				var local []time.Duration
				for i := r; rctx.Err() == nil; i += readers {
					t := time.Now()
					if _, err := s.svc.Read(rctx, clinician, ids[i%len(ids)], 0, ""); err != nil {
						if rctx.Err() == nil {
							failed.Add(1)
						}
						continue
					}
					local = append(local, time.Since(t))
					done.Add(1)
				}
				mu.Lock()
				all = append(all, local...)
				mu.Unlock()
			}(r)
		}
		wg.Wait()
		cancel()
		el := time.Since(start)
		fmt.Fprintf(out, "granted read %2d KiB: %d readers, %.0f reads/s (%.1f MiB/s), p50 %s p99 %s, %d failed\n",
			size>>10, readers, float64(done.Load())/el.Seconds(), float64(done.Load())*float64(size)/el.Seconds()/(1<<20), pct(all, 50), pct(all, 99), failed.Load())
	}
	// Revocation: how many blocks after the revoke's block the first refusal comes.
	revoked, err := patient.RevokeGrant(ctx, "bench-grant")
	if err != nil {
		return err
	}
	revokeHeight := s.node.Height()
	_, err = s.svc.Read(ctx, clinician, sample, 0, "")
	if !errors.Is(err, gateway.ErrGrantRevoked) {
		return fmt.Errorf("read after revoke: want refusal, got %v", err)
	}
	fmt.Fprintf(out, "revoke (tx %s...) committed in block %d; the next read was refused with the ledger at height %d, i.e. within %d block(s) of the commit\n",
		revoked.RevokedTxID[:8], revokeHeight-1, s.node.Height(), s.node.Height()-revokeHeight)
	return s.flusher.Flush(ctx)
}

func fhirOfSize(n int) []byte {
	head := `{"resourceType":"Observation","status":"final","code":{"text":"bench"},"note":[{"text":"`
	tail := `"}]}`
	pad := n - len(head) - len(tail)
	return []byte(head + strings.Repeat("x", max(pad, 0)) + tail)
}

func pct(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	sorted := append([]time.Duration(nil), lat...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	return sorted[min(len(sorted)-1, len(sorted)*p/100)].Round(10 * time.Microsecond)
}

// rawAESGCM measures one core's AES-256-GCM seal throughput in MiB/s.
func rawAESGCM() float64 {
	key := make([]byte, 32)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	buf := make([]byte, 64<<10)
	nonce := make([]byte, aead.NonceSize())
	dst := make([]byte, 0, len(buf)+aead.Overhead())
	start := time.Now()
	n := 0
	for time.Since(start) < 300*time.Millisecond {
		dst = aead.Seal(dst[:0], nonce, buf, nil)
		n += len(buf)
	}
	return float64(n) / time.Since(start).Seconds() / (1 << 20)
}
