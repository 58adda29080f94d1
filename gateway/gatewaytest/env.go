// Package gatewaytest starts the embedded ledger with the CareLedger chaincode for tests of the
// gateway, and hands out typed ledger clients for the consortium's default users.
package gatewaytest

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/network/networktest"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

// Env is a running node and a connection to it.
type Env struct {
	Node *network.Node
	Conn *ledger.Conn
	Dir  string
}

// Start starts a node in a temporary directory on a free loopback port, with TLS. It is
// stopped when the test ends.
func Start(t testing.TB) *Env {
	t.Helper()
	return StartIn(t, t.TempDir())
}

// StartIn starts a node on dir, which may hold a ledger from an earlier node.
func StartIn(t testing.TB, dir string) *Env {
	t.Helper()
	cc, err := contract.NewChaincode()
	require.NoError(t, err)
	node, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: cc})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, node.Start(ctx))
	cons := node.Config().Consortium
	require.NoError(t, networktest.Members(dir, cons))
	conn, err := ledger.Dial(ledger.Endpoint{Address: node.Addr(), TLSCACertPEM: node.TLSCACertPEM(), ServerNameOverride: node.ServerName()}, cons.Channel, cons.Chaincode, ledger.Timeouts{})
	require.NoError(t, err)
	t.Cleanup(func() {
		conn.Close()
		cancel()
		node.Close()
	})
	e := &Env{Node: node, Conn: conn, Dir: dir}
	for _, org := range cons.Orgs {
		e.trustOrg(t, org)
	}
	return e
}

// trustOrg has the organisation's admin put its CA certificates on the ledger unless they are
// there already, as `careledger up` does: without them no gateway may act for its members.
func (e *Env) trustOrg(t testing.TB, org network.Org) {
	t.Helper()
	admin := e.Client(t, e.User(t, org.MSPID, "Admin"))
	ctx := context.Background()
	if _, err := admin.GetOrgCACertificates(ctx, org.MSPID); err == nil {
		return
	}
	files, err := filepath.Glob(filepath.Join(network.OrgDir(e.Dir, org), "msp", "cacerts", "*.pem"))
	require.NoError(t, err)
	var certs model.CACertificates
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
			certs.Roots = append(certs.Roots, string(pem.EncodeToMemory(block)))
		}
	}
	_, err = admin.SetOrgCACertificates(ctx, certs)
	require.NoError(t, err, "set the CA certificates of %s", org.MSPID)
}

// User loads a user of the generated crypto material.
func (e *Env) User(t testing.TB, mspID, name string) *network.User {
	t.Helper()
	org, ok := e.Node.Config().Consortium.Org(mspID)
	require.True(t, ok, "no organisation %s", mspID)
	u, err := network.LoadUser(e.Dir, org, name)
	require.NoError(t, err)
	return u
}

// Issue creates a new user (for example a second patient).
func (e *Env) Issue(t testing.TB, mspID string, spec network.UserSpec) *network.User {
	t.Helper()
	org, ok := e.Node.Config().Consortium.Org(mspID)
	require.True(t, ok, "no organisation %s", mspID)
	u, err := network.IssueUser(e.Dir, org, spec)
	require.NoError(t, err)
	return u
}

// Client returns a ledger client signing as u.
func (e *Env) Client(t testing.TB, u *network.User) *ledger.Client {
	t.Helper()
	sign, err := identity.NewPrivateKeySign(u.Key)
	require.NoError(t, err)
	id, err := ledger.NewIdentity(u.MSPID, u.CertPEM, sign)
	require.NoError(t, err)
	c, err := e.Conn.As(id)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}
