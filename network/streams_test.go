package network_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/network/networktest"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// The callers of the streams matrix, one letter each.
var streamCallers = []struct{ letter, name string }{
	{"o", "patient"}, {"p", "second patient"}, {"c", "clinician"}, {"m", "manufacturer"},
	{"n", "PharmaMSP client without a role"}, {"a", "anonymiser"},
	{"A", "PatientsMSP admin"}, {"B", "ClinicMSP admin"}, {"C", "PharmaMSP admin"},
	{"G", "PatientsMSP gateway"}, {"H", "ClinicMSP gateway"}, {"I", "PharmaMSP gateway"},
	{"P", "PatientsMSP peer"}, {"Q", "ClinicMSP peer"},
	{"d", "PatientsMSP certificate with two node OUs"}, {"f", "identity from an unknown CA"},
}

// generatedCallers maps every identity the node generates by default to its caller letter,
// so that a new default identity cannot be left out of the matrix.
var generatedCallers = map[string]string{
	"PatientsMSP/users/patient1": "o", "PatientsMSP/users/anonymizer": "a", "PatientsMSP/users/Admin": "A",
	"PatientsMSP/users/gateway": "G", "PatientsMSP/peers/peer0": "P",
	"ClinicMSP/users/clinician1": "c", "ClinicMSP/users/Admin": "B", "ClinicMSP/users/gateway": "H",
	"ClinicMSP/peers/peer0":         "Q",
	"PharmaMSP/users/manufacturer1": "m", "PharmaMSP/users/Admin": "C", "PharmaMSP/users/gateway": "I",
}

// streamCall is one call that reads the ledger outside the chaincode, and who may make it.
// Everyone else must be refused with refusal: a Deliver status or a gRPC code, as a Fabric
// peer answers.
type streamCall struct {
	allowed string
	refusal string
	why     string
}

// streamCalls are the rows of the matrix. Each method of the peer's Deliver and Gateway
// services that does not run chaincode must have at least one row (checked against the
// service descriptors); CommitStatus has one row per kind of transaction asked about.
func streamCalls() map[string]streamCall {
	readers := "ABGHPQ"
	why := "peers, admins and gateways of the organisations that run peers (StreamReaders)"
	return map[string]streamCall{
		"Deliver/Deliver":                {allowed: readers, refusal: "FORBIDDEN", why: why},
		"Deliver/DeliverFiltered":        {allowed: readers, refusal: "FORBIDDEN", why: why},
		"Deliver/DeliverWithPrivateData": {allowed: readers, refusal: "FORBIDDEN", why: "checked as event/Block, as on a Fabric peer"},
		"Gateway/ChaincodeEvents":        {allowed: readers, refusal: "PermissionDenied", why: why},
		"Gateway/CommitStatus own":       {allowed: "opcmnaABCGHIPQ", refusal: "PermissionDenied", why: "every member may learn the status of what it submitted"},
		"Gateway/CommitStatus other":     {allowed: readers, refusal: "PermissionDenied", why: "only StreamReaders may ask about others' transactions"},
	}
}

// notStreams are the service methods the matrix leaves to the chaincode's matrix.
var notStreams = []string{"Gateway/Evaluate", "Gateway/Endorse", "Gateway/Submit"}

// serviceMethods lists "Service/Method" for every method of the peer's Deliver and Gateway
// services, from their gRPC descriptors.
func serviceMethods() []string {
	var out []string
	for _, desc := range []grpc.ServiceDesc{peer.Deliver_ServiceDesc, gateway.Gateway_ServiceDesc} {
		svc := desc.ServiceName[strings.LastIndexByte(desc.ServiceName, '.')+1:]
		for _, m := range desc.Methods {
			out = append(out, svc+"/"+m.MethodName)
		}
		for _, s := range desc.Streams {
			out = append(out, svc+"/"+s.StreamName)
		}
	}
	slices.Sort(out)
	return out
}

