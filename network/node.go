package network

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"
)

// Node is the embedded ledger node: a Fabric Gateway endpoint with an in-process chaincode, an
// orderer and a committing peer, all in one process.
type Node struct {
	cfg   Config
	log   *slog.Logger
	clock func() time.Time

	msps *mspSet
	// acls is the policy guarding each resource (Resources).
	acls        map[string]*Policy
	validator   *txValidator
	peer        *peerIdentity
	peerCreator []byte
	// peers are the endorsing peers the node hosts, one per peer organisation, the
	// operator's first.
	peers []*hostedPeer
	// endorsers are the indexes in peers of the endorsers a transaction needs under the
	// current endorsement policy, the gateway's plan; nil if the hosted peers cannot satisfy it.
	endorsers []int
	store     *store
	ext       *extChaincode

	queue        chan *pendingTx
	stopOrdering chan struct{}
	ordererDone  chan struct{}
	failed       atomic.Bool
	failure      atomic.Pointer[error] // why failed is set

	chainMu  sync.RWMutex
	info     chainInfo
	newBlock chan struct{}

	waitMu  sync.Mutex
	waiters map[string][]chan txLocation
	// creators are the creators of recently committed transactions, for CommitStatus.
	creators *recentCreators

	startMu  sync.Mutex
	server   *grpc.Server
	listener net.Listener
	closed   bool
	done     chan struct{}
}

// Option changes how New builds a node.
type Option func(*Node)

// WithLogger sets the logger; by default the node logs nothing.
func WithLogger(l *slog.Logger) Option { return func(n *Node) { n.log = l } }

// WithClock sets the clock used for timestamp and certificate validity checks.
func WithClock(now func() time.Time) Option { return func(n *Node) { n.clock = now } }

const queueSize = 16384

// New prepares a node: it generates missing crypto material under cfg.Dir, loads the MSPs,
// opens (or creates, with a genesis block) the ledger in cfg.Dir/ledger. Call Start to serve.
func New(cfg Config, opts ...Option) (*Node, error) {
	cfg.applyDefaults()
	if cfg.Dir == "" {
		return nil, fmt.Errorf("new node: %w: no data directory", ErrInvalidConfig)
	}
	if (cfg.Chaincode == nil) == (cfg.External == nil) {
		return nil, fmt.Errorf("new node: %w: exactly one of Chaincode and External is required", ErrInvalidConfig)
	}
	if err := GenerateMaterial(cfg.Dir, cfg.Consortium); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if err := CheckKeyPermissions(cfg.Dir, cfg.Consortium); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	acls, err := cfg.Consortium.compileACLs()
	if err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	n := &Node{
		acls:         acls,
		cfg:          cfg,
		log:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock:        time.Now,
		queue:        make(chan *pendingTx, queueSize),
		stopOrdering: make(chan struct{}),
		ordererDone:  make(chan struct{}),
		newBlock:     make(chan struct{}),
		waiters:      map[string][]chan txLocation{},
		creators:     newRecentCreators(),
		done:         make(chan struct{}),
	}
	for _, o := range opts {
		o(n)
	}
	if cfg.External != nil {
		n.ext = newExtChaincode(*cfg.External)
	}
	upgraded, err := upgradeGateways(cfg.Dir, cfg.Consortium)
	for _, u := range upgraded {
		n.log.Info("re-issued the gateway identity with node OU peer: channel policies admit gateway services to event streams by that role",
			"user", u)
	}
	if err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	issued, err := ensurePeers(cfg.Dir, cfg.Consortium)
	for _, p := range issued {
		n.log.Info("issued the missing peer identity: the node hosts an endorsing peer of every peer organisation", "peer", p)
	}
	if err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if n.msps, err = loadMSPs(cfg.Dir, cfg.Consortium); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if n.peer, err = loadPeer(cfg.Dir, cfg.Consortium.Operator(), cfg.TLSHosts); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if n.peerCreator, err = proto.Marshal(&msp.SerializedIdentity{Mspid: n.peer.user.MSPID, IdBytes: n.peer.user.CertPEM}); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if err := os.MkdirAll(LedgerDir(cfg.Dir), 0o700); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if n.store, err = openStore(LedgerDir(cfg.Dir), false, n.log); err != nil {
		return nil, fmt.Errorf("new node: %w", err)
	}
	if err := n.loadChain(); err != nil {
		n.store.close()
		return nil, fmt.Errorf("new node: %w", err)
	}
	if err := n.setupEndorsement(); err != nil {
		n.store.close()
		return nil, fmt.Errorf("new node: %w", err)
	}
	return n, nil
}

