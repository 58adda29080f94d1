package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// TestNodeRunsYourOwnChaincode runs a chaincode that is not CareLedger's (network/testdata/
// assetcc, its own module) as a chaincode server with mutual TLS, and `careledger node` with
// --msp (a fabric-samples style organizations/ tree of Org1MSP and Org2MSP), --channel,
// --chaincode and --ccaas-*; an unmodified fabric-gateway client then uses it the way
// fabric-samples' applications use a test network.
func TestNodeRunsYourOwnChaincode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a chaincode module")
	}
	work := t.TempDir()
	ccBin := filepath.Join(work, "assetcc")
	build := exec.Command("go", "build", "-o", ccBin, ".")
	build.Dir = filepath.Join("..", "..", "network", "testdata", "assetcc")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build of the chaincode module: %s", out)

	// The chaincode server's TLS material, as an operator would issue it.
	tlsDir := filepath.Join(work, "cctls")
	ca, caKey := writeTestCA(t, tlsDir)
	writeTestLeaf(t, tlsDir, "server", ca, caKey, x509.ExtKeyUsageServerAuth)
	writeTestLeaf(t, tlsDir, "client", ca, caKey, x509.ExtKeyUsageClientAuth)
	ccAddr := freeAddr(t)
	cc := exec.Command(ccBin)
	cc.Env = append(os.Environ(), "CHAINCODE_SERVER_ADDRESS="+ccAddr, "CHAINCODE_ID=basic_1.0:0123abcd",
		"CHAINCODE_TLS_KEY="+filepath.Join(tlsDir, "server.key"), "CHAINCODE_TLS_CERT="+filepath.Join(tlsDir, "server.crt"),
		"CHAINCODE_CLIENT_CA_CERT="+filepath.Join(tlsDir, "ca.crt"))
	cc.Stdout, cc.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cc.Start())
	t.Cleanup(func() { _ = cc.Process.Kill(); _ = cc.Wait() })

	// A fabric-samples organizations/ tree: the embedded CA writes cryptogen's layout.
	samples := filepath.Join(work, "fabric-samples")
	require.NoError(t, network.GenerateMaterial(samples, network.Consortium{Channel: "mychannel", Chaincode: "basic", Orgs: []network.Org{
		{MSPID: "Org1MSP", Domain: "org1.example.com", Peer: true},
		{MSPID: "Org2MSP", Domain: "org2.example.com", Peer: true},
	}}))
	orgs := filepath.Join(samples, "organizations")

	dataDir := filepath.Join(work, "data")
	args := []string{"node", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--msp", orgs, "--channel", "mychannel", "--chaincode", "basic",
		"--ccaas-address", ccAddr, "--ccaas-root-cert", filepath.Join(tlsDir, "ca.crt"),
		"--ccaas-client-cert", filepath.Join(tlsDir, "client.crt"), "--ccaas-client-key", filepath.Join(tlsDir, "client.key")}
	addr, line, stop := runNode(t, args...)
	require.Contains(t, line, "channel mychannel, chaincode basic, endorsement policy AND('Org1MSP.peer','Org2MSP.peer')")

	peerDir := filepath.Join(orgs, "peerOrganizations", "org1.example.com", "peers", "peer0.org1.example.com")
	userDir := filepath.Join(orgs, "peerOrganizations", "org1.example.com", "users", "Admin@org1.example.com", "msp")
	contract := fabricSamplesClient(t, addr, filepath.Join(peerDir, "tls", "ca.crt"), "peer0.org1.example.com", "Org1MSP",
		filepath.Join(userDir, "signcerts", "Admin@org1.example.com-cert.pem"), filepath.Join(userDir, "keystore", "priv_sk")).
		GetNetwork("mychannel").GetContract("basic")

	_, commit, err := contract.SubmitAsync("CreateAsset", client.WithArguments("asset1", "blue", "5", "Tomoko", "300"))
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_VALID, st.Code)
	old, err := contract.SubmitTransaction("TransferAsset", "asset1", "Max")
	require.NoError(t, err)
	require.Equal(t, "Tomoko", string(old))
	got, err := contract.EvaluateTransaction("ReadAsset", "asset1")
	require.NoError(t, err)
	var asset map[string]any
	require.NoError(t, json.Unmarshal(got, &asset))
	require.Equal(t, "Max", asset["Owner"])
	require.Equal(t, "Org1MSP", asset["CreatedBy"])
	all, err := contract.EvaluateTransaction("GetAllAssets")
	require.NoError(t, err)
	require.Contains(t, string(all), `"ID":"asset1"`)
	_, err = contract.EvaluateTransaction("ReadAsset", "asset2")
	require.ErrorContains(t, err, "the asset asset2 does not exist")
	_, err = contract.SubmitTransaction("CreateAsset", "asset1", "red", "1", "Ann", "1")
	var endorseErr *client.EndorseError
	require.ErrorAs(t, err, &endorseErr)
	require.Contains(t, endorseErr.Details()[0].GetMessage(), "the asset asset1 already exists")
	require.Equal(t, addr, endorseErr.Details()[0].GetAddress(), "the error names the endpoint the node listens on")

	// One organisation's endorsement is not enough under the default policy.
	proposal, err := contract.NewProposal("DeleteAsset", client.WithArguments("asset1"), client.WithEndorsingOrganizations("Org1MSP"))
	require.NoError(t, err)
	tx, err := proposal.Endorse()
	require.NoError(t, err)
	commit, err = tx.Submit()
	require.NoError(t, err)
	st, err = commit.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, st.Code)
	stop()

	// Restarted without flags it serves the same network; ledger verify checks it.
	_, line, stop = runNode(t, "node", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--ccaas-address", ccAddr,
		"--ccaas-root-cert", filepath.Join(tlsDir, "ca.crt"), "--ccaas-client-cert", filepath.Join(tlsDir, "client.crt"),
		"--ccaas-client-key", filepath.Join(tlsDir, "client.key"))
	require.Contains(t, line, "channel mychannel, chaincode basic")
	stop()
	verify := exec.Command(os.Args[0], "ledger", "verify", "--data-dir", dataDir)
	verify.Env = append(os.Environ(), "CARELEDGER_TEST_AS_MAIN=1")
	out, err = verify.CombinedOutput()
	require.NoError(t, err, "%s", out)
	require.Contains(t, string(out), "4 transactions (3 valid)")
}

