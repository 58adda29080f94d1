package main

import (
	"errors"
	"os"

	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11"
	"github.com/careledger/careledger/wallet/recordkey/vaulttransit"
	"github.com/spf13/cobra"
)

// externalFlags choose real external components instead of the embedded defaults. Secrets
// (tokens, secret keys) come only from the environment, never from flags, so they do not show
// up in process listings or shell history.
type externalFlags struct {
	vaultAddr, vaultMount, vaultNamespace, vaultCACert string
	s3Endpoint, s3Bucket, s3Region, s3Prefix           string
	s3Insecure                                         bool
	pkcs11Module, pkcs11Token                          string
}

// pkcs11PINEnv holds the user PIN of the PKCS#11 token.
const pkcs11PINEnv = "CARELEDGER_PKCS11_PIN"

func (e *externalFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&e.vaultAddr, "vault-addr", os.Getenv("VAULT_ADDR"), "keep patients' keys in Vault Transit at this address (env VAULT_ADDR; token from VAULT_TOKEN, or AppRole from VAULT_ROLE_ID and VAULT_SECRET_ID)")
	f.StringVar(&e.vaultMount, "vault-mount", envOr("CARELEDGER_VAULT_MOUNT", "transit"), "Vault Transit mount path")
	f.StringVar(&e.vaultNamespace, "vault-namespace", os.Getenv("VAULT_NAMESPACE"), "Vault Enterprise namespace")
	f.StringVar(&e.vaultCACert, "vault-ca-cert", os.Getenv("VAULT_CACERT"), "CA certificate file to verify Vault's TLS certificate")
	f.StringVar(&e.s3Endpoint, "s3-endpoint", os.Getenv("CARELEDGER_S3_ENDPOINT"), "keep ciphertexts in S3-compatible storage at host:port (env CARELEDGER_S3_ENDPOINT; keys from CARELEDGER_S3_ACCESS_KEY and CARELEDGER_S3_SECRET_KEY)")
	f.StringVar(&e.s3Bucket, "s3-bucket", envOr("CARELEDGER_S3_BUCKET", "careledger"), "S3 bucket")
	f.StringVar(&e.s3Region, "s3-region", os.Getenv("CARELEDGER_S3_REGION"), "S3 region")
	f.StringVar(&e.s3Prefix, "s3-prefix", os.Getenv("CARELEDGER_S3_PREFIX"), "prefix of every object key")
	f.BoolVar(&e.s3Insecure, "s3-insecure", false, "talk plain HTTP to the S3 endpoint (loopback test servers only)")
	f.StringVar(&e.pkcs11Module, "pkcs11-module", os.Getenv("CARELEDGER_PKCS11_MODULE"), "keep patients' keys on a PKCS#11 token (an HSM) through this module, e.g. /usr/lib/softhsm/libsofthsm2.so (env CARELEDGER_PKCS11_MODULE; user PIN from "+pkcs11PINEnv+")")
	f.StringVar(&e.pkcs11Token, "pkcs11-token", os.Getenv("CARELEDGER_PKCS11_TOKEN"), "label of the PKCS#11 token (env CARELEDGER_PKCS11_TOKEN)")
}

// resolvePKCS11 returns the PKCS#11 key service's configuration, or nil when no module is
// given. The PIN comes only from the environment.
func (e *externalFlags) resolvePKCS11() (*pkcs11.Config, error) {
	if e.pkcs11Module == "" && e.pkcs11Token == "" {
		return nil, nil
	}
	switch {
	case e.pkcs11Module == "" || e.pkcs11Token == "":
		return nil, errors.New("--pkcs11-module and --pkcs11-token go together")
	case e.vaultAddr != "":
		return nil, errors.New("choose one custodian for patients' keys: --vault-addr or --pkcs11-module, not both")
	case os.Getenv(pkcs11PINEnv) == "":
		return nil, errors.New("--pkcs11-module needs the token's user PIN in " + pkcs11PINEnv)
	}
	return &pkcs11.Config{Module: e.pkcs11Module, TokenLabel: e.pkcs11Token, PIN: os.Getenv(pkcs11PINEnv)}, nil
}

func (e *externalFlags) resolve() (*vaulttransit.Options, *blob.S3Config, error) {
	var vault *vaulttransit.Options
	if e.vaultAddr != "" {
		vault = &vaulttransit.Options{Address: e.vaultAddr, Namespace: e.vaultNamespace, Mount: e.vaultMount, Token: os.Getenv("VAULT_TOKEN")}
		if role := os.Getenv("VAULT_ROLE_ID"); role != "" {
			vault.Token = ""
			vault.AppRole = &vaulttransit.AppRole{RoleID: role, SecretID: os.Getenv("VAULT_SECRET_ID")}
		}
		if vault.Token == "" && vault.AppRole == nil {
			return nil, nil, errors.New("--vault-addr needs VAULT_TOKEN, or VAULT_ROLE_ID and VAULT_SECRET_ID, in the environment")
		}
		if e.vaultCACert != "" {
			vault.TLS = &vaulttransit.TLS{CACertFile: e.vaultCACert}
		}
	}
	var s3 *blob.S3Config
	if e.s3Endpoint != "" {
		s3 = &blob.S3Config{
			Endpoint: e.s3Endpoint, Bucket: e.s3Bucket, Region: e.s3Region, Prefix: e.s3Prefix, Secure: !e.s3Insecure,
			AccessKey: os.Getenv("CARELEDGER_S3_ACCESS_KEY"), SecretKey: os.Getenv("CARELEDGER_S3_SECRET_KEY"),
		}
		if s3.AccessKey == "" || s3.SecretKey == "" {
			return nil, nil, errors.New("--s3-endpoint needs CARELEDGER_S3_ACCESS_KEY and CARELEDGER_S3_SECRET_KEY in the environment")
		}
	}
	return vault, s3, nil
}