// setupEndorsement loads the hosted peers, records the configured endorsement policy if it
// changed, builds the validator and plans which peers endorse.
func (n *Node) setupEndorsement() error {
	var err error
	if n.peers, err = loadHostedPeers(n.cfg.Dir, n.cfg.Consortium, n.peer); err != nil {
		return err
	}
	epochs, changed, err := recordPolicy(n.cfg.Dir, n.cfg.Consortium, n.info.height)
	if err != nil {
		return err
	}
	if changed {
		n.log.Info("endorsement policy in force from the next block", "policy", n.cfg.Consortium.EndorsementPolicy, "block", n.info.height)
	}
	users := make([]*User, len(n.peers))
	for i, p := range n.peers {
		users[i] = p.user
	}
	if n.validator, err = newValidator(n.msps, n.cfg.Consortium, epochs, users...); err != nil {
		return err
	}
	n.validator.issued = newIssuedEndorsements()
	ids := make([]*identity, len(n.peers))
	for i, p := range n.peers {
		if ids[i], err = n.msps.deserialize(p.creator, n.now()); err != nil {
			return fmt.Errorf("hosted peer %s: %w", p.user.Name, err)
		}
	}
	if n.endorsers = n.validator.current().plan(ids); n.endorsers == nil {
		n.log.Warn("the peers this node hosts cannot satisfy the endorsement policy: every transaction will be refused",
			"policy", n.cfg.Consortium.EndorsementPolicy)
	}
	return nil
}

// LedgerDir is the ledger directory (block log and index) of a node whose data directory is dir.
func LedgerDir(dir string) string { return filepath.Join(dir, "ledger") }

func (n *Node) now() time.Time { return n.clock() }

// loadChain reads the chain info, writing the genesis block into an empty ledger.
func (n *Node) loadChain() error {
	var info chainInfo
	err := n.store.db.View(func(btx *bolt.Tx) error {
		var err error
		info, err = readChainInfo(btx)
		return err
	})
	if err != nil {
		return err
	}
	if info.height > 0 {
		// A ledger belongs to one channel: refuse to serve it under another name.
		g, err := n.readBlock(0)
		if err != nil {
			return err
		}
		env := &common.Envelope{}
		payload := &common.Payload{}
		chdr := &common.ChannelHeader{}
		if len(g.GetData().GetData()) == 0 || proto.Unmarshal(g.GetData().GetData()[0], env) != nil ||
			proto.Unmarshal(env.GetPayload(), payload) != nil || proto.Unmarshal(payload.GetHeader().GetChannelHeader(), chdr) != nil {
			return errors.New("read genesis block: malformed")
		}
		if chdr.GetChannelId() != n.cfg.Consortium.Channel {
			return fmt.Errorf("%w: ledger is for channel %q, not %q", ErrInvalidConfig, chdr.GetChannelId(), n.cfg.Consortium.Channel)
		}
	}
	if info.height == 0 {
		g, err := n.genesisBlock()
		if err != nil {
			return err
		}
		hash := blockHeaderHash(g.Header)
		ch := commitHash(nil, hash, g.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER])
		md, err := proto.Marshal(&common.Metadata{Value: ch})
		if err != nil {
			return err
		}
		g.Metadata.Metadata[common.BlockMetadataIndex_COMMIT_HASH] = md
		raw, err := proto.Marshal(g)
		if err != nil {
			return err
		}
		err = n.store.db.Update(func(btx *bolt.Tx) error {
			pos, err := n.store.log.append(raw)
			if err != nil {
				return err
			}
			return writeBlock(btx, &blockCommit{num: 0, pos: pos, headerHash: hash, commitHash: ch})
		})
		if err != nil {
			return fmt.Errorf("write genesis block: %w", err)
		}
		info = chainInfo{height: 1, lastHash: hash, commitHash: ch}
	}
	n.info = info
	return nil
}

