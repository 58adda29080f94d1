package gatewaytest

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/stretchr/testify/require"
)

// Stack is the gateway service wired to an embedded ledger, on-disk blobs, a local key store
// and a durable audit queue, as `careledger up` wires them, for tests of the layers above.
type Stack struct {
	*Env
	Service *gateway.Service
	Queue   *audit.Queue
	Flusher *audit.Flusher
	Keys    *recordkey.Local
	BlobDir string
	// Gateways are each organisation's policy-enforcement identity, by MSP ID.
	Gateways map[string]*ledger.Client
}

// StartStack starts a stack in temporary directories; ttl is the decision cache lifetime.
func StartStack(t testing.TB, ttl time.Duration) *Stack {
	t.Helper()
	s := &Stack{Env: Start(t), Gateways: map[string]*ledger.Client{}}
	dir := t.TempDir()
	s.BlobDir = filepath.Join(dir, "blobs")
	blobs, err := blob.NewDisk(s.BlobDir)
	require.NoError(t, err)
	s.Keys, err = recordkey.OpenLocal(filepath.Join(dir, "keys"), []byte("test passphrase"), recordkey.WithLocalKDFCost(1, 64, 1))
	require.NoError(t, err)
	t.Cleanup(func() { s.Keys.Close() })
	s.Queue, err = audit.Open(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.Queue.Close() })
	writers := map[string]audit.Writer{}
	for _, org := range s.Node.Config().Consortium.Orgs {
		gw := s.Client(t, s.User(t, org.MSPID, "gateway"))
		s.Gateways[org.MSPID] = gw
		writers[org.MSPID] = gw
	}
	s.Flusher = audit.NewFlusher(s.Queue, writers)
	s.Service, err = gateway.New(gateway.Config{Blobs: blobs, Keys: s.Keys, Audit: s.Queue, Flusher: s.Flusher, DecisionTTL: ttl})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Flusher.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// As returns the client through which the gateway of u's organisation acts for u, as the API
// does for a caller authenticated by certificate.
func (s *Stack) As(t testing.TB, u *network.User) *ledger.Client {
	t.Helper()
	gw, ok := s.Gateways[u.MSPID]
	require.True(t, ok, "organisation %s runs no gateway", u.MSPID)
	return gw.For(u.CertPEM)
}
