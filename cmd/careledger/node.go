package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/network"
	"github.com/spf13/cobra"
)

// nodeFlags are the flags of `careledger node` that choose the network it serves and the
// chaincode it runs.
type nodeFlags struct {
	listen            string
	noTLS             bool
	tlsHosts          []string
	batch             int
	batchTimeout      time.Duration
	channel           string
	chaincode         string
	endorsementPolicy string
	mspDir            string
	ccaasAddress      string
	ccaasRootCert     string
	ccaasClientCert   string
	ccaasClientKey    string
	ccaasDialTimeout  time.Duration
	connectionJSON    string
}

func newNodeCmd(g *globals) *cobra.Command {
	var f nodeFlags
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the embedded ledger node alone (Fabric Gateway service with the CareLedger chaincode, or any chaincode as a service)",
		Long: `node runs the embedded ledger node alone. By default it serves the CareLedger consortium and
runs the CareLedger chaincode in-process. With --msp it serves the organisations of a
fabric-samples style organizations/ tree instead, and with --ccaas-address or --connection-json
it runs any chaincode that is started as a chaincode server (chaincode as a service), so an
application written for a Fabric network runs against it unchanged.

The node keeps the consortium it serves in <data-dir>/network/consortium.json, so that a
restart without flags and 'careledger ledger verify' use the same one.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd, filepath.Join(g.dataDir, "network"))
			if err != nil {
				return err
			}
			n, err := network.New(cfg, network.WithLogger(g.logger()))
			if err != nil {
				return err
			}
			defer n.Close()
			if err := saveConsortium(cfg.Dir, n.Config().Consortium); err != nil {
				return err
			}
			if err := n.Start(cmd.Context()); err != nil {
				return err
			}
			c := n.Config().Consortium
			fmt.Fprintf(cmd.OutOrStdout(), "ledger node listening on %s (TLS server name %s, height %d); channel %s, chaincode %s, endorsement policy %s\n",
				n.Addr(), n.ServerName(), n.Height(), c.Channel, c.Chaincode, c.EndorsementPolicy)
			<-cmd.Context().Done()
			return n.Close()
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", envOr("CARELEDGER_LEDGER_LISTEN", network.DefaultListenAddr), "gRPC listen address (env CARELEDGER_LEDGER_LISTEN)")
	fl.BoolVar(&f.noTLS, "insecure-no-tls", false, "serve plain gRPC (tests only)")
	fl.StringSliceVar(&f.tlsHosts, "tls-host", nil, "extra host name or IP address for the node's TLS certificate (repeatable)")
	fl.IntVar(&f.batch, "batch-size", network.DefaultBatchSize, "most transactions per block")
	fl.DurationVar(&f.batchTimeout, "batch-timeout", 0, "how long to wait for more transactions once a block is started")
	fl.StringVar(&f.channel, "channel", "", "channel name (default careledger, or the one the data directory was started with)")
	fl.StringVar(&f.chaincode, "chaincode", "", "chaincode name (default careledger, or the one the data directory was started with)")
	fl.StringVar(&f.endorsementPolicy, "endorsement-policy", "", `chaincode endorsement policy, e.g. "AND('Org1MSP.peer','Org2MSP.peer')" or "MAJORITY Endorsement" (default: every peer organisation)`)
	fl.StringVar(&f.mspDir, "msp", "", "serve the organisations of this fabric-samples style organizations/ folder (cryptogen or Fabric CA layout), copied into the data directory")
	fl.StringVar(&f.ccaasAddress, "ccaas-address", "", "run the chaincode server at host:port (chaincode as a service) instead of the CareLedger chaincode")
	fl.StringVar(&f.ccaasRootCert, "ccaas-root-cert", "", "with --ccaas-address: CA certificate file to verify the chaincode server's TLS certificate (turns TLS on)")
	fl.StringVar(&f.ccaasClientCert, "ccaas-client-cert", "", "with --ccaas-root-cert: client certificate file the node presents (mutual TLS)")
	fl.StringVar(&f.ccaasClientKey, "ccaas-client-key", "", "with --ccaas-client-cert: its private key file")
	fl.DurationVar(&f.ccaasDialTimeout, "ccaas-dial-timeout", 10*time.Second, "with --ccaas-address: how long connecting to the chaincode server may take")
	fl.StringVar(&f.connectionJSON, "connection-json", "", "run the chaincode server described by this ccaas connection.json (as Fabric's ccaas builder reads it)")
	cmd.MarkFlagsMutuallyExclusive("ccaas-address", "connection-json")
	return cmd
}

// config builds the node's configuration for data directory dir from the flags.
func (f *nodeFlags) config(cmd *cobra.Command, dir string) (network.Config, error) {
	cfg := network.Config{Dir: dir, ListenAddr: f.listen, InsecureNoTLS: f.noTLS, TLSHosts: f.tlsHosts,
		BatchSize: f.batch, BatchTimeout: f.batchTimeout}
	c, err := loadConsortium(dir)
	if err != nil {
		return cfg, err
	}
	if f.mspDir != "" {
		if c.Orgs, err = network.ImportOrganizations(dir, f.mspDir); err != nil {
			return cfg, err
		}
		// Policies over CareLedger's organisations do not apply to imported ones.
		c.Policies, c.ACLs = nil, nil
		if !cmd.Flags().Changed("endorsement-policy") {
			c.EndorsementPolicy = ""
		}
	}
	if f.channel != "" {
		c.Channel = f.channel
	}
	if f.chaincode != "" {
		c.Chaincode = f.chaincode
	}
	if f.endorsementPolicy != "" {
		c.EndorsementPolicy = f.endorsementPolicy
	}
	cfg.Consortium = c
	if cfg.External, err = f.external(); err != nil {
		return cfg, err
	}
	if cfg.External == nil {
		if cfg.Chaincode, err = contract.NewChaincode(); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

// external describes the chaincode server the flags name, or nil for the in-process one.
func (f *nodeFlags) external() (*network.ExternalChaincode, error) {
	if f.connectionJSON != "" {
		b, err := os.ReadFile(f.connectionJSON)
		if err != nil {
			return nil, err
		}
		ext, err := network.ParseConnectionJSON(b)
		if err != nil {
			return nil, err
		}
		return &ext, nil
	}
	if f.ccaasAddress == "" {
		if f.ccaasRootCert != "" || f.ccaasClientCert != "" || f.ccaasClientKey != "" {
			return nil, errors.New("the --ccaas-* TLS flags need --ccaas-address")
		}
		return nil, nil
	}
	ext := &network.ExternalChaincode{Address: f.ccaasAddress, DialTimeout: f.ccaasDialTimeout}
	read := func(path string, dst *[]byte) error {
		if path == "" {
			return nil
		}
		b, err := os.ReadFile(path)
		*dst = b
		return err
	}
	if err := errors.Join(read(f.ccaasRootCert, &ext.RootCertPEM), read(f.ccaasClientCert, &ext.ClientCertPEM), read(f.ccaasClientKey, &ext.ClientKeyPEM)); err != nil {
		return nil, err
	}
	ext.TLSRequired = len(ext.RootCertPEM) > 0
	ext.ClientAuthRequired = len(ext.ClientCertPEM) > 0
	switch {
	case !ext.TLSRequired && (ext.ClientAuthRequired || len(ext.ClientKeyPEM) > 0):
		return nil, errors.New("--ccaas-client-cert and --ccaas-client-key need --ccaas-root-cert")
	case ext.ClientAuthRequired != (len(ext.ClientKeyPEM) > 0):
		return nil, errors.New("--ccaas-client-cert and --ccaas-client-key go together")
	}
	return ext, nil
}

// consortiumFile is where `careledger node` keeps the consortium a data directory serves.
const consortiumFile = "consortium.json"

// loadConsortium reads the consortium a node in dir was last started with, or returns the
// zero value (CareLedger's default) if there is none.
func loadConsortium(dir string) (network.Consortium, error) {
	var c network.Consortium
	b, err := os.ReadFile(filepath.Join(dir, consortiumFile))
	if errors.Is(err, os.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("read %s: %w", consortiumFile, err)
	}
	return c, nil
}

func saveConsortium(dir string, c network.Consortium) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, consortiumFile), append(b, '\n'), 0o644)
}

func newLedgerCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "ledger", Short: "Inspect the embedded ledger"}
	cmd.AddCommand(&cobra.Command{
		Use:   "verify",
		Short: "Check the block store: hash chain, data hashes, every transaction's signatures and endorsement policy",
		Long: `verify walks every block of the embedded ledger in --data-dir (the node must be stopped)
and checks block numbers, the previous-hash chain, data hashes, the orderer's signature and, for
every valid transaction, the creator's signature, transaction ID and endorsements, which must
satisfy the endorsement policy in force for its block. It reports the first broken block and
exits non-zero if a byte was changed.`,
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
			c, err := loadConsortium(netDir)
			if err != nil {
				return err
			}
			rep, err := network.Verify(cmd.Context(), network.Config{Dir: netDir, Consortium: c})
			if err != nil {
				return fmt.Errorf("ledger verification failed: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ledger verified: %d blocks, %d transactions (%d valid); hash chain, signatures and endorsement policies intact\n", rep.Blocks, rep.Transactions, rep.ValidTransactions)
			return nil
		},
	})
	return cmd
}