// Start listens on cfg.ListenAddr and serves the Gateway and Deliver services until Close.
// ctx bounds only setting up the listener; it does not stop the node.
func (n *Node) Start(ctx context.Context) error {
	n.startMu.Lock()
	defer n.startMu.Unlock()
	if n.closed {
		return fmt.Errorf("start node: %w", ErrClosed)
	}
	if n.server != nil {
		return errors.New("start node: already started")
	}
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", n.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("start node: %w", err)
	}
	opts := []grpc.ServerOption{
		grpc.MaxRecvMsgSize(100 << 20),
		grpc.MaxSendMsgSize(100 << 20),
	}
	if !n.cfg.InsecureNoTLS {
		pair, err := tls.X509KeyPair(n.peer.tlsCertPEM, n.peer.tlsKeyPEM)
		if err != nil {
			lis.Close()
			return fmt.Errorf("start node: load tls key pair: %w", err)
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(&tls.Config{
			Certificates: []tls.Certificate{pair},
			MinVersion:   tls.VersionTLS12,
		})))
	}
	n.server = grpc.NewServer(opts...)
	gateway.RegisterGatewayServer(n.server, &gatewayServer{n: n})
	peer.RegisterDeliverServer(n.server, &deliverServer{n: n})
	n.listener = lis
	go n.order()
	go func() {
		if err := n.server.Serve(lis); err != nil {
			n.log.Error("grpc server stopped", "error", err)
		}
	}()
	n.log.Info("ledger node serving", "addr", lis.Addr().String(), "channel", n.cfg.Consortium.Channel, "tls", !n.cfg.InsecureNoTLS)
	return nil
}

// Addr is the address the node listens on, once started.
func (n *Node) Addr() string {
	n.startMu.Lock()
	defer n.startMu.Unlock()
	if n.listener == nil {
		return ""
	}
	return n.listener.Addr().String()
}

// TLSCACertPEM is the CA certificate clients use to verify the node's TLS certificate
// (peers/peer0.<domain>/tls/ca.crt of the operator organisation).
func (n *Node) TLSCACertPEM() []byte { return n.peer.tlsCAPEM }

// ServerName is the TLS server name clients should expect.
func (n *Node) ServerName() string { return PeerName(n.cfg.Consortium.Operator()) }

// Config returns the configuration the node runs with, defaults applied.
func (n *Node) Config() Config { return n.cfg }

// Height is the number of committed blocks, genesis included.
func (n *Node) Height() uint64 { return n.chainInfo().height }

// Close stops serving, commits the transactions already accepted, and closes the ledger.
func (n *Node) Close() error {
	n.startMu.Lock()
	if n.closed {
		n.startMu.Unlock()
		return nil
	}
	n.closed = true
	close(n.done)
	srv := n.server
	n.startMu.Unlock()
	if srv != nil {
		stopped := make(chan struct{})
		go func() {
			srv.GracefulStop()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(5 * time.Second):
			srv.Stop()
		}
		close(n.stopOrdering)
		<-n.ordererDone
	}
	if n.ext != nil {
		n.ext.close()
	}
	if err := n.store.close(); err != nil {
		return fmt.Errorf("close node: %w", err)
	}
	return nil
}