// runNode starts the careledger command with args as a child process and waits for the node's
// listening line; stop interrupts it and waits for a clean exit.
func runNode(t *testing.T, args ...string) (addr, line string, stop func()) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "CARELEDGER_TEST_AS_MAIN=1")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if line = sc.Text(); strings.HasPrefix(line, "ledger node listening on ") {
			break
		}
	}
	addr, _, _ = strings.Cut(strings.TrimPrefix(line, "ledger node listening on "), " ")
	require.NotEmpty(t, addr, "the node did not start")
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
		go func() {
			for sc.Scan() {
			}
		}()
		require.NoError(t, cmd.Wait(), "a clean shutdown exits 0")
	}
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return addr, line, stop
}

// fabricSamplesClient connects the way fabric-samples' Go applications do: TLS CA certificate,
// server name, MSP ID, certificate and key paths.
func fabricSamplesClient(t *testing.T, addr, tlsCAPath, serverName, mspID, certPath, keyPath string) *client.Gateway {
	t.Helper()
	caPEM, err := os.ReadFile(tlsCAPath)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, serverName)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	certPEM, err := os.ReadFile(certPath)
	require.NoError(t, err)
	cert, err := identity.CertificateFromPEM(certPEM)
	require.NoError(t, err)
	id, err := identity.NewX509Identity(mspID, cert)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(key)
	require.NoError(t, err)
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(30*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(30*time.Second), client.WithCommitStatusTimeout(time.Minute))
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

func freeAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())
	return addr
}

// writeTestCA writes a fresh CA certificate to dir/ca.crt.
func writeTestCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	require.NoError(t, os.MkdirAll(dir, 0o700))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chaincode TLS CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// writeTestLeaf writes dir/<name>.crt and dir/<name>.key for 127.0.0.1, issued by ca.
func writeTestLeaf(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, usage x509.ExtKeyUsage) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
}

func TestNodeChaincodeFlags(t *testing.T) {
	dir := t.TempDir()
	conn := filepath.Join(dir, "connection.json")
	require.NoError(t, os.WriteFile(conn, []byte(`{"address":"127.0.0.1:9999","dial_timeout":"3s"}`), 0o644))
	root := filepath.Join(dir, "ca.crt")
	ca, caKey := writeTestCA(t, dir)
	writeTestLeaf(t, dir, "client", ca, caKey, x509.ExtKeyUsageClientAuth)
	for _, tt := range []struct {
		name    string
		flags   nodeFlags
		wantErr string
		check   func(*network.ExternalChaincode)
	}{
		{name: "in-process", check: func(e *network.ExternalChaincode) { require.Nil(t, e) }},
		{name: "connection.json", flags: nodeFlags{connectionJSON: conn}, check: func(e *network.ExternalChaincode) {
			require.Equal(t, "127.0.0.1:9999", e.Address)
			require.Equal(t, 3*time.Second, e.DialTimeout)
		}},
		{name: "plain", flags: nodeFlags{ccaasAddress: "cc:1"}, check: func(e *network.ExternalChaincode) {
			require.False(t, e.TLSRequired)
		}},
		{name: "mutual TLS", flags: nodeFlags{ccaasAddress: "cc:1", ccaasRootCert: root, ccaasClientCert: filepath.Join(dir, "client.crt"), ccaasClientKey: filepath.Join(dir, "client.key")},
			check: func(e *network.ExternalChaincode) { require.True(t, e.TLSRequired && e.ClientAuthRequired) }},
		{name: "client certificate without TLS", flags: nodeFlags{ccaasAddress: "cc:1", ccaasClientCert: filepath.Join(dir, "client.crt"), ccaasClientKey: filepath.Join(dir, "client.key")},
			wantErr: "need --ccaas-root-cert"},
		{name: "client certificate without key", flags: nodeFlags{ccaasAddress: "cc:1", ccaasRootCert: root, ccaasClientCert: filepath.Join(dir, "client.crt")},
			wantErr: "go together"},
		{name: "TLS without address", flags: nodeFlags{ccaasRootCert: root}, wantErr: "need --ccaas-address"},
		{name: "missing file", flags: nodeFlags{ccaasAddress: "cc:1", ccaasRootCert: filepath.Join(dir, "nope")}, wantErr: "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ext, err := tt.flags.external()
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			tt.check(ext)
		})
	}
}
