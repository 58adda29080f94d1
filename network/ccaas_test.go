package network_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// startChaincodeServer serves cc with the real shim's ChaincodeServer, as a chaincode
// deployed with the ccaas builder would, and returns its connection.json.
func startChaincodeServer(t *testing.T, cc shim.Chaincode, withTLS bool) []byte {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	conn := map[string]any{"address": lis.Addr().String(), "dial_timeout": "10s"}
	var opts []grpc.ServerOption
	if withTLS {
		ca, caKey := testCA(t)
		serverPair, _, _ := leaf(t, ca, caKey, "chaincode", x509.ExtKeyUsageServerAuth)
		_, clientCertPEM, clientKeyPEM := leaf(t, ca, caKey, "peer", x509.ExtKeyUsageClientAuth)
		pool := x509.NewCertPool()
		pool.AddCert(ca)
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
		})))
		conn["tls_required"] = true
		conn["client_auth_required"] = true
		conn["root_cert"] = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
		conn["client_cert"] = string(clientCertPEM)
		conn["client_key"] = string(clientKeyPEM)
	}
	srv := grpc.NewServer(opts...)
	peer.RegisterChaincodeServer(srv, &shim.ChaincodeServer{CCID: "careledger_1.0:abc", CC: cc})
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	b, err := json.Marshal(conn)
	require.NoError(t, err)
	return b
}

func testCA(t *testing.T) (*x509.Certificate, *ecdsa.PrivateKey) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cc-ca"}, IsCA: true, BasicConstraintsValid: true,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

func leaf(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, usage x509.ExtKeyUsage) (tls.Certificate, []byte, []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	return pair, certPEM, keyPEM
}

func TestChaincodeAsAService(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", withTLS), func(t *testing.T) {
			ext, err := network.ParseConnectionJSON(startChaincodeServer(t, testChaincode{}, withTLS))
			require.NoError(t, err)
			n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", External: &ext})
			require.NoError(t, err)
			require.NoError(t, n.Start(context.Background()))
			t.Cleanup(func() { _ = n.Close() })
			nw := connect(t, n, loadUser(t, n, network.ClinicMSP, "gateway")).GetNetwork(network.DefaultChannel)
			c := contractFor(t, n, network.ClinicMSP, "clinician1")

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			events, err := nw.ChaincodeEvents(ctx, network.DefaultChaincode)
			require.NoError(t, err)

			for i := range 150 { // more than one query batch of 100
				_, err := c.Submit("putc", client.WithArguments("rec", "p1", fmt.Sprintf("r%03d", i), "x"))
				require.NoError(t, err)
				if i >= 3 {
					continue
				}
				_, err = c.SubmitTransaction("put", fmt.Sprintf("k%d", i), fmt.Sprintf("v%d", i))
				require.NoError(t, err)
			}
			ev := nextEvent(t, events)
			require.Equal(t, "put", ev.EventName)
			require.Equal(t, "k0", string(ev.Payload))

			v, err := c.EvaluateTransaction("get", "k1")
			require.NoError(t, err)
			require.Equal(t, "v1", string(v))

			var kvs []kv
			evalJSON(t, c, &kvs, "range", "", "")
			require.Equal(t, []kv{{"k0", "v0"}, {"k1", "v1"}, {"k2", "v2"}}, kvs)
			evalJSON(t, c, &kvs, "partial", "rec", "p1")
			require.Len(t, kvs, 150)
			var p page
			evalJSON(t, c, &p, "rangepage", "", "", "2", "")
			require.Equal(t, page{KVs: []kv{{"k0", "v0"}, {"k1", "v1"}}, Bookmark: "k2", Count: 2}, p)

			_, err = c.SubmitTransaction("put", "k1", "v1b")
			require.NoError(t, err)
			var hist []mod
			evalJSON(t, c, &hist, "history", "k1")
			require.Len(t, hist, 2)
			require.Equal(t, "v1b", hist[0].Value)

			var who map[string]string
			evalJSON(t, c, &who, "whoami")
			require.Equal(t, network.RoleClinician, who["role"])
			secret, err := c.Evaluate("transient", client.WithArguments("k"), client.WithTransient(map[string][]byte{"k": []byte("s")}))
			require.NoError(t, err)
			require.Equal(t, "s", string(secret))

			_, err = c.SubmitTransaction("fail", "remote")
			requireEndorseError(t, err, "deliberate failure: remote")

			// MVCC works the same for remote chaincode.
			prop, err := c.NewProposal("incr", client.WithArguments("ctr"))
			require.NoError(t, err)
			tx, err := prop.Endorse()
			require.NoError(t, err)
			_, err = c.SubmitTransaction("incr", "ctr")
			require.NoError(t, err)
			commit, err := tx.Submit()
			require.NoError(t, err)
			st, err := commit.Status()
			require.NoError(t, err)
			require.Equal(t, peer.TxValidationCode_MVCC_READ_CONFLICT, st.Code)
			rep, err := n.Verify(context.Background())
			require.NoError(t, err)
			require.Positive(t, rep.ValidTransactions)
		})
	}
}

func TestChaincodeServerUnavailable(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close()) // nothing listens there any more
	n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", External: &network.ExternalChaincode{Address: addr, DialTimeout: time.Second}})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	_, err = c.SubmitTransaction("put", "k", "v")
	requireEndorseError(t, err, "external chaincode unavailable")
}

func TestParseConnectionJSON(t *testing.T) {
	tests := []struct {
		name, in string
		ok       bool
	}{
		{"minimal", `{"address":"cc:9999"}`, true},
		{"with timeout", `{"address":"cc:9999","dial_timeout":"10s","tls_required":false}`, true},
		{"no address", `{"dial_timeout":"10s"}`, false},
		{"bad timeout", `{"address":"cc:1","dial_timeout":"soon"}`, false},
		{"tls without root", `{"address":"cc:1","tls_required":true}`, false},
		{"client auth without key", `{"address":"cc:1","tls_required":true,"root_cert":"x","client_auth_required":true}`, false},
		{"not json", `address: cc`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := network.ParseConnectionJSON([]byte(tt.in))
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

func FuzzParseConnectionJSON(f *testing.F) {
	f.Add([]byte(`{"address":"cc:9999","dial_timeout":"10s","tls_required":true,"root_cert":"pem"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ext, err := network.ParseConnectionJSON(b)
		if err == nil {
			require.NotEmpty(t, ext.Address)
			require.GreaterOrEqual(t, ext.DialTimeout, time.Duration(0))
		}
	})
}

func TestChaincodeServerRestart(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	serve := func(lis net.Listener) *grpc.Server {
		srv := grpc.NewServer()
		peer.RegisterChaincodeServer(srv, &shim.ChaincodeServer{CCID: "careledger_1.0:abc", CC: testChaincode{}})
		go func() { _ = srv.Serve(lis) }()
		return srv
	}
	srv := serve(lis)
	n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", External: &network.ExternalChaincode{Address: addr}})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	_, err = c.SubmitTransaction("put", "before", "1")
	require.NoError(t, err)

	srv.Stop() // the chaincode "container" dies
	lis2, err := net.Listen("tcp", addr)
	require.NoError(t, err)
	srv2 := serve(lis2)
	t.Cleanup(srv2.Stop)

	// The node redials on the next transaction, as a peer relaunches a chaincode.
	require.Eventually(t, func() bool {
		_, err := c.SubmitTransaction("put", "after", "2")
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	v, err := c.EvaluateTransaction("get", "before")
	require.NoError(t, err)
	require.Equal(t, "1", string(v))
}