// TestEveryStreamAgainstEveryCaller makes every streaming call with the real fabric-gateway
// client as every kind of caller: an allowed caller gets data, everyone else exactly the
// refusal a Fabric peer sends.
func TestEveryStreamAgainstEveryCaller(t *testing.T) {
	calls := streamCalls()
	var covered []string
	for name := range calls {
		method, _, _ := strings.Cut(name, " ")
		if !slices.Contains(covered, method) {
			covered = append(covered, method)
		}
	}
	covered = append(covered, notStreams...)
	slices.Sort(covered)
	require.Equal(t, serviceMethods(), covered, "every Deliver and Gateway method needs a row in the matrix")

	n := startNode(t, t.TempDir())
	require.NoError(t, networktest.Members(n.Config().Dir, n.Config().Consortium))
	require.Equal(t, generatedIdentities(t, n), slices.Sorted(maps.Keys(generatedCallers)), "every generated identity needs a caller letter")
	users := map[string]*network.User{}
	for path, letter := range generatedCallers {
		msp, rest, _ := strings.Cut(path, "/")
		kind, name, _ := strings.Cut(rest, "/")
		if kind == "peers" {
			users[letter] = peerUser(t, n, msp)
		} else {
			users[letter] = loadUser(t, n, msp, name)
		}
	}
	patients, _ := n.Config().Consortium.Org(network.PatientsMSP)
	second, err := network.IssueUser(n.Config().Dir, patients, network.UserSpec{Name: "patient2", Role: network.RolePatient})
	require.NoError(t, err)
	users["p"] = second
	users["n"] = issueRaw(t, n, network.PharmaMSP, "norole", "client")
	users["d"] = issueRaw(t, n, network.PatientsMSP, "twofaced", "client", "peer")
	users["f"] = foreignUser(t, network.PatientsMSP)
	require.Len(t, users, len(streamCallers))

	// Someone who is none of the callers creates the transaction that is "someone else's".
	author, err := network.IssueUser(n.Config().Dir, patients, network.UserSpec{Name: "author", Role: network.RolePatient})
	require.NoError(t, err)
	otherTx, err := connect(t, n, author).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode).SubmitTransaction("put", "by-author", "v")
	require.NoError(t, err)

	for _, caller := range streamCallers {
		rec := &streamRecorder{}
		gw := connect(t, n, users[caller.letter], client.WithClientConnection(dialRecorded(t, n, rec)))
		nw := gw.GetNetwork(network.DefaultChannel)
		run := map[string]func(t *testing.T) (bool, error){
			"Deliver/Deliver": func(t *testing.T) (bool, error) {
				return first(t, rec, func(ctx context.Context) (<-chan *common.Block, error) {
					return nw.BlockEvents(ctx, client.WithStartBlock(0))
				})
			},
			"Deliver/DeliverFiltered": func(t *testing.T) (bool, error) {
				return first(t, rec, func(ctx context.Context) (<-chan *peer.FilteredBlock, error) {
					return nw.FilteredBlockEvents(ctx, client.WithStartBlock(0))
				})
			},
			"Deliver/DeliverWithPrivateData": func(t *testing.T) (bool, error) {
				return first(t, rec, func(ctx context.Context) (<-chan *peer.BlockAndPrivateData, error) {
					return nw.BlockAndPrivateDataEvents(ctx, client.WithStartBlock(0))
				})
			},
			"Gateway/ChaincodeEvents": func(t *testing.T) (bool, error) {
				return first(t, rec, func(ctx context.Context) (<-chan *client.ChaincodeEvent, error) {
					return nw.ChaincodeEvents(ctx, network.DefaultChaincode, client.WithStartBlock(0))
				})
			},
			"Gateway/CommitStatus own": func(t *testing.T) (bool, error) {
				commit, err := ownCommit(t, gw, caller.letter)
				if err != nil {
					return false, err
				}
				return commitStatus(t, commit)
			},
			"Gateway/CommitStatus other": func(t *testing.T) (bool, error) {
				return commitStatus(t, commitFor(t, gw, string(otherTx)))
			},
		}
		for _, name := range slices.Sorted(maps.Keys(calls)) {
			call := calls[name]
			t.Run(name+"/"+caller.name, func(t *testing.T) {
				rec.reset()
				got, err := run[name](t)
				if strings.Contains(call.allowed, caller.letter) {
					require.NoError(t, err, "%s as %s (%s)", name, caller.name, call.why)
					require.True(t, got, "%s as %s: no data (%s)", name, caller.name, call.why)
					return
				}
				require.False(t, got, "%s as %s: data arrived (%s)", name, caller.name, call.why)
				require.Error(t, err, "%s as %s: not refused", name, caller.name)
				require.Equal(t, call.refusal, refusal(err), "%s as %s: %v", name, caller.name, err)
				if call.refusal == "PermissionDenied" && !strings.Contains("df", caller.letter) {
					// A valid identity the policy does not admit hears what a Fabric peer says.
					require.Equal(t, "failed evaluating policy on signed data during check policy [/Channel/Application/StreamReaders]: [signature set did not satisfy policy]",
						status.Convert(err).Message())
				}
			})
		}
	}
}

