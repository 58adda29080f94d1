package network

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// ExternalChaincode is a chaincode server to dial, as the ccaas builder describes one in
// connection.json. The node acts as the peer side of the chaincode shim protocol, so a
// chaincode written for Fabric in any language runs unmodified.
type ExternalChaincode struct {
	// Address is host:port of the chaincode server.
	Address string
	// DialTimeout bounds connecting; zero means 10s.
	DialTimeout time.Duration
	// TLSRequired makes the node verify the server against RootCertPEM.
	TLSRequired bool
	// ClientAuthRequired makes the node present ClientCertPEM / ClientKeyPEM.
	ClientAuthRequired bool
	ClientCertPEM      []byte
	ClientKeyPEM       []byte
	RootCertPEM        []byte
}

// connectionJSON is the ccaas builder's connection.json.
type connectionJSON struct {
	Address            string `json:"address"`
	DialTimeout        string `json:"dial_timeout"`
	TLSRequired        bool   `json:"tls_required"`
	ClientAuthRequired bool   `json:"client_auth_required"`
	ClientKey          string `json:"client_key"`
	ClientCert         string `json:"client_cert"`
	RootCert           string `json:"root_cert"`
}

// ParseConnectionJSON reads a ccaas connection.json, as Fabric's external builder writes it.
func ParseConnectionJSON(b []byte) (ExternalChaincode, error) {
	var c connectionJSON
	if err := json.Unmarshal(b, &c); err != nil {
		return ExternalChaincode{}, fmt.Errorf("parse connection.json: %w", err)
	}
	if c.Address == "" {
		return ExternalChaincode{}, fmt.Errorf("parse connection.json: %w: no address", ErrInvalidConfig)
	}
	ext := ExternalChaincode{Address: c.Address, TLSRequired: c.TLSRequired, ClientAuthRequired: c.ClientAuthRequired,
		ClientKeyPEM: []byte(c.ClientKey), ClientCertPEM: []byte(c.ClientCert), RootCertPEM: []byte(c.RootCert)}
	if c.DialTimeout != "" {
		d, err := time.ParseDuration(c.DialTimeout)
		if err != nil || d < 0 {
			return ExternalChaincode{}, fmt.Errorf("parse connection.json: %w: dial_timeout %q", ErrInvalidConfig, c.DialTimeout)
		}
		ext.DialTimeout = d
	}
	if ext.TLSRequired && len(ext.RootCertPEM) == 0 {
		return ExternalChaincode{}, fmt.Errorf("parse connection.json: %w: tls_required without root_cert", ErrInvalidConfig)
	}
	if ext.ClientAuthRequired && (len(ext.ClientCertPEM) == 0 || len(ext.ClientKeyPEM) == 0) {
		return ExternalChaincode{}, fmt.Errorf("parse connection.json: %w: client_auth_required without client_cert and client_key", ErrInvalidConfig)
	}
	return ext, nil
}

// ErrChaincodeUnavailable is returned, wrapped, when the external chaincode cannot be reached.
var ErrChaincodeUnavailable = errors.New("external chaincode unavailable")

// queryBatchSize is how many results one query response carries, as Fabric's maxResultLimit.
const queryBatchSize = 100

// extChaincode is the peer side of one chaincode server stream. Transactions are multiplexed
// over the stream by channel and transaction ID, as on a Fabric peer.
type extChaincode struct {
	cfg ExternalChaincode

	connMu sync.Mutex
	conn   *grpc.ClientConn
	stream peer.Chaincode_ConnectClient
	cancel context.CancelFunc
	sendMu sync.Mutex
	broken chan struct{}

	txMu sync.Mutex
	txs  map[string]chan *peer.ChaincodeMessage
}

func newExtChaincode(cfg ExternalChaincode) *extChaincode {
	return &extChaincode{cfg: cfg, txs: map[string]chan *peer.ChaincodeMessage{}}
}

