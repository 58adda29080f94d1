package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/network"
	"github.com/spf13/cobra"
)

func newNodeCmd(g *globals) *cobra.Command {
	var listen string
	var noTLS bool
	var batch int
	var batchTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the embedded ledger node alone (Fabric Gateway service with the CareLedger chaincode)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			cc, err := contract.NewChaincode()
			if err != nil {
				return err
			}
			n, err := network.New(network.Config{
				Dir: filepath.Join(g.dataDir, "network"), ListenAddr: listen, InsecureNoTLS: noTLS,
				Chaincode: cc, BatchSize: batch, BatchTimeout: batchTimeout,
			}, network.WithLogger(g.logger()))
			if err != nil {
				return err
			}
			defer n.Close()
			if err := n.Start(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger node listening on %s (TLS server name %s, height %d)\n", n.Addr(), n.ServerName(), n.Height())
			<-cmd.Context().Done()
			return n.Close()
		},
	}
	cmd.Flags().StringVar(&listen, "listen", envOr("CARELEDGER_LEDGER_LISTEN", network.DefaultListenAddr), "gRPC listen address (env CARELEDGER_LEDGER_LISTEN)")
	cmd.Flags().BoolVar(&noTLS, "insecure-no-tls", false, "serve plain gRPC (tests only)")
	cmd.Flags().IntVar(&batch, "batch-size", network.DefaultBatchSize, "most transactions per block")
	cmd.Flags().DurationVar(&batchTimeout, "batch-timeout", 0, "how long to wait for more transactions once a block is started")
	return cmd
}

func newLedgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Inspect the embedded ledger"}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check the block store: hash chain, data hashes, and every transaction's signatures",
		Long: `verify walks every block of the embedded ledger in --data-dir (the node must be stopped)
and checks block numbers, the previous-hash chain, data hashes, the orderer's signature and, for
every valid transaction, the creator's signature, transaction ID and endorsements. It reports the
first broken block and exits non-zero if a byte was changed.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			netDir := filepath.Join(g.dataDir, "network")
			inUse, pid, release, err := ledgerInUse(network.LedgerDir(netDir), g.dataDir)
			if err != nil {
				return err
			}
			if inUse {
				if pid > 0 {
					return fmt.Errorf("the ledger in %s is in use by a running node (careledger up, pid %d): stop it first", g.dataDir, pid)
				}
				return fmt.Errorf("the ledger in %s is in use by a running node: stop it first", g.dataDir)
			}
			defer release()
			rep, err := network.Verify(cmd.Context(), network.Config{Dir: netDir})
			if err != nil {
				return fmt.Errorf("ledger verification failed: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger verified: %d blocks, %d transactions (%d valid); hash chain and signatures intact\n", rep.Blocks, rep.Transactions, rep.ValidTransactions)
			return nil
		},
	})
	return cmd
}