// ownCommit submits a transaction as the gateway's identity and returns its commit. An
// identity the node refuses cannot create one; it asks about a transaction ID of its own
// instead, which it would own if it could.
func ownCommit(t *testing.T, gw *client.Gateway, letter string) (*client.Commit, error) {
	t.Helper()
	prop, err := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode).
		NewProposal("put", client.WithArguments("own-"+letter, "v"))
	require.NoError(t, err)
	tx, err := prop.Endorse()
	if err != nil {
		return commitFor(t, gw, prop.TransactionID()), nil
	}
	return tx.Submit()
}

// commitFor builds a commit status request for txID as the gateway's identity; the client
// signs it when asked for the status.
func commitFor(t *testing.T, gw *client.Gateway, txID string) *client.Commit {
	t.Helper()
	id := gw.Identity()
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: id.MspID(), IdBytes: id.Credentials()})
	require.NoError(t, err)
	req, err := proto.Marshal(&gateway.CommitStatusRequest{ChannelId: network.DefaultChannel, TransactionId: txID, Identity: creator})
	require.NoError(t, err)
	raw, err := proto.Marshal(&gateway.SignedCommitStatusRequest{Request: req})
	require.NoError(t, err)
	commit, err := gw.NewCommit(raw)
	require.NoError(t, err)
	return commit
}

func commitStatus(t *testing.T, commit *client.Commit) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return false, err
	}
	require.Equal(t, peer.TxValidationCode_VALID, st.Code)
	return true, nil
}

// first opens a stream and reports whether anything arrived; a stream that closed without
// data returns the refusal the recorder saw.
func first[T any](t *testing.T, rec *streamRecorder, open func(context.Context) (<-chan T, error)) (bool, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ch, err := open(ctx)
	if err != nil {
		return false, err
	}
	select {
	case _, ok := <-ch:
		if ok {
			return true, nil
		}
		return false, rec.outcome()
	case <-ctx.Done():
		t.Fatal("neither data nor a refusal within 10s")
		return false, nil
	}
}

// refusal names how a call was refused: a Deliver status, or a gRPC code.
func refusal(err error) string {
	var ds deliverStatus
	if errors.As(err, &ds) {
		return common.Status(ds).String()
	}
	return status.Code(err).String()
}

// deliverStatus is a non-success status a Deliver stream ended with.
type deliverStatus common.Status

func (s deliverStatus) Error() string { return "deliver status " + common.Status(s).String() }

// streamRecorder sees, underneath the unmodified client, how the last stream ended: the
// fabric-gateway client closes its event channel without saying why.
type streamRecorder struct {
	mu  sync.Mutex
	err error
}

func (r *streamRecorder) reset() { r.mu.Lock(); r.err = nil; r.mu.Unlock() }

func (r *streamRecorder) set(err error) {
	r.mu.Lock()
	if r.err == nil {
		r.err = err
	}
	r.mu.Unlock()
}

