package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

// startTestAgent runs a key agent in this process on a socket of its own and points the
// commands at it.
func startTestAgent(t *testing.T, idle time.Duration) (a *keyAgent, sock string, served chan error) {
	t.Helper()
	sock = filepath.Join(t.TempDir(), "agent", "agent.sock")
	ln, release, err := listenAgent(sock)
	require.NoError(t, err)
	a = newKeyAgent(idle, slog.New(slog.DiscardHandler))
	ctx, cancel := context.WithCancel(context.Background())
	served = make(chan error, 1)
	go func() { served <- a.serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-served; release() })
	t.Setenv("CARELEDGER_AGENT", "on")
	t.Setenv("CARELEDGER_AGENT_SOCK", sock)
	fi, err := os.Stat(filepath.Dir(sock))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "the socket's directory is private")
	return a, sock, served
}

func TestAgentServesLaterCommandsWithoutUnlocking(t *testing.T) {
	c := startCLIStack(t)
	a, _, served := startTestAgent(t, time.Minute)

	before := walletUnlocks.Load()
	first := c.must("patient", "whoami")
	require.Equal(t, before+1, walletUnlocks.Load(), "the first command unlocks (in the agent)")
	require.Equal(t, first, c.must("patient", "whoami"))
	c.must("patient", "grants")
	require.Equal(t, before+1, walletUnlocks.Load(), "later commands run no key derivation")
	require.Equal(t, 1, a.held())

	// The agent holds the key: the passphrase is not asked for again, as with ssh-agent.
	t.Setenv("CARELEDGER_WALLET_PASSPHRASE", "wrong")
	c.must("patient", "whoami")

	// lock wipes: the next command must unlock again, and a wrong passphrase fails.
	require.Contains(t, c.must("agent", "lock"), "keys forgotten")
	require.Zero(t, a.held())
	_, err := c.run("patient", "whoami")
	require.ErrorIs(t, err, wallet.ErrWrongPassphrase)
	t.Setenv("CARELEDGER_WALLET_PASSPHRASE", "wallet pass")
	c.must("patient", "whoami")
	require.Equal(t, before+3, walletUnlocks.Load())

	require.Contains(t, c.must("agent", "status"), "patient (")
	require.Contains(t, c.must("agent", "stop"), "agent stopped")
	select {
	case err := <-served:
		require.NoError(t, err)
		served <- nil // for the cleanup
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop")
	}
	require.Zero(t, a.held(), "stopping forgets every key")
}

func TestAgentForgetsKeysWhenIdle(t *testing.T) {
	dir := t.TempDir()
	w, err := wallet.Open(dir, wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 64, Threads: 1}))
	require.NoError(t, err)
	require.NoError(t, w.Put("me", testIdentity(t), []byte("pass")))
	a, sock, served := startTestAgent(t, 300*time.Millisecond)

	conn, err := dialAgent(sock)
	require.NoError(t, err)
	defer conn.Close()
	id, err := unlockWithAgent(conn, dir, "me", func() ([]byte, error) { return []byte("pass"), nil })
	require.NoError(t, err)
	digest := sha256.Sum256([]byte("grant"))
	sig, err := id.signer.Sign(nil, digest[:], nil)
	require.NoError(t, err)
	require.True(t, ecdsa.VerifyASN1(id.signer.Public().(*ecdsa.PublicKey), digest[:], sig), "the agent signs with the identity's key")
	require.Equal(t, 1, a.held())

	select {
	case err := <-served:
		require.NoError(t, err)
		served <- nil
	case <-time.After(10 * time.Second):
		t.Fatal("the agent did not stop after its idle time")
	}
	require.Zero(t, a.held(), "keys are forgotten after the idle time")
	_, err = dialAgent(sock)
	require.Error(t, err, "an idle agent is gone")
}