func (e *extChaincode) transportCredentials() (credentials.TransportCredentials, error) {
	if !e.cfg.TLSRequired {
		return insecure.NewCredentials(), nil
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(e.cfg.RootCertPEM) {
		return nil, errors.New("no certificate in root_cert")
	}
	tc := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if e.cfg.ClientAuthRequired {
		pair, err := tls.X509KeyPair(e.cfg.ClientCertPEM, e.cfg.ClientKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("client key pair: %w", err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(tc), nil
}

// connected returns a live stream, dialling and registering the chaincode if necessary.
func (e *extChaincode) connected(ctx context.Context) (peer.Chaincode_ConnectClient, chan struct{}, error) {
	e.connMu.Lock()
	defer e.connMu.Unlock()
	if e.stream != nil {
		select {
		case <-e.broken:
		default:
			return e.stream, e.broken, nil
		}
	}
	e.closeLocked()
	creds, err := e.transportCredentials()
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrChaincodeUnavailable, err)
	}
	conn, err := grpc.NewClient(e.cfg.Address, grpc.WithTransportCredentials(creds),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(100<<20), grpc.MaxCallSendMsgSize(100<<20)))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: dial %s: %v", ErrChaincodeUnavailable, e.cfg.Address, err)
	}
	timeout := e.cfg.DialTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	// The stream outlives this call and ends with close; only the handshake is bounded.
	// Fail-fast (no WaitForReady): an unreachable server is an error now, not a hang.
	streamCtx, cancel := context.WithCancel(context.Background())
	stream, err := peer.NewChaincodeClient(conn).Connect(streamCtx)
	if err != nil {
		cancel()
		conn.Close()
		return nil, nil, fmt.Errorf("%w: connect %s: %v", ErrChaincodeUnavailable, e.cfg.Address, err)
	}
	if err := handshake(ctx, stream, timeout); err != nil {
		cancel()
		conn.Close()
		return nil, nil, fmt.Errorf("%w: register with %s: %v", ErrChaincodeUnavailable, e.cfg.Address, err)
	}
	e.conn, e.stream, e.cancel, e.broken = conn, stream, cancel, make(chan struct{})
	go e.receive(stream, e.broken)
	return stream, e.broken, nil
}

// handshake waits for the chaincode's REGISTER and answers REGISTERED then READY.
func handshake(ctx context.Context, stream peer.Chaincode_ConnectClient, timeout time.Duration) error {
	got := make(chan error, 1)
	go func() {
		msg, err := stream.Recv()
		switch {
		case err != nil:
			got <- err
		case msg.GetType() != peer.ChaincodeMessage_REGISTER:
			got <- fmt.Errorf("expected REGISTER, got %s", msg.GetType())
		default:
			got <- nil
		}
	}()
	select {
	case err := <-got:
		if err != nil {
			return err
		}
	case <-time.After(timeout):
		return errors.New("timed out waiting for REGISTER")
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := stream.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_REGISTERED}); err != nil {
		return err
	}
	return stream.Send(&peer.ChaincodeMessage{Type: peer.ChaincodeMessage_READY})
}

func txKey(channel, txID string) string { return channel + "\x00" + txID }

// receive routes the chaincode's messages to the transactions they belong to.
func (e *extChaincode) receive(stream peer.Chaincode_ConnectClient, broken chan struct{}) {
	defer close(broken)
	for {
		msg, err := stream.Recv()
		if err != nil {
			return
		}
		if msg.GetType() == peer.ChaincodeMessage_KEEPALIVE {
			continue
		}
		e.txMu.Lock()
		ch, ok := e.txs[txKey(msg.GetChannelId(), msg.GetTxid())]
		e.txMu.Unlock()
		if ok {
			ch <- msg
		}
	}
}

func (e *extChaincode) send(stream peer.Chaincode_ConnectClient, msg *peer.ChaincodeMessage) error {
	e.sendMu.Lock()
	defer e.sendMu.Unlock()
	return stream.Send(msg)
}

func (e *extChaincode) close() {
	e.connMu.Lock()
	defer e.connMu.Unlock()
	e.closeLocked()
}

func (e *extChaincode) closeLocked() {
	if e.cancel != nil {
		e.cancel()
	}
	if e.conn != nil {
		e.conn.Close()
	}
	e.conn, e.stream, e.cancel = nil, nil, nil
}

