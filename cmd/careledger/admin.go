package main

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/fabricca"
	"github.com/spf13/cobra"
)

func newAdminCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "admin", Short: "Operator tasks: enrol identities into the wallet (and see `careledger ledger verify`)"}
	cmd.AddCommand(newEnrolCmd(g), newAdminBudgetCmd(g), newExportMSPCmd(g))
	return cmd
}

// defaultMSP is the organisation that issues each role in the default consortium.
var defaultMSP = map[model.Role]string{
	model.RolePatient: network.PatientsMSP, model.RoleAnonymizer: network.PatientsMSP, model.RoleAdmin: network.PatientsMSP,
	model.RoleGateway: network.PatientsMSP, model.RoleClinician: network.ClinicMSP, model.RoleManufacturer: network.PharmaMSP,
}

func newEnrolCmd(g *globals) *cobra.Command {
	var role, label, msp, name, walletDir, caURL, caTLS, registrar string
	cmd := &cobra.Command{
		Use:     "enrol",
		Aliases: []string{"enroll"},
		Short:   "Enrol a new identity with a role into the wallet",
		Long: `enrol issues a new identity and stores it, encrypted with the wallet passphrase
(CARELEDGER_WALLET_PASSPHRASE or asked), under --label. The key is created here and never
leaves the wallet: the CA certifies it from a signing request. Without --ca-url the embedded
consortium's CA in --data-dir issues it (and keeps only the certificate); with --ca-url a real Fabric CA registers and enrols it,
authenticated as the --registrar identity from the wallet. Patients always get a random
enrollment ID (a pseudonym), never a name.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := model.Role(role)
			if !r.Valid() {
				return fmt.Errorf("--role %q: want one of %v", role, model.Roles)
			}
			if msp == "" {
				msp = defaultMSP[r]
			}
			if r == model.RolePatient && name != "" {
				return errors.New("patients get a random enrollment ID: --name is not allowed with --role patient")
			}
			if name == "" && r != model.RolePatient {
				name = label
			}
			if walletDir == "" {
				walletDir = filepath.Join(g.dataDir, "wallet")
			}
			w, err := wallet.Open(walletDir)
			if err != nil {
				return err
			}
			if _, err := w.File(label); err == nil {
				return fmt.Errorf("the wallet already holds %q", label)
			}
			pass, err := passphrase(cmd, label)
			if err != nil {
				return err
			}
			defer clear(pass)
			var id *wallet.Identity
			if caURL == "" {
				id, err = enrolEmbedded(g.dataDir, msp, label, name, r)
			} else {
				id, err = enrolFabricCA(cmd, w, pass, caURL, caTLS, registrar, msp, name, r)
			}
			if err != nil {
				return err
			}
			if err := w.Put(label, id, pass); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "enrolled %q: %s in %s, pseudonym %s\n", label, r, msp, id.LedgerID())
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&role, "role", "", "patient, clinician, manufacturer, anonymizer, admin or gateway")
	f.StringVar(&label, "label", "", "wallet label for the new identity")
	f.StringVar(&msp, "msp", "", "organisation (default: the one issuing the role in the default consortium)")
	f.StringVar(&name, "name", "", "enrollment ID for non-patients (default: the label)")
	f.StringVar(&walletDir, "wallet", os.Getenv("CARELEDGER_WALLET"), "wallet directory (default: <data-dir>/wallet)")
	f.StringVar(&caURL, "ca-url", "", "a Fabric CA to enrol with, e.g. https://127.0.0.1:7054")
	f.StringVar(&caTLS, "ca-tls-cert", "", "CA certificate that verifies the Fabric CA's TLS certificate")
	f.StringVar(&registrar, "registrar", "admin", "wallet label of the Fabric CA registrar identity")
	cmd.MarkFlagRequired("role")
	cmd.MarkFlagRequired("label")
	return cmd
}

func enrolEmbedded(dataDir, msp, label, name string, role model.Role) (*wallet.Identity, error) {
	netDir := filepath.Join(dataDir, "network")
	org, ok := network.DefaultConsortium().Org(msp)
	if !ok {
		return nil, fmt.Errorf("no organisation %s in the embedded consortium", msp)
	}
	id, err := enrolByCSR(netDir, org, network.UserSpec{Name: label, Role: string(role), EnrollmentID: name})
	if err != nil {
		return nil, fmt.Errorf("issue identity (is this the data directory of `careledger up`?): %w", err)
	}
	return id, nil
}

func enrolFabricCA(cmd *cobra.Command, w *wallet.Wallet, pass []byte, url, tlsFile, registrar, msp, name string, role model.Role) (*wallet.Identity, error) {
	var opts []fabricca.Option
	if tlsFile != "" {
		b, err := os.ReadFile(tlsFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s holds no PEM certificate", tlsFile)
		}
		opts = append(opts, fabricca.WithTLSRoots(pool))
	}
	ca, err := fabricca.New(url, msp, opts...)
	if err != nil {
		return nil, err
	}
	reg, err := w.Get(registrar, pass)
	if err != nil {
		return nil, fmt.Errorf("unlock registrar %q: %w", registrar, err)
	}
	ctx := cmd.Context()
	var secret string
	if role == model.RolePatient {
		name, secret, err = ca.RegisterPatient(ctx, reg, fabricca.Registration{Role: string(role)})
	} else {
		secret, err = ca.Register(ctx, reg, fabricca.Registration{ID: name, Role: string(role), Type: identityType(msp, role)})
	}
	if err != nil {
		return nil, err
	}
	return ca.Enroll(ctx, name, secret, fabricca.EnrollOptions{})
}

// identityType is the Fabric CA identity type to register role in msp with: empty (the
// client's default: peer for a gateway, client otherwise), except that the gateway of an
// organisation the default consortium knows to run no peer stays a client.
func identityType(msp string, role model.Role) string {
	if o, ok := network.DefaultConsortium().Org(msp); ok && role == model.RoleGateway && !o.Peer {
		return "client"
	}
	return ""
}