func TestAgentSignsOnlyForUnlockedIdentities(t *testing.T) {
	dir := t.TempDir()
	w, err := wallet.Open(dir, wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 64, Threads: 1}))
	require.NoError(t, err)
	require.NoError(t, w.Put("me", testIdentity(t), []byte("pass")))
	_, sock, _ := startTestAgent(t, time.Minute)
	conn, err := dialAgent(sock)
	require.NoError(t, err)
	defer conn.Close()

	_, err = conn.call(agentRequest{Op: "sign", Wallet: dir, Label: "me", Digest: make([]byte, 32)})
	require.Equal(t, agentCodeLocked, agentCode(err))
	_, err = conn.call(agentRequest{Op: "unlock", Wallet: dir, Label: "me", Passphrase: []byte("nope")})
	require.Equal(t, agentCodeWrongPassphrase, agentCode(err))
	resp, err := conn.call(agentRequest{Op: "unlock", Wallet: dir, Label: "me", Passphrase: []byte("pass")})
	require.NoError(t, err)
	raw, err := json.Marshal(resp)
	require.NoError(t, err)
	require.NotContains(t, string(raw), "PRIVATE KEY", "the agent answers with the certificate only")

	// Replacing the identity under the label makes the agent forget the old key.
	require.NoError(t, w.Put("me", testIdentity(t), []byte("pass")))
	_, err = conn.call(agentRequest{Op: "identity", Wallet: dir, Label: "me"})
	require.Equal(t, agentCodeLocked, agentCode(err))
}

func TestAgentRefusesOtherUsers(t *testing.T) {
	for _, tc := range []struct {
		name string
		cred *peerCredentials
		self int
		ok   bool
	}{
		{"same user", &peerCredentials{PID: 10, UID: 1000}, 1000, true},
		{"another user", &peerCredentials{PID: 10, UID: 1001}, 1000, false},
		{"root, for an agent of another user", &peerCredentials{PID: 10, UID: 0}, 1000, false},
		{"a user, for root's agent", &peerCredentials{PID: 10, UID: 1000}, 0, false},
		{"root, for root's agent", &peerCredentials{PID: 10, UID: 0}, 0, true},
		{"no credentials", nil, 1000, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := checkPeer(tc.cred, tc.self)
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, errForeignPeer)
			}
		})
	}

	// The kernel's answer for a real connection names this process's user.
	_, sock, _ := startTestAgent(t, time.Minute)
	c, err := net.Dial("unix", sock)
	require.NoError(t, err)
	defer c.Close()
	cred, err := peerCred(c.(*net.UnixConn))
	require.NoError(t, err)
	require.Equal(t, os.Getuid(), cred.UID)
}

func TestDialAgentRefusesASocketInAnOpenDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "open")
	require.NoError(t, os.Mkdir(dir, 0o755))
	require.NoError(t, os.Chmod(dir, 0o755))
	_, err := dialAgent(filepath.Join(dir, "agent.sock"))
	require.ErrorContains(t, err, "not private")
}

// testIdentity is a self-signed identity for wallet tests.
func testIdentity(t *testing.T) *wallet.Identity {
	t.Helper()
	key, err := wallet.GenerateKey()
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "me"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	id, err := wallet.NewIdentity("PatientsMSP", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key, nil)
	require.NoError(t, err)
	return id
}

// TestFirstCommandStartsTheAgent runs the command as a separate process, as a user does: the
// first role command starts the agent, the next is served by it without the passphrase.
func TestFirstCommandStartsTheAgent(t *testing.T) {
	c := startCLIStack(t)
	sock := filepath.Join(t.TempDir(), "agent", "agent.sock")
	run := func(pass string, args ...string) (string, error) {
		cmd := exec.Command(os.Args[0], append([]string{"--data-dir", c.dataDir}, args...)...)
		cmd.Env = append(os.Environ(), "CARELEDGER_TEST_AS_MAIN=1", "CARELEDGER_AGENT=on", "CARELEDGER_AGENT_SOCK="+sock,
			"CARELEDGER_WALLET_PASSPHRASE="+pass, "CARELEDGER_API="+c.api)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	t.Cleanup(func() { run("", "agent", "stop") })

	out, err := run("wallet pass", "patient", "whoami")
	require.NoError(t, err, out)
	out, err = run("wrong", "patient", "whoami")
	require.NoError(t, err, "the agent holds the identity: %s", out)
	require.Contains(t, out, "PatientsMSP")
	out, err = run("", "agent", "status")
	require.NoError(t, err, out)
	require.Contains(t, out, "patient ("+filepath.Join(c.dataDir, "wallet")+")")
	out, err = run("", "agent", "stop")
	require.NoError(t, err, out)
	require.Contains(t, out, "agent stopped")
	require.Eventually(t, func() bool { _, err := dialAgent(sock); return err != nil }, 5*time.Second, 20*time.Millisecond)
}
