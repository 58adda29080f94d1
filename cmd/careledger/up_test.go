package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// TestMain lets the test binary act as the careledger command, so tests can run it as a child
// process and signal it like a user would.
func TestMain(m *testing.M) {
	if os.Getenv("CARELEDGER_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	// Role commands in tests unlock the wallet themselves unless a test starts an agent: no
	// test leaves an agent process behind.
	os.Setenv("CARELEDGER_AGENT", "off")
	os.Exit(m.Run())
}

func testStackConfig(dir string) stackConfig {
	return stackConfig{DataDir: dir, LedgerAddr: "127.0.0.1:0", KeyPassphrase: []byte("test"), WalletPassword: []byte("test wallet")}
}

func TestStackStartsAndRestartsWithDataIntact(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var steps []string
	cfg := testStackConfig(dir)
	cfg.Progress = func(s string) { steps = append(steps, s) }
	s, err := startStack(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, startSteps, steps, "every step is shown, in order")

	policy, err := s.gateways[network.PatientsMSP].GetRolePolicy(ctx)
	require.NoError(t, err)
	require.Len(t, policy.Rules, 6)
	for _, msp := range s.users.orgs() {
		cas, err := s.gateways[network.PatientsMSP].GetOrgCACertificates(ctx, msp)
		require.NoError(t, err, "every organisation's CA is on the ledger, so its gateway may act for its members")
		require.NotEmpty(t, cas.Roots)
	}
	labels, err := s.wallet.List()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"patient", "clinician", "manufacturer", "anonymizer", "admin"}, labels)
	patientID, err := s.wallet.Get("patient", []byte("test wallet"))
	require.NoError(t, err)
	require.Equal(t, string(model.RolePatient), patientID.Role())
	_, err = s.wallet.Get("patient", []byte("wrong"))
	require.Error(t, err)

	height := s.node.Height()
	require.NoError(t, s.Close())

	s, err = startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, height, s.node.Height(), "a restart adds no block: the role policy is set once")
	again, err := s.wallet.Get("patient", []byte("test wallet"))
	require.NoError(t, err)
	require.Equal(t, patientID.LedgerID(), again.LedgerID())
}

// TestStackPutsMissingCACertificatesOnAnExistingLedger starts on a ledger from before the
// organisations' CA certificates were kept there: up adds them, so the clinic's gateway can act
// for its clinician again.
func TestStackPutsMissingCACertificatesOnAnExistingLedger(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cc, err := contract.NewChaincode()
	require.NoError(t, err)
	old, err := network.New(network.Config{Dir: filepath.Join(dir, "network"), ListenAddr: "127.0.0.1:0", Chaincode: cc})
	require.NoError(t, err)
	nodeCtx, cancel := context.WithCancel(ctx)
	require.NoError(t, old.Start(nodeCtx))
	cancel()
	require.NoError(t, old.Close())

	s, err := startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	defer s.Close()
	clinician, err := s.wallet.Get(string(model.RoleClinician), []byte("test wallet"))
	require.NoError(t, err)
	who, err := s.gateways[network.ClinicMSP].For(clinician.CertificatePEM()).WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, clinician.LedgerID(), who.ID)
}

func TestStackRefusesAnUnreachableExternalStore(t *testing.T) {
	cfg := testStackConfig(t.TempDir())
	s3, _, err := (&externalFlags{}).resolve()
	require.NoError(t, err)
	require.Nil(t, s3)
	_, _, err = (&externalFlags{s3Endpoint: "127.0.0.1:1"}).resolve()
	require.ErrorContains(t, err, "CARELEDGER_S3_ACCESS_KEY")
	_, _, err = (&externalFlags{vaultAddr: "http://127.0.0.1:1"}).resolve()
	require.ErrorContains(t, err, "VAULT_TOKEN")

	t.Setenv("CARELEDGER_S3_ACCESS_KEY", "a")
	t.Setenv("CARELEDGER_S3_SECRET_KEY", "b")
	_, cfg.S3, err = (&externalFlags{s3Endpoint: "127.0.0.1:1", s3Bucket: "x", s3Insecure: true}).resolve()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = startStack(ctx, cfg)
	require.Error(t, err, "an S3 endpoint that cannot be reached stops the start with an error")
}

func TestUpRunsUntilInterruptedAndKeepsData(t *testing.T) {
	dir := t.TempDir()
	run := func() (height string) {
		// A small demo population: the second start must add no block, so it is generated once.
		cmd := exec.Command(os.Args[0], "up", "--data-dir", dir, "--ledger-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0", "--demo-population", "4")
		cmd.Env = append(os.Environ(), "CARELEDGER_TEST_AS_MAIN=1", "CARELEDGER_KEYSTORE_PASSPHRASE=test")
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		sc := bufio.NewScanner(stdout)
		var lines []string
		for sc.Scan() {
			line := sc.Text()
			lines = append(lines, line)
			if i := strings.Index(line, "height "); i >= 0 {
				height = line[i+7:]
			}
			if strings.HasPrefix(line, "Press Ctrl-C") {
				break
			}
		}
		require.NotEmpty(t, height, "output: %s", strings.Join(lines, "\n"))
		ep, ok := readEndpoint(dir)
		require.True(t, ok, "a running up tells the commands where its API is")
		require.Equal(t, cmd.Process.Pid, ep.PID)

		second := exec.Command(os.Args[0], "up", "--data-dir", dir, "--ledger-listen", "127.0.0.1:0", "--api-listen", "127.0.0.1:0")
		second.Env = cmd.Env
		out, err := second.CombinedOutput()
		require.Error(t, err)
		require.Contains(t, string(out), fmt.Sprintf("already running on %s (pid %d)", dir, cmd.Process.Pid))
		verify := exec.Command(os.Args[0], "ledger", "verify", "--data-dir", dir)
		verify.Env = cmd.Env
		out, err = verify.CombinedOutput()
		require.Error(t, err)
		require.Contains(t, string(out), fmt.Sprintf("in use by a running node (careledger up, pid %d)", cmd.Process.Pid))

		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		go func() {
			for sc.Scan() {
			}
		}()
		require.NoError(t, cmd.Wait(), "a clean shutdown exits 0")
		return height
	}
	first := run()
	_, err := os.Stat(endpointFile(dir))
	require.ErrorIs(t, err, fs.ErrNotExist, "a clean stop removes the endpoint file")
	second := run()
	require.Equal(t, first, second)
	_, err = os.Stat(filepath.Join(dir, "wallet"))
	require.NoError(t, err)

	verify := exec.Command(os.Args[0], "ledger", "verify", "--data-dir", dir)
	verify.Env = append(os.Environ(), "CARELEDGER_TEST_AS_MAIN=1")
	out, err := verify.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "hash chain, signatures and endorsement policies intact")
}