// outcome waits briefly for the stream's end to be recorded: the client may close its
// channel before the recorder has run.
func (r *streamRecorder) outcome() error {
	for range 100 {
		r.mu.Lock()
		err := r.err
		r.mu.Unlock()
		if err != nil {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

type recordedStream struct {
	grpc.ClientStream
	rec *streamRecorder
}

func (s *recordedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if err != nil {
		s.rec.set(err)
		return err
	}
	if resp, ok := m.(*peer.DeliverResponse); ok {
		if st, ok := resp.GetType().(*peer.DeliverResponse_Status); ok && st.Status != common.Status_SUCCESS {
			s.rec.set(deliverStatus(st.Status))
		}
	}
	return nil
}

// dialRecorded connects to the node with a stream interceptor feeding rec.
func dialRecorded(t *testing.T, n *network.Node, rec *streamRecorder) *grpc.ClientConn {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(n.TLSCACertPEM()))
	conn, err := grpc.NewClient(n.Addr(),
		grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, n.ServerName())),
		grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			if err != nil {
				return nil, err
			}
			return &recordedStream{ClientStream: s, rec: rec}, nil
		}))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// generatedIdentities lists "MSP/users/name" and "MSP/peers/peer0" for every identity in the
// node's generated material.
func generatedIdentities(t *testing.T, n *network.Node) []string {
	t.Helper()
	var out []string
	for _, o := range n.Config().Consortium.Orgs {
		for _, kind := range []string{"users", "peers"} {
			entries, err := os.ReadDir(filepath.Join(network.OrgDir(n.Config().Dir, o), kind))
			if os.IsNotExist(err) {
				continue
			}
			require.NoError(t, err)
			for _, e := range entries {
				name := strings.TrimSuffix(e.Name(), "@"+o.Domain)
				name = strings.TrimSuffix(name, "."+o.Domain)
				out = append(out, o.MSPID+"/"+kind+"/"+name)
			}
		}
	}
	slices.Sort(out)
	return out
}

// issueRaw issues a certificate of organisation mspID's CA with the given OUs and no
// CareLedger attributes, as a CA operator could by hand.
func issueRaw(t *testing.T, n *network.Node, mspID, cn string, ous ...string) *network.User {
	t.Helper()
	o, ok := n.Config().Consortium.Org(mspID)
	require.True(t, ok)
	caDir := filepath.Join(network.OrgDir(n.Config().Dir, o), "ca")
	caCert, caKey, _ := readKeyPair(t, filepath.Join(caDir, "ca."+o.Domain+"-cert.pem"), filepath.Join(caDir, "priv_sk"))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, OrganizationalUnit: ous},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &network.User{MSPID: mspID, Name: cn, EnrollmentID: cn, Cert: cert, Key: key,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// TestStreamsCarryNoOtherPatient is the regression test of issue 14: a manufacturer and a
// second patient who try every stream from the first block get nothing, so none of the first
// patient's pseudonym, while a gateway's stream shows that it is there to be found.
func TestStreamsCarryNoOtherPatient(t *testing.T) {
	n := startNode(t, t.TempDir())
	patient := loadUser(t, n, network.PatientsMSP, "patient1")
	pseudonym := []byte(patient.EnrollmentID)
	c := connect(t, n, patient).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
	for i := range 3 {
		_, err := c.SubmitTransaction("put", patient.EnrollmentID+"-"+string(rune('a'+i)), "v")
		require.NoError(t, err)
	}
	patients, _ := n.Config().Consortium.Org(network.PatientsMSP)
	second, err := network.IssueUser(n.Config().Dir, patients, network.UserSpec{Name: "patient2", Role: network.RolePatient})
	require.NoError(t, err)

	for _, tt := range []struct {
		name  string
		user  *network.User
		leaks bool
	}{
		{"manufacturer", loadUser(t, n, network.PharmaMSP, "manufacturer1"), false},
		{"second patient", second, false},
		{"operator's gateway", loadUser(t, n, network.PatientsMSP, "gateway"), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nw := connect(t, n, tt.user).GetNetwork(network.DefaultChannel)
			var seen bytes.Buffer
			drain(t, &seen, func(ctx context.Context) (<-chan *common.Block, error) {
				return nw.BlockEvents(ctx, client.WithStartBlock(0))
			})
			drain(t, &seen, func(ctx context.Context) (<-chan *peer.FilteredBlock, error) {
				return nw.FilteredBlockEvents(ctx, client.WithStartBlock(0))
			})
			drain(t, &seen, func(ctx context.Context) (<-chan *peer.BlockAndPrivateData, error) {
				return nw.BlockAndPrivateDataEvents(ctx, client.WithStartBlock(0))
			})
			drain(t, &seen, func(ctx context.Context) (<-chan *client.ChaincodeEvent, error) {
				return nw.ChaincodeEvents(ctx, network.DefaultChaincode, client.WithStartBlock(0))
			})
			if tt.leaks {
				require.Greater(t, bytes.Count(seen.Bytes(), pseudonym), 3)
				return
			}
			require.Zero(t, seen.Len(), "nothing at all arrives")
			require.Zero(t, bytes.Count(seen.Bytes(), pseudonym))
		})
	}
}

