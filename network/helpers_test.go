package network_test

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/network/networktest"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// startNode runs a node with the test chaincode in dir on a free loopback port.
func startNode(t testing.TB, dir string, opts ...network.Option) *network.Node {
	t.Helper()
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}}, opts...)
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })
	return n
}

func dial(t testing.TB, addr, serverName string, caPEM []byte) *grpc.ClientConn {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, serverName)))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// connect opens a fabric-gateway client to n as user; sign overrides the user's signer.
func connect(t testing.TB, n *network.Node, user *network.User, opts ...client.ConnectOption) *client.Gateway {
	t.Helper()
	return connectAddr(t, n.Addr(), n.ServerName(), n.TLSCACertPEM(), user, opts...)
}

func connectAddr(t testing.TB, addr, serverName string, caPEM []byte, user *network.User, opts ...client.ConnectOption) *client.Gateway {
	t.Helper()
	id, err := identity.NewX509Identity(user.MSPID, user.Cert)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(user.Key)
	require.NoError(t, err)
	all := append([]client.ConnectOption{
		client.WithSign(sign), client.WithHash(hash.SHA256),
		client.WithClientConnection(dial(t, addr, serverName, caPEM)),
		client.WithEvaluateTimeout(30 * time.Second), client.WithEndorseTimeout(30 * time.Second),
		client.WithSubmitTimeout(30 * time.Second), client.WithCommitStatusTimeout(time.Minute),
	}, opts...)
	gw, err := client.Connect(id, all...)
	require.NoError(t, err)
	t.Cleanup(func() { _ = gw.Close() })
	return gw
}

func loadUser(t testing.TB, n *network.Node, mspID, name string) *network.User {
	t.Helper()
	org, ok := n.Config().Consortium.Org(mspID)
	require.True(t, ok)
	require.NoError(t, networktest.Members(n.Config().Dir, n.Config().Consortium))
	u, err := network.LoadUser(n.Config().Dir, org, name)
	require.NoError(t, err)
	return u
}

func contractFor(t testing.TB, n *network.Node, mspID, name string) *client.Contract {
	t.Helper()
	gw := connect(t, n, loadUser(t, n, mspID, name))
	return gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
}
