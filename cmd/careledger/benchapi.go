package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/wallet"
	"github.com/spf13/cobra"
)

func newBenchAPICmd() *cobra.Command {
	var requests, concurrency int
	fhir := defaultFHIRBench
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Granted reads, FHIR searches and $everything per second and latency through the full HTTPS stack",
		Long: `Runs the whole stack and the API in a temporary directory; the demo patient grants the demo
clinician read access, then the clinician reads through HTTPS with a client certificate
(TLS, authentication, ledger decision, hash check, decryption, durable audit queue).
Then the patient uploads 50 lab Observations (64 KiB in all) and 150 Conditions as FHIR
transactions, and clinicians' sessions search the Observations and read $everything.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			machineLine(out)
			s, dir, stop, err := startBenchAPI(ctx, "careledger-bench-api-")
			if err != nil {
				return err
			}
			defer stop()
			caFile, _, _ := apiTLSFiles(dir)
			caPEM, err := os.ReadFile(caFile)
			if err != nil {
				return err
			}
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(caPEM)
			ids := map[string]*wallet.Identity{}
			as := func(label string) (*client.Client, error) {
				id, err := s.wallet.Get(label, []byte(benchPassphrase))
				if err != nil {
					return nil, err
				}
				ids[label] = id
				return client.New("https://"+s.apiAddr, client.WithIdentity(id.MSPID(), id.CertificatePEM(), id.Signer()),
					client.WithRootCAs(roots), client.WithMaxConnsPerHost(concurrency))
			}
			patient, err := as("patient")
			if err != nil {
				return err
			}
			clinician, err := as("clinician")
			if err != nil {
				return err
			}
			if _, err := api.BenchAPI(ctx, out, api.BenchTarget{Patient: patient, Clinician: clinician}, api.BenchOptions{Requests: requests, Concurrency: concurrency}); err != nil {
				return fmt.Errorf("bench api: %w", err)
			}
			return benchFHIR(ctx, out, "https://"+s.apiAddr, roots, ids["patient"], ids["clinician"], patient, fhir)
		},
	}
	cmd.Flags().IntVar(&requests, "requests", 5000, "granted reads to make")
	cmd.Flags().IntVar(&concurrency, "concurrency", 50, "concurrent clients")
	cmd.Flags().IntVar(&fhir.Searches, "fhir-searches", fhir.Searches, "FHIR Observation searches to make")
	cmd.Flags().IntVar(&fhir.Everythings, "fhir-everything", fhir.Everythings, "FHIR $everything requests to make")
	cmd.Flags().IntVar(&fhir.Concurrency, "fhir-concurrency", fhir.Concurrency, "concurrent clinicians' sessions for the FHIR figures")
	return cmd
}

// benchPassphrase protects the key store and the wallet of a benchmark's stack.
const benchPassphrase = "bench"

// startBenchAPI starts the whole stack and the API in a new temporary directory; stop shuts
// it down and removes the directory.
func startBenchAPI(ctx context.Context, prefix string) (s *stack, dir string, stop func(), err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return nil, "", nil, err
	}
	pass := []byte(benchPassphrase)
	s, err = startStack(ctx, stackConfig{DataDir: dir, LedgerAddr: "127.0.0.1:0", DecisionTTL: 2 * time.Second, KeyPassphrase: pass, WalletPassword: pass})
	if err == nil {
		if err = s.serveAPI("127.0.0.1:0"); err != nil {
			s.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", nil, err
	}
	return s, dir, func() { s.Close(); os.RemoveAll(dir) }, nil
}
