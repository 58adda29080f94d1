// Package pkcs11test gives tests a real PKCS#11 token: a SoftHSM2 token directory of their
// own, created and removed by the test. Tests skip, saying why, when SoftHSM2 is not
// installed (Debian: apt-get install softhsm2).
package pkcs11test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/wallet/recordkey/pkcs11"
)

// ModuleEnv names the environment variable that overrides where the PKCS#11 module is.
const ModuleEnv = "CARELEDGER_PKCS11_MODULE"

// Module returns the SoftHSM2 module's path: $CARELEDGER_PKCS11_MODULE, else the first of
// the usual install locations that exists, else "".
func Module() string {
	if m := os.Getenv(ModuleEnv); m != "" {
		return m
	}
	candidates := []string{"/usr/lib/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so", "/opt/homebrew/lib/softhsm/libsofthsm2.so"}
	multiarch, _ := filepath.Glob("/usr/lib/*/softhsm/libsofthsm2.so")
	for _, c := range append(candidates, multiarch...) {
		if st, err := os.Stat(c); err == nil && !st.IsDir() {
			return c
		}
	}
	return ""
}

// HSM is a SoftHSM2 installation with a token directory private to one test.
type HSM struct {
	module string
	util   string
	conf   string
}

// New points SOFTHSM2_CONF at a fresh configuration whose token directory lives in the
// test's temporary directory, or skips the test when SoftHSM2 is not installed. SoftHSM2
// reads the variable when the module is initialised, so every key service of the previous
// test must be closed by then; t.Setenv also keeps the test from running in parallel.
func New(tb testing.TB) *HSM {
	tb.Helper()
	if !pkcs11.Available {
		tb.Skip("skipping: this build cannot load PKCS#11 modules (built without cgo)")
	}
	module := Module()
	util, err := exec.LookPath("softhsm2-util")
	if module == "" || err != nil {
		tb.Skipf("skipping: SoftHSM2 is not installed (apt-get install softhsm2; module %q, softhsm2-util: %v; or set %s)", module, err, ModuleEnv)
	}
	dir := tb.TempDir()
	tokens := filepath.Join(dir, "tokens")
	require.NoError(tb, os.Mkdir(tokens, 0o700))
	conf := filepath.Join(dir, "softhsm2.conf")
	require.NoError(tb, os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"), 0o600))
	tb.Setenv("SOFTHSM2_CONF", conf)
	return &HSM{module: module, util: util, conf: conf}
}

// Token initialises a new token with a random label, user PIN and SO PIN, and returns the
// key service configuration for it. SoftHSM2 looks for tokens when the module is
// initialised, so make every token a test needs before opening the first key service.
func (h *HSM) Token(tb testing.TB) pkcs11.Config {
	tb.Helper()
	label := "careledger-" + randomHex(tb, 4)
	pin := randomHex(tb, 8)
	cmd := exec.Command(h.util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", randomHex(tb, 8))
	cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+h.conf)
	out, err := cmd.CombinedOutput()
	require.NoError(tb, err, "softhsm2-util --init-token: %s", out)
	return pkcs11.Config{Module: h.module, TokenLabel: label, PIN: pin}
}

func randomHex(tb testing.TB, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(tb, err)
	return hex.EncodeToString(b)
}
