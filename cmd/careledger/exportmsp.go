package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/careledger/careledger/wallet"
	"github.com/spf13/cobra"
)

// newExportMSPCmd writes a wallet identity out as PEM files, for programs that are not
// CareLedger's own (a clinic system's FHIR client, a Node or Java test client) and present
// the certificate in the TLS handshake themselves.
func newExportMSPCmd(g *globals) *cobra.Command {
	var label, dir, walletDir string
	cmd := &cobra.Command{
		Use:   "export-msp",
		Short: "Write a wallet identity as PEM files (fabric-samples MSP layout) for an external client",
		Long: `export-msp writes the identity under --label to --dir: signcerts/cert.pem (the client
certificate), keystore/<SKI>_sk (its private key, PKCS#8 PEM, in clear, mode 0600) and
cacerts/ca.pem. A FHIR client connects to https://127.0.0.1:8443/fhir with the certificate
and key, trusting <data-dir>/api/ca.pem. Keep the folder on encrypted storage, or remove it
after use.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if walletDir == "" {
				walletDir = filepath.Join(g.dataDir, "wallet")
			}
			w, err := wallet.Open(walletDir)
			if err != nil {
				return err
			}
			pass, err := passphrase(cmd, label)
			if err != nil {
				return err
			}
			defer clear(pass)
			id, err := w.Get(label, pass)
			if err != nil {
				return err
			}
			if err := wallet.ExportMSP(id, dir); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote %q (%s, pseudonym %s) to %s\n", label, id.MSPID(), id.LedgerID(), dir)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&label, "label", "", "wallet label of the identity")
	f.StringVar(&dir, "dir", "", "folder to write the MSP layout to")
	f.StringVar(&walletDir, "wallet", os.Getenv("CARELEDGER_WALLET"), "wallet directory (default: <data-dir>/wallet)")
	cmd.MarkFlagRequired("label")
	cmd.MarkFlagRequired("dir")
	return cmd
}
