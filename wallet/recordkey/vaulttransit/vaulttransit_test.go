package vaulttransit_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	vault "github.com/hashicorp/vault/api"
	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/wallet/recordkey/recordkeytest"
	"github.com/careledger/careledger/wallet/recordkey/vaulttransit"
)

// TestVaultConformance runs the shared KeyService suite against a real Vault: the server at
// VAULT_ADDR with VAULT_TOKEN (and VAULT_CACERT for TLS) if set, else `vault server -dev`
// started here on a loopback port, else the test is skipped. Each run mounts its own transit
// engine and unmounts it afterwards, so an existing server is left as it was.
func TestVaultConformance(t *testing.T) {
	opts := vaultServer(t)
	ctx := context.Background()
	ks, err := vaulttransit.New(ctx, opts)
	require.NoError(t, err)
	recordkeytest.Run(t, ks)

	t.Run("destroyed key is gone from vault", func(t *testing.T) {
		p := recordkeytest.NewPatientID(t)
		_, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		require.NoError(t, ks.DestroyKey(ctx, p))
		vc := rawClient(t, opts)
		s, err := vc.Logical().ReadWithContext(ctx, opts.Mount+"/keys/careledger-patient-"+p)
		require.NoError(t, err)
		require.Nil(t, s, "the transit key must be deleted, not just disabled")
	})

	t.Run("bad token", func(t *testing.T) {
		bad := opts
		bad.Token = "not-a-token"
		_, err := vaulttransit.New(ctx, bad)
		require.ErrorIs(t, err, vaulttransit.ErrAuth)
	})
}

func vaultServer(t *testing.T) vaulttransit.Options {
	t.Helper()
	var opts vaulttransit.Options
	switch {
	case os.Getenv("VAULT_ADDR") != "" && os.Getenv("VAULT_TOKEN") != "":
		opts = vaulttransit.Options{Address: os.Getenv("VAULT_ADDR"), Token: os.Getenv("VAULT_TOKEN"), Namespace: os.Getenv("VAULT_NAMESPACE")}
		if ca := os.Getenv("VAULT_CACERT"); ca != "" {
			opts.TLS = &vaulttransit.TLS{CACertFile: ca}
		}
	default:
		bin, err := exec.LookPath("vault")
		if err != nil {
			t.Skip("skipping Vault conformance: VAULT_ADDR/VAULT_TOKEN not set and no `vault` binary on PATH")
		}
		opts = startDevServer(t, bin)
	}
	opts.Mount = "careledger-test-" + randomHex(t, 6)
	vc := rawClient(t, opts)
	ctx := context.Background()
	require.NoError(t, vc.Sys().MountWithContext(ctx, opts.Mount, &vault.MountInput{Type: "transit"}))
	t.Cleanup(func() { _ = vc.Sys().UnmountWithContext(context.Background(), opts.Mount) })
	return opts
}

func rawClient(t *testing.T, opts vaulttransit.Options) *vault.Client {
	t.Helper()
	cfg := vault.DefaultConfig()
	cfg.Address = opts.Address
	if opts.TLS != nil {
		require.NoError(t, cfg.ConfigureTLS(&vault.TLSConfig{CACert: opts.TLS.CACertFile}))
	}
	vc, err := vault.NewClient(cfg)
	require.NoError(t, err)
	vc.SetToken(opts.Token)
	vc.SetNamespace(opts.Namespace)
	return vc
}

// startDevServer runs `vault server -dev` on a free loopback port with a random root token
// and stops it when the test ends.
func startDevServer(t *testing.T, bin string) vaulttransit.Options {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	token := randomHex(t, 16)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(bin, "server", "-dev", "-dev-listen-address="+addr, "-dev-root-token-id="+token, "-dev-no-store-token")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "VAULT_ADDR=", "VAULT_TOKEN=")
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
		}
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	opts := vaulttransit.Options{Address: "http://" + addr, Token: token}
	vc := rawClient(t, opts)
	deadline := time.Now().Add(30 * time.Second)
	for {
		h, err := vc.Sys().HealthWithContext(context.Background())
		if err == nil && h.Initialized && !h.Sealed {
			return opts
		}
		select {
		case <-done:
			t.Fatalf("vault dev server exited: %s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("vault dev server not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return hex.EncodeToString(b)
}
