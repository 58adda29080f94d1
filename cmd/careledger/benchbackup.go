package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/internal/backup"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/spf13/cobra"
)

func newBenchBackupCmd(g *globals) *cobra.Command {
	var fill, during time.Duration
	var clients, records int
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Online backup and restore + verify time and size for a ledger of a given size",
		Long: `Starts a fresh stack in a temporary directory, uploads --records encrypted records, fills the
ledger with Grant transactions from --clients fabric-gateway clients for --fill, then takes an
online backup while the same clients keep writing, stops the stack and restores the archive into
a new directory (manifest check, index rebuild, ledger verify, erasures, ciphertext hashes).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			machineLine(out)
			root, err := os.MkdirTemp("", "careledger-bench-backup-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(root)
			live := filepath.Join(root, "live")
			s, err := startStack(ctx, stackConfig{DataDir: live, LedgerAddr: "127.0.0.1:0", KeyPassphrase: []byte("bench"), WalletPassword: []byte("bench"), Logger: g.logger()})
			if err != nil {
				return err
			}
			defer s.Close()
			cons := s.node.Config().Consortium
			netDir := filepath.Join(live, "network")
			pu, err := network.LoadUser(netDir, cons.Orgs[0], "patient1")
			if err != nil {
				return err
			}
			sign, err := identity.NewPrivateKeySign(pu.Key)
			if err != nil {
				return err
			}
			patient, err := s.clientFor(pu.MSPID, pu.CertPEM, sign)
			if err != nil {
				return err
			}
			owner := model.PseudonymFor(pu.MSPID, pu.EnrollmentID)
			for range records {
				if _, err := s.svc.Upload(ctx, patient, gateway.Upload{Owner: owner, Content: gateway.Content{MediaType: fhir.MediaType, Data: fhirOfSize(4 << 10)}}); err != nil {
					return fmt.Errorf("upload: %w", err)
				}
			}
			round := 0
			write := func(d time.Duration, w io.Writer) (*network.BenchResult, error) {
				round++
				r := round
				return network.Bench(ctx, w, s.node.BenchTarget(pu), network.BenchOptions{
					Clients: clients, SubmitDuration: d,
					Submit: func(c, i int) (string, []string) {
						return "Grant", []string{fmt.Sprintf(`{"id":"bb-%d-%d-%d","grantee":{"id":"%08x%08x%016x"},"actions":["read"],"categories":["lab"],"purpose":"TREAT"}`, r, c, i, r, c, i)}
					},
				})
			}
			t0 := time.Now()
			filled, err := write(fill, io.Discard)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "filled: %d records, %d Grant transactions in %.0fs (%.0f tx/s, %d clients), height %d\n",
				records, filled.Committed, time.Since(t0).Seconds(), filled.SubmitPerSecond, clients, s.node.Height())

			// Online backup while the clients keep writing.
			archive := filepath.Join(root, "backup.tar.zst")
			done := make(chan *network.BenchResult, 1)
			go func() {
				r, _ := write(during, io.Discard)
				done <- r
			}()
			time.Sleep(during / 4)
			f, err := os.Create(archive)
			if err != nil {
				return err
			}
			t0 = time.Now()
			m, err := backup.Write(ctx, f, backup.Options{DataDir: live, TempDir: root, AuditSnapshot: auditFromRunning(live)})
			if err == nil {
				err = f.Sync()
			}
			f.Close()
			if err != nil {
				return err
			}
			took := time.Since(t0)
			st, _ := os.Stat(archive)
			bg := <-done
			fmt.Fprintf(out, "online backup: %.1fs, %.1f MiB archive, %d files, height %d; writes meanwhile: %.0f tx/s (%d committed, %d failed) vs %.0f tx/s before\n",
				took.Seconds(), float64(st.Size())/(1<<20), len(m.Files), m.Ledger.Height, bg.SubmitPerSecond, bg.Committed, bg.Failed, filled.SubmitPerSecond)
			if err := s.Close(); err != nil {
				return err
			}

			in, err := os.Open(archive)
			if err != nil {
				return err
			}
			defer in.Close()
			t0 = time.Now()
			rep, err := backup.Restore(ctx, in, backup.RestoreOptions{DataDir: filepath.Join(root, "restored"), VerifyLedger: verifyNodeDir})
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "restore + verify: %.1fs (height %d, %d ciphertexts checked against the ledger, %d erasures applied): unpack and check files %.1fs, rebuild index %.1fs, verify ledger %.1fs, erasures and ciphertexts %.1fs\n",
				time.Since(t0).Seconds(), rep.Height, rep.Blobs, len(rep.Erased), rep.Took.Extract.Seconds(), rep.Took.Index.Seconds(), rep.Took.Verify.Seconds(), rep.Took.Records.Seconds())
			return nil
		},
	}
	cmd.Flags().DurationVar(&fill, "fill", 30*time.Second, "how long to fill the ledger with transactions before the backup")
	cmd.Flags().DurationVar(&during, "during", 20*time.Second, "how long the clients keep writing around the online backup")
	cmd.Flags().IntVar(&clients, "clients", 50, "concurrent fabric-gateway clients writing")
	cmd.Flags().IntVar(&records, "records", 200, "encrypted 4 KiB records to upload first")
	return cmd
}
