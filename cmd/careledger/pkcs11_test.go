package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11/pkcs11test"
)

// TestUpKeepsRecordKeysOnAPKCS11Token runs the stack with its KEKs on a real SoftHSM2 token,
// chosen by the same flags and PIN variable as `up`: a record is uploaded, read by a
// clinician and erased, and the erasure is on the token.
func TestUpKeepsRecordKeysOnAPKCS11Token(t *testing.T) {
	hsm := pkcs11test.New(t)
	token := hsm.Token(t)
	t.Setenv(pkcs11PINEnv, token.PIN)
	hsmCfg, err := (&externalFlags{pkcs11Module: token.Module, pkcs11Token: token.TokenLabel}).resolvePKCS11()
	require.NoError(t, err)

	dir := t.TempDir()
	cfg := testStackConfig(dir)
	cfg.KeyPassphrase = nil // would open the local key store; it must not be used
	cfg.PKCS11 = hsmCfg
	cfg.WalletPassword = []byte("wallet pass")
	s, err := startStack(context.Background(), cfg)
	require.NoError(t, err)
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			s.Close()
		}
	})
	require.NoError(t, s.serveAPI("127.0.0.1:0"))
	t.Setenv("CARELEDGER_WALLET_PASSPHRASE", "wallet pass")
	c := &cli{t: t, dataDir: dir, api: "https://" + s.apiAddr}

	var welcome bytes.Buffer
	printWelcome(&welcome, &globals{dataDir: dir}, s)
	require.Contains(t, welcome.String(), "PKCS#11 token \""+token.TokenLabel+"\"")
	require.NotContains(t, welcome.String(), "DEVELOPMENT MODE")

	var patient, doctor model.Caller
	c.jsonOf(&patient, "patient", "whoami")
	c.jsonOf(&doctor, "clinician", "whoami")
	lab := filepath.Join(t.TempDir(), "lab.json")
	require.NoError(t, os.WriteFile(lab, []byte(`{"resourceType":"Observation","status":"final","code":{"text":"Hb"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`), 0o600))
	var rec model.Record
	c.jsonOf(&rec, "patient", "upload", "--file", lab)
	c.must("patient", "grant", "--to", doctor.ID, "--category", "lab", "--days", "30")
	require.Contains(t, c.must("clinician", "read", rec.ID), "Hb", "the data key is unwrapped on the token")

	c.must("patient", "erase", "--confirm", "erase everything")
	_, err = c.run("clinician", "read", rec.ID)
	require.Error(t, err, "nothing of an erased patient is served")

	for _, local := range []string{"keys", "keystore.passphrase"} {
		_, err := os.Stat(filepath.Join(dir, local))
		require.ErrorIs(t, err, os.ErrNotExist, "with an HSM, the data directory holds no record keys: %s", local)
	}
	stopped = true
	require.NoError(t, s.Close())
	_, err = startStack(context.Background(), testStackConfig(dir))
	require.ErrorContains(t, err, "PKCS#11 token", "the data directory's keys are on the token: a local key store could open none of its records")

	// The token itself remembers the erasure: no new key is ever made for the patient.
	ks, err := pkcs11.New(context.Background(), *hsmCfg)
	require.NoError(t, err)
	defer ks.Close()
	_, err = ks.NewDataKey(context.Background(), patient.ID)
	require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
}

func TestPKCS11FlagsNeedEachOtherAndThePIN(t *testing.T) {
	t.Setenv(pkcs11PINEnv, "")
	for _, tc := range []struct {
		name string
		ext  externalFlags
		want string
	}{
		{"module without token", externalFlags{pkcs11Module: "/m.so"}, "go together"},
		{"token without module", externalFlags{pkcs11Token: "t"}, "go together"},
		{"no PIN", externalFlags{pkcs11Module: "/m.so", pkcs11Token: "t"}, pkcs11PINEnv},
		{"with Vault", externalFlags{pkcs11Module: "/m.so", pkcs11Token: "t", vaultAddr: "http://127.0.0.1:1"}, "not both"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.ext.resolvePKCS11()
			require.ErrorContains(t, err, tc.want)
		})
	}
	none, err := (&externalFlags{}).resolvePKCS11()
	require.NoError(t, err)
	require.Nil(t, none)
}

// TestUpSaysThePassphraseFileIsADevelopmentMode: with the local key store and no
// CARELEDGER_KEYSTORE_PASSPHRASE, the passphrase sits next to the keys, and up says so once.
func TestUpSaysThePassphraseFileIsADevelopmentMode(t *testing.T) {
	for _, tc := range []struct {
		name       string
		passphrase []byte
		warned     bool
	}{
		{"passphrase file", nil, true},
		{"passphrase from the environment", []byte("from env"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := testStackConfig(dir)
			cfg.KeyPassphrase = tc.passphrase
			s, err := startStack(context.Background(), cfg)
			require.NoError(t, err)
			defer s.Close()
			var out bytes.Buffer
			printWelcome(&out, &globals{dataDir: dir}, s)
			require.Equal(t, map[bool]int{true: 1, false: 0}[tc.warned], strings.Count(out.String(), "DEVELOPMENT MODE"), "%s", out.String())
			if tc.warned {
				require.Contains(t, out.String(), filepath.Join(dir, "keystore.passphrase"))
				require.Contains(t, out.String(), "--pkcs11-module")
				require.Contains(t, out.String(), "--vault-addr")
			}
		})
	}
}

// TestUpKeepsTheRecordKeysCustodian: a data directory whose records are keyed by one
// custodian is not started with another, which could decrypt none of them.
func TestUpKeepsTheRecordKeysCustodian(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, checkCustodian(dir, custodianLocal))
	require.NoError(t, recordCustodian(dir, custodianLocal))
	require.NoError(t, checkCustodian(dir, custodianLocal))
	err := checkCustodian(dir, custodianPKCS11)
	require.ErrorContains(t, err, "cannot move patients' keys")
	require.ErrorContains(t, err, "local key store")

	// A data directory from before the custodian was written down, with a local key store.
	old := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(old, "keys"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(old, "keys", "keystore.json"), []byte("{}"), 0o600))
	require.ErrorContains(t, checkCustodian(old, custodianVault), "local key store")
	require.NoError(t, checkCustodian(old, custodianLocal))

	hsm := t.TempDir()
	require.NoError(t, recordCustodian(hsm, custodianPKCS11))
	require.ErrorContains(t, checkCustodian(hsm, custodianLocal), "PKCS#11 token")
}