// execute runs one transaction on the chaincode server, serving its state requests from sim.
// A returned error is a failure of the node or the server, not an error response of the
// chaincode.
func (e *extChaincode) execute(ctx context.Context, sim *simulation) (*peer.Response, error) {
	fail := func(format string, args ...any) (*peer.Response, error) {
		return nil, fmt.Errorf(format, args...)
	}
	stream, broken, err := e.connected(ctx)
	if err != nil {
		return fail("%w", err)
	}
	key := txKey(sim.ctx.channel, sim.ctx.txID)
	ch := make(chan *peer.ChaincodeMessage, 16)
	e.txMu.Lock()
	if _, busy := e.txs[key]; busy {
		e.txMu.Unlock()
		return fail("transaction %s is already executing", sim.ctx.txID)
	}
	e.txs[key] = ch
	e.txMu.Unlock()
	defer func() {
		e.txMu.Lock()
		delete(e.txs, key)
		e.txMu.Unlock()
	}()

	input, err := proto.Marshal(&peer.ChaincodeInput{Args: sim.ctx.args, Decorations: map[string][]byte{}})
	if err != nil {
		return fail("marshal chaincode input: %v", err)
	}
	if err := e.send(stream, &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_TRANSACTION, Payload: input,
		Txid: sim.ctx.txID, ChannelId: sim.ctx.channel, Proposal: sim.ctx.signedProp}); err != nil {
		return fail("%w: send transaction: %v", ErrChaincodeUnavailable, err)
	}
	h := &shimSession{sim: sim, iters: map[string]*shimQuery{}}
	for {
		var msg *peer.ChaincodeMessage
		select {
		case msg = <-ch:
		case <-broken:
			return fail("%w: chaincode stream terminated", ErrChaincodeUnavailable)
		case <-ctx.Done():
			return fail("timeout expired while executing transaction")
		}
		switch msg.GetType() {
		case peer.ChaincodeMessage_COMPLETED:
			resp := &peer.Response{}
			if err := proto.Unmarshal(msg.GetPayload(), resp); err != nil {
				return fail("unmarshal chaincode response: %v", err)
			}
			if ev := msg.GetChaincodeEvent(); ev != nil && ev.GetEventName() != "" {
				sim.event = &peer.ChaincodeEvent{ChaincodeId: sim.ns, TxId: sim.ctx.txID, EventName: ev.GetEventName(), Payload: ev.GetPayload()}
			}
			return resp, nil
		case peer.ChaincodeMessage_ERROR:
			return fail("%s", msg.GetPayload())
		}
		reply := h.handle(msg)
		reply.Txid, reply.ChannelId = msg.GetTxid(), msg.GetChannelId()
		if err := e.send(stream, reply); err != nil {
			return fail("%w: send response: %v", ErrChaincodeUnavailable, err)
		}
	}
}

// shimSession answers one transaction's requests, keeping its open query iterators.
type shimSession struct {
	sim    *simulation
	iters  map[string]*shimQuery
	nextID int
}

type shimQuery struct {
	state   shim.StateQueryIteratorInterface
	history shim.HistoryQueryIteratorInterface
}

func respond(payload []byte) *peer.ChaincodeMessage {
	return &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_RESPONSE, Payload: payload}
}

func respondErr(err error) *peer.ChaincodeMessage {
	return &peer.ChaincodeMessage{Type: peer.ChaincodeMessage_ERROR, Payload: []byte(err.Error())}
}

func (h *shimSession) handle(msg *peer.ChaincodeMessage) *peer.ChaincodeMessage {
	out, err := h.dispatch(msg)
	if err != nil {
		return respondErr(err)
	}
	return respond(out)
}