// drain reads a stream for a moment and appends what arrived, as bytes, to w.
func drain[T any](t *testing.T, w *bytes.Buffer, open func(context.Context) (<-chan T, error)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	ch, err := open(ctx)
	require.NoError(t, err)
	for item := range ch {
		switch v := any(item).(type) {
		case proto.Message:
			b, err := proto.Marshal(v)
			require.NoError(t, err)
			w.Write(b)
		case *client.ChaincodeEvent:
			w.WriteString(v.TransactionID + v.EventName)
			w.Write(v.Payload)
		}
	}
}

// TestStreamEndsWhenCertificateExpires: a block stream lasts no longer than the certificate it
// was opened with, as Fabric's deliver service re-checks expiry before each block.
func TestStreamEndsWhenCertificateExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// The skew allowance lets clients with the real clock submit after the node's jumps ahead.
	n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}, MaxClockSkew: 3 * time.Hour},
		network.WithClock(clock))
	require.NoError(t, err)
	require.NoError(t, n.Start(t.Context()))
	t.Cleanup(func() { _ = n.Close() })
	short := issueRaw(t, n, network.PatientsMSP, "short-lived-peer", "peer") // valid for an hour
	rec := &streamRecorder{}
	nw := connect(t, n, short, client.WithClientConnection(dialRecorded(t, n, rec))).GetNetwork(network.DefaultChannel)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	blocks, err := nw.BlockEvents(ctx, client.WithStartBlock(0))
	require.NoError(t, err)
	require.EqualValues(t, 0, (<-blocks).GetHeader().GetNumber())

	mu.Lock()
	now = now.Add(2 * time.Hour)
	mu.Unlock()
	_, err = contractFor(t, n, network.ClinicMSP, "clinician1").SubmitTransaction("put", "k", "v")
	require.NoError(t, err)
	_, ok := <-blocks
	require.False(t, ok, "no block after the certificate expired")
	require.Equal(t, "FORBIDDEN", refusal(rec.outcome()))
}

// TestCommitStatusAfterRestart asks about transactions committed before the node restarted,
// which it no longer remembers: it reads their creator from the block.
func TestCommitStatusAfterRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	clinician := loadUser(t, n, network.ClinicMSP, "clinician1")
	txID, err := connect(t, n, clinician).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode).
		SubmitTransaction("put", "k", "v")
	require.NoError(t, err)
	require.NoError(t, n.Close())

	n = startNode(t, dir)
	ok, err := commitStatus(t, commitFor(t, connect(t, n, clinician), string(txID)))
	require.NoError(t, err)
	require.True(t, ok)
	_, err = commitStatus(t, commitFor(t, connect(t, n, loadUser(t, n, network.PatientsMSP, "patient1")), string(txID)))
	require.Equal(t, "PermissionDenied", refusal(err))
}
