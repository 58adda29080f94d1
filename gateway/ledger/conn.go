package ledger

import (
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// Endpoint says where a Fabric Gateway service is and how to trust it, the way fabric-samples
// applications are configured.
type Endpoint struct {
	// Address is host:port of a peer's (or the embedded node's) gateway service.
	Address string
	// TLSCACertPEM is the peer's TLS CA certificate. Empty means plain gRPC (tests only).
	TLSCACertPEM []byte
	// ServerNameOverride is the TLS server name to expect, e.g. "peer0.clinic.careledger.local",
	// when Address is an IP or a different host name.
	ServerNameOverride string
}

// Conn is one gRPC connection to a gateway endpoint, shared by every identity that uses it.
type Conn struct {
	grpc    *grpc.ClientConn
	channel string
	cc      string
	timeout Timeouts
}

// Timeouts bound each stage of a transaction.
type Timeouts struct {
	Evaluate     time.Duration
	Endorse      time.Duration
	Submit       time.Duration
	CommitStatus time.Duration
}

// DefaultTimeouts are the fabric-samples defaults.
var DefaultTimeouts = Timeouts{Evaluate: 5 * time.Second, Endorse: 15 * time.Second, Submit: 5 * time.Second, CommitStatus: time.Minute}

// Dial connects to the endpoint for a channel and chaincode. The connection is lazy: an
// unreachable endpoint shows up as ErrUnavailable on the first call.
func Dial(ep Endpoint, channel, chaincode string, t Timeouts) (*Conn, error) {
	var creds credentials.TransportCredentials
	if len(ep.TLSCACertPEM) == 0 {
		creds = insecure.NewCredentials()
	} else {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ep.TLSCACertPEM) {
			return nil, errors.New("dial ledger: TLS CA certificate is not PEM")
		}
		creds = credentials.NewClientTLSFromCert(pool, ep.ServerNameOverride)
	}
	gc, err := grpc.NewClient(ep.Address, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("dial ledger %s: %w", ep.Address, err)
	}
	if t == (Timeouts{}) {
		t = DefaultTimeouts
	}
	return &Conn{grpc: gc, channel: channel, cc: chaincode, timeout: t}, nil
}

// Close closes the connection.
func (c *Conn) Close() error { return c.grpc.Close() }

// Identity is who signs: an X.509 identity and its signing function (from the wallet, an HSM,
// or nil for offline signing on the member's own device).
type Identity struct {
	ID   *identity.X509Identity
	Sign identity.Sign
}

// NewIdentity builds an Identity from a PEM certificate, its MSP ID and a signing function.
func NewIdentity(mspID string, certPEM []byte, sign identity.Sign) (Identity, error) {
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return Identity{}, fmt.Errorf("read identity certificate: %w", err)
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return Identity{}, fmt.Errorf("build identity: %w", err)
	}
	return Identity{ID: id, Sign: sign}, nil
}

// As returns a client that signs as id.
func (c *Conn) As(id Identity) (*Client, error) {
	opts := []client.ConnectOption{
		client.WithClientConnection(c.grpc),
		client.WithHash(hash.SHA256),
		client.WithEvaluateTimeout(c.timeout.Evaluate),
		client.WithEndorseTimeout(c.timeout.Endorse),
		client.WithSubmitTimeout(c.timeout.Submit),
		client.WithCommitStatusTimeout(c.timeout.CommitStatus),
	}
	if id.Sign != nil {
		opts = append(opts, client.WithSign(id.Sign))
	}
	gw, err := client.Connect(id.ID, opts...)
	if err != nil {
		return nil, fmt.Errorf("connect ledger gateway: %w", err)
	}
	return &Client{key: callerKey(id.ID.Credentials(), nil), gw: gw, network: gw.GetNetwork(c.channel), contract: gw.GetNetwork(c.channel).GetContract(c.cc), retry: defaultRetry}, nil
}