// dispatch serves one request with the same simulation the in-process stub uses, so both
// paths record identical read/write sets.
func (h *shimSession) dispatch(msg *peer.ChaincodeMessage) ([]byte, error) {
	sim := h.sim
	switch msg.GetType() {
	case peer.ChaincodeMessage_GET_STATE:
		req := &peer.GetState{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		if req.GetCollection() != "" {
			return nil, errPrivateData
		}
		return sim.GetState(req.GetKey())
	case peer.ChaincodeMessage_GET_STATE_MULTIPLE:
		req := &peer.GetStateMultiple{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		if req.GetCollection() != "" {
			return nil, errPrivateData
		}
		vals, err := sim.GetMultipleStates(req.GetKeys()...)
		if err != nil {
			return nil, err
		}
		return proto.Marshal(&peer.GetStateMultipleResult{Values: vals})
	case peer.ChaincodeMessage_PUT_STATE:
		req := &peer.PutState{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		if req.GetCollection() != "" {
			return nil, errPrivateData
		}
		return nil, sim.PutState(req.GetKey(), req.GetValue())
	case peer.ChaincodeMessage_DEL_STATE:
		req := &peer.DelState{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		if req.GetCollection() != "" {
			return nil, errPrivateData
		}
		return nil, sim.DelState(req.GetKey())
	case peer.ChaincodeMessage_WRITE_BATCH_STATE:
		req := &peer.WriteBatchState{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		for _, w := range req.GetRec() {
			var err error
			switch {
			case w.GetCollection() != "":
				err = errPrivateData
			case w.GetType() == peer.WriteRecord_PUT_STATE:
				err = sim.PutState(w.GetKey(), w.GetValue())
			case w.GetType() == peer.WriteRecord_DEL_STATE:
				err = sim.DelState(w.GetKey())
			default:
				err = errKeyLevelEP
			}
			if err != nil {
				return nil, err
			}
		}
		return nil, nil
	case peer.ChaincodeMessage_GET_STATE_BY_RANGE:
		req := &peer.GetStateByRange{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		if req.GetCollection() != "" {
			return nil, errPrivateData
		}
		md := &peer.QueryMetadata{}
		if len(req.GetMetadata()) > 0 {
			if err := proto.Unmarshal(req.GetMetadata(), md); err != nil {
				return nil, err
			}
		}
		if md.GetPageSize() > 0 {
			it, rmd, err := sim.paginatedRange(req.GetStartKey(), req.GetEndKey(), md.GetPageSize(), md.GetBookmark())
			if err != nil {
				return nil, err
			}
			return h.page(&shimQuery{state: it}, rmd)
		}
		return h.page(&shimQuery{state: sim.newRange(req.GetStartKey(), req.GetEndKey())}, nil)
	case peer.ChaincodeMessage_GET_HISTORY_FOR_KEY:
		req := &peer.GetHistoryForKey{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		it, err := sim.GetHistoryForKey(req.GetKey())
		if err != nil {
			return nil, err
		}
		return h.page(&shimQuery{history: it}, nil)
	case peer.ChaincodeMessage_QUERY_STATE_NEXT:
		req := &peer.QueryStateNext{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		q, ok := h.iters[req.GetId()]
		if !ok {
			return nil, fmt.Errorf("query iterator %s not found", req.GetId())
		}
		return h.batch(req.GetId(), q, nil)
	case peer.ChaincodeMessage_QUERY_STATE_CLOSE:
		req := &peer.QueryStateClose{}
		if err := proto.Unmarshal(msg.GetPayload(), req); err != nil {
			return nil, err
		}
		delete(h.iters, req.GetId())
		return proto.Marshal(&peer.QueryResponse{Id: req.GetId()})
	case peer.ChaincodeMessage_GET_QUERY_RESULT:
		return nil, errRichQuery
	case peer.ChaincodeMessage_GET_STATE_METADATA:
		return proto.Marshal(&peer.StateMetadataResult{})
	case peer.ChaincodeMessage_PUT_STATE_METADATA:
		return nil, errKeyLevelEP
	case peer.ChaincodeMessage_GET_PRIVATE_DATA_HASH, peer.ChaincodeMessage_PURGE_PRIVATE_DATA:
		return nil, errPrivateData
	case peer.ChaincodeMessage_INVOKE_CHAINCODE:
		return nil, errors.New("chaincode-to-chaincode invocation is not supported by the embedded ledger")
	default:
		return nil, fmt.Errorf("unexpected message type %s", msg.GetType())
	}
}

// page starts a query and returns its first batch.
func (h *shimSession) page(q *shimQuery, md *peer.QueryResponseMetadata) ([]byte, error) {
	h.nextID++
	id := strconv.Itoa(h.nextID)
	h.iters[id] = q
	return h.batch(id, q, md)
}

func (h *shimSession) batch(id string, q *shimQuery, md *peer.QueryResponseMetadata) ([]byte, error) {
	resp := &peer.QueryResponse{Id: id}
	for len(resp.Results) < queryBatchSize {
		var item proto.Message
		var err error
		switch {
		case q.state != nil && q.state.HasNext():
			item, err = q.state.Next()
		case q.history != nil && q.history.HasNext():
			item, err = q.history.Next()
		}
		if err != nil {
			return nil, err
		}
		if item == nil {
			break
		}
		b, err := proto.Marshal(item)
		if err != nil {
			return nil, err
		}
		resp.Results = append(resp.Results, &peer.QueryResultBytes{ResultBytes: b})
	}
	resp.HasMore = q.state != nil && q.state.HasNext() || q.history != nil && q.history.HasNext()
	if !resp.HasMore {
		delete(h.iters, id)
	}
	if md != nil {
		b, err := proto.Marshal(md)
		if err != nil {
			return nil, err
		}
		resp.Metadata = b
	}
	return proto.Marshal(resp)
}
