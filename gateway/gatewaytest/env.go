// Package gatewaytest starts the embedded ledger with the CareLedger chaincode for tests of the
// gateway, and hands out typed ledger clients for the consortium's default users.
package gatewaytest

import (
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/network/networktest"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
)

// Env is a running node and a connection to it.
type Env struct {
	Node *network.Node
	Conn *ledger.Conn
	Dir  string
	cc   *counting
}

// Invocations returns how many times the chaincode ran fn (evaluated or endorsed) so far, so
// that tests can count the ledger calls a gateway operation costs.
func (e *Env) Invocations(fn string) int { return e.cc.count(fn) }

// counting is the chaincode, counting its invocations by transaction name.
type counting struct {
	shim.Chaincode
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, _ := stub.GetFunctionAndParameters()
	c.mu.Lock()
	c.calls[fn]++
	c.mu.Unlock()
	return c.Chaincode.Invoke(stub)
}

func (c *counting) count(fn string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[fn]
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
	inner, err := contract.NewChaincode()
	require.NoError(t, err)
	cc := &counting{Chaincode: inner, calls: map[string]int{}}
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
	e := &Env{Node: node, Conn: conn, Dir: dir, cc: cc}
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
	return c
}
