package testnetwork_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/gateway/scenario"
	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/recordkey"
)

// EnvConnection points the end-to-end suite at a running network's connection file, e.g.
// test-network/build/careledger-connection.json after `network.sh up && network.sh deploy`.
// Without it the suite skips: CI cannot run Fabric's peer and orderer.
const EnvConnection = "CARELEDGER_FABRIC_CONNECTION"

func loadNetwork(t *testing.T) *connprofile.Profile {
	t.Helper()
	path := os.Getenv(EnvConnection)
	if path == "" {
		t.Skipf("skipping: set %s to the connection file of a running test network (test-network/README.md)", EnvConnection)
	}
	p, err := connprofile.Load(path)
	require.NoError(t, err)
	return p
}

// suiteIdentity is the identity of role in mspID the suite acts as: its own one
// (topology.SuitePrefix) where the network enrols one, so that nothing the suite writes
// belongs to the demo identities `careledger up --fabric` uses; otherwise the first of role.
func suiteIdentity(p *connprofile.Profile, mspID, role string) (connprofile.Identity, bool) {
	if o, ok := p.Organizations[mspID]; ok {
		for _, id := range o.Identities[role] {
			if strings.HasPrefix(id.Name, topology.SuitePrefix) {
				return id, true
			}
		}
	}
	return p.Identity(mspID, role)
}

// connect opens a Fabric Gateway connection as id, through the peer its organisation uses.
func connect(t *testing.T, p *connprofile.Profile, mspID string, id connprofile.Identity) *client.Contract {
	t.Helper()
	return connectNetwork(t, p, mspID, id).GetContract(p.Chaincode)
}

// connectNetwork is connect for calls on the channel rather than the chaincode.
func connectNetwork(t *testing.T, p *connprofile.Profile, mspID string, id connprofile.Identity, dialOpts ...grpc.DialOption) *client.Network {
	t.Helper()
	ident, err := wallet.ImportMSP(id.MSPDir, mspID)
	require.NoError(t, err)
	gwID, err := ident.GatewayIdentity()
	require.NoError(t, err)

	pe, org, ok := p.GatewayPeer(mspID)
	require.True(t, ok, "no peer for %s", mspID)
	caPEM, err := os.ReadFile(org.TLSCACert)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: pe.TLSServerName, MinVersion: tls.VersionTLS12})
	conn, err := grpc.NewClient(pe.Endpoint, append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, dialOpts...)...)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	gw, err := client.Connect(gwID,
		client.WithSign(ident.Sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(30*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(30*time.Second), client.WithCommitStatusTimeout(time.Minute))
	require.NoError(t, err)
	t.Cleanup(func() { gw.Close() })
	return gw.GetNetwork(p.Channel)
}

// TestEveryIdentityIsKnownToTheChaincode checks, for every enrolled identity of every
// organisation, that the chaincode derives the pseudonym and role the project's identity
// conventions promise, through a real peer's gateway.
func TestEveryIdentityIsKnownToTheChaincode(t *testing.T) {
	p := loadNetwork(t)
	for mspID, org := range p.Organizations {
		for role, ids := range org.Identities {
			for _, id := range ids {
				t.Run(mspID+"/"+id.Name, func(t *testing.T) {
					out, err := connect(t, p, mspID, id).Evaluate("WhoAmI")
					require.NoError(t, err)
					var me struct{ MSP, ID, Role string }
					require.NoError(t, json.Unmarshal(out, &me))
					require.Equal(t, mspID, me.MSP)
					require.Equal(t, wallet.LedgerID(mspID, id.EnrollmentID), me.ID)
					require.Equal(t, role, me.Role, "the role policy lets %s issue %s", mspID, role)
				})
			}
		}
	}
}

// TestRolePolicyIsSet checks that deploy set the consortium's role policy.
func TestRolePolicyIsSet(t *testing.T) {
	p := loadNetwork(t)
	want, err := os.ReadFile(filepath.Join(filepath.Dir(os.Getenv(EnvConnection)), "chaincode", "role-policy.json"))
	require.NoError(t, err)
	admin, ok := p.Identity("PatientsMSP", "admin")
	require.True(t, ok)
	got, err := connect(t, p, "PatientsMSP", admin).Evaluate("GetRolePolicy")
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(got))
}

// TestOrgCACertificatesAreSet checks that deploy put every organisation's CA certificates on
// the ledger, without which no gateway may act for its members.
func TestOrgCACertificatesAreSet(t *testing.T) {
	p := loadNetwork(t)
	admin, ok := p.Identity("PatientsMSP", "admin")
	require.True(t, ok)
	c := connect(t, p, "PatientsMSP", admin)
	for msp := range p.Organizations {
		got, err := c.Evaluate("GetOrgCACertificates", client.WithArguments(msp))
		require.NoError(t, err, msp)
		require.Contains(t, string(got), "BEGIN CERTIFICATE", msp)
	}
}

// TestOneOrganisationCannotCommitAlone endorses a harmless write (re-setting the same role
// policy) on the operator's peers only: the orderer accepts it, but every peer must mark it
// invalid, because the endorsement policy needs both peer organisations.
func TestOneOrganisationCannotCommitAlone(t *testing.T) {
	p := loadNetwork(t)
	policy, err := os.ReadFile(filepath.Join(filepath.Dir(os.Getenv(EnvConnection)), "chaincode", "role-policy.json"))
	require.NoError(t, err)
	admin, ok := p.Identity("PatientsMSP", "admin")
	require.True(t, ok)
	contract := connect(t, p, "PatientsMSP", admin)

	proposal, err := contract.NewProposal("SetRolePolicy",
		client.WithArguments(string(policy)), client.WithEndorsingOrganizations("PatientsMSP"))
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tx, err := proposal.EndorseWithContext(ctx)
	require.NoError(t, err)
	commit, err := tx.SubmitWithContext(ctx)
	require.NoError(t, err)
	status, err := commit.StatusWithContext(ctx)
	require.NoError(t, err)
	require.False(t, status.Successful)
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, status.Code)
}

// TestGatewayGathersBothEndorsements submits the same write without choosing endorsers:
// the operator's peer must find a clinic peer through discovery (anchor peers, gossip) and
// the transaction must commit.
func TestGatewayGathersBothEndorsements(t *testing.T) {
	p := loadNetwork(t)
	policy, err := os.ReadFile(filepath.Join(filepath.Dir(os.Getenv(EnvConnection)), "chaincode", "role-policy.json"))
	require.NoError(t, err)
	admin, ok := p.Identity("PatientsMSP", "admin")
	require.True(t, ok)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	_, err = connect(t, p, "PatientsMSP", admin).SubmitWithContext(ctx, "SetRolePolicy", client.WithArguments(string(policy)))
	require.NoError(t, err)
}

// TestUserStories runs the user stories of the embedded-ledger end-to-end suite (the same
// gateway/scenario functions, not a copy) against the real network: the gateway service runs
// here with temporary stores, and clinicians and manufacturers act through their
// organisation's gateway identity as they do behind the API.
func TestUserStories(t *testing.T) {
	p := loadNetwork(t)
	dir := t.TempDir()
	blobs, err := blob.NewDisk(filepath.Join(dir, "blobs"))
	require.NoError(t, err)
	keys, err := recordkey.OpenLocal(filepath.Join(dir, "keys"), []byte("e2e"), recordkey.WithLocalKDFCost(1, 64, 1))
	require.NoError(t, err)
	t.Cleanup(func() { keys.Close() })
	queue, err := audit.Open(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { queue.Close() })

	writers := map[string]audit.Writer{}
	gateways := map[string]*ledger.Client{}
	for msp := range p.Organizations {
		if id, ok := p.Identity(msp, "gateway"); ok {
			gateways[msp] = ledgerClient(t, p, msp, id)
			writers[msp] = gateways[msp]
		}
	}
	flusher := audit.NewFlusher(queue, writers)
	svc, err := gateway.New(gateway.Config{Blobs: blobs, Keys: keys, Audit: queue})
	require.NoError(t, err)

	member := func(role string) (string, []byte, *ledger.Client) {
		for msp := range p.Organizations {
			if id, ok := suiteIdentity(p, msp, role); ok {
				ident, err := wallet.ImportMSP(id.MSPDir, msp)
				require.NoError(t, err)
				return msp, ident.CertificatePEM(), ledgerClient(t, p, msp, id)
			}
		}
		t.Fatalf("the connection file has no %s identity", role)
		return "", nil, nil
	}
	_, _, patient := member("patient")
	clinicMSP, clinicianCert, _ := member("clinician")
	pharmaMSP, manufacturerCert, manufacturer := member("manufacturer")
	require.Contains(t, gateways, clinicMSP)
	asManufacturer := manufacturer
	if gw, ok := gateways[pharmaMSP]; ok {
		asManufacturer = gw.For(manufacturerCert)
	}
	scenario.Run(t, scenario.Env{
		Service: svc, Flush: flusher.Flush, Patient: patient,
		Clinician: gateways[clinicMSP].For(clinicianCert), Manufacturer: asManufacturer,
	})
}

// ledgerClient is CareLedger's typed client signing as id, through the peer its organisation
// uses.
func ledgerClient(t *testing.T, p *connprofile.Profile, mspID string, id connprofile.Identity) *ledger.Client {
	t.Helper()
	ident, err := wallet.ImportMSP(id.MSPDir, mspID)
	require.NoError(t, err)
	pe, org, ok := p.GatewayPeer(mspID)
	require.True(t, ok, "no peer for %s", mspID)
	caPEM, err := os.ReadFile(org.TLSCACert)
	require.NoError(t, err)
	conn, err := ledger.Dial(ledger.Endpoint{Address: pe.Endpoint, TLSCACertPEM: caPEM, ServerNameOverride: pe.TLSServerName}, p.Channel, p.Chaincode,
		ledger.Timeouts{Evaluate: 30 * time.Second, Endorse: 30 * time.Second, Submit: 30 * time.Second, CommitStatus: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	lid, err := ledger.NewIdentity(mspID, ident.CertificatePEM(), ident.Sign)
	require.NoError(t, err)
	c, err := conn.As(lid)
	require.NoError(t, err)
	return c
}

// TestOnlyPeersAdminsAndGatewaysStreamTheLedger checks the channel's ACLs on real peers: a
// manufacturer (whose organisation must never hold a ledger copy) and a patient are refused
// blocks, filtered blocks, blocks with private data, chaincode events and qscc's blocks,
// with the status a Fabric peer sends; a gateway service, enrolled as a peer, gets them.
func TestOnlyPeersAdminsAndGatewaysStreamTheLedger(t *testing.T) {
	p := loadNetwork(t)
	for _, tt := range []struct {
		msp, role string
		allowed   bool
	}{
		{"PharmaMSP", "manufacturer", false},
		{"PatientsMSP", "patient", false},
		{"ClinicMSP", "clinician", false},
		{"PharmaMSP", "gateway", false}, // a client: its organisation holds no ledger copy
		{"PatientsMSP", "gateway", true},
		{"ClinicMSP", "gateway", true},
		{"ClinicMSP", "admin", true},
	} {
		id, ok := suiteIdentity(p, tt.msp, tt.role)
		require.True(t, ok, "no %s in %s", tt.role, tt.msp)
		var mu sync.Mutex
		var ended error // how the last stream ended, seen underneath the client
		record := grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			s, err := streamer(ctx, desc, cc, method, opts...)
			return &endRecorder{ClientStream: s, set: func(err error) { mu.Lock(); ended = err; mu.Unlock() }}, err
		})
		nw := connectNetwork(t, p, tt.msp, id, record)
		streams := map[string]func(context.Context) (bool, error){
			"blocks": func(ctx context.Context) (bool, error) {
				ch, err := nw.BlockEvents(ctx, client.WithStartBlock(0))
				return firstArrives(ctx, ch, err)
			},
			"filtered blocks": func(ctx context.Context) (bool, error) {
				ch, err := nw.FilteredBlockEvents(ctx, client.WithStartBlock(0))
				return firstArrives(ctx, ch, err)
			},
			"blocks with private data": func(ctx context.Context) (bool, error) {
				ch, err := nw.BlockAndPrivateDataEvents(ctx, client.WithStartBlock(0))
				return firstArrives(ctx, ch, err)
			},
			"chaincode events": func(ctx context.Context) (bool, error) {
				ch, err := nw.ChaincodeEvents(ctx, p.Chaincode, client.WithStartBlock(0))
				return firstArrives(ctx, ch, err)
			},
		}
		for name, open := range streams {
			t.Run(tt.msp+"/"+tt.role+"/"+name, func(t *testing.T) {
				mu.Lock()
				ended = nil
				mu.Unlock()
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				got, err := open(ctx)
				require.NoError(t, err)
				require.Equal(t, tt.allowed, got)
				if tt.allowed {
					return
				}
				require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return ended != nil }, 5*time.Second, 10*time.Millisecond)
				mu.Lock()
				defer mu.Unlock()
				if name == "chaincode events" {
					require.Equal(t, codes.PermissionDenied, status.Code(ended), "%v", ended)
				} else {
					require.Equal(t, forbidden, ended)
				}
			})
		}
		t.Run(tt.msp+"/"+tt.role+"/qscc block", func(t *testing.T) {
			qscc := nw.GetContract("qscc")
			_, err := qscc.EvaluateTransaction("GetBlockByNumber", p.Channel, "0")
			if tt.allowed {
				require.NoError(t, err)
			} else {
				require.Error(t, err, "qscc hands out the same blocks")
			}
		})
	}
}

// forbidden is how endRecorder reports a Deliver stream that ended with status FORBIDDEN.
var forbidden = errors.New("deliver status FORBIDDEN")

// endRecorder reports the refusal that ends a stream: a Deliver status other than SUCCESS, or
// the gRPC error of a gateway stream. The fabric-gateway client just closes its channel.
type endRecorder struct {
	grpc.ClientStream
	set func(error)
}

func (r *endRecorder) RecvMsg(m any) error {
	err := r.ClientStream.RecvMsg(m)
	if err != nil {
		r.set(err)
		return err
	}
	if resp, ok := m.(*peer.DeliverResponse); ok {
		if st := resp.GetStatus(); st == common.Status_FORBIDDEN {
			r.set(forbidden)
		} else if st != common.Status_UNKNOWN && st != common.Status_SUCCESS {
			r.set(fmt.Errorf("deliver status %s", st))
		}
	}
	return nil
}

// firstArrives reports whether a stream delivers anything before it closes.
func firstArrives[T any](ctx context.Context, ch <-chan T, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	select {
	case _, ok := <-ch:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// TestOrderersDeliverOnlyToStreamReaders asks an orderer directly for the genesis block: the
// orderers check /Channel/Readers, which must refuse what the peers refuse.
func TestOrderersDeliverOnlyToStreamReaders(t *testing.T) {
	p := loadNetwork(t)
	oo := topology.Default().Orderer
	node := oo.Nodes[0]
	caPEM, err := os.ReadFile(filepath.Join(filepath.Dir(os.Getenv(EnvConnection)), filepath.FromSlash(topology.OrdererDir(oo, node)), "tls", "ca.crt"))
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(caPEM))
	conn, err := grpc.NewClient(topology.HostAddr(node.Port),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: node.Host, MinVersion: tls.VersionTLS12})))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	for _, tt := range []struct {
		msp, role string
		want      common.Status // SUCCESS: a block arrives
	}{
		{"PharmaMSP", "manufacturer", common.Status_FORBIDDEN},
		{"PharmaMSP", "admin", common.Status_FORBIDDEN},
		{"PharmaMSP", "gateway", common.Status_FORBIDDEN},
		{"PatientsMSP", "patient", common.Status_FORBIDDEN},
		{"PatientsMSP", "gateway", common.Status_SUCCESS},
		{"ClinicMSP", "admin", common.Status_SUCCESS},
	} {
		t.Run(tt.msp+"/"+tt.role, func(t *testing.T) {
			id, ok := suiteIdentity(p, tt.msp, tt.role)
			require.True(t, ok)
			ident, err := wallet.ImportMSP(id.MSPDir, tt.msp)
			require.NoError(t, err)
			// The unmodified client builds the seek request; it is signed as the client signs it.
			req, err := connectNetwork(t, p, tt.msp, id).NewBlockEventsRequest(client.WithStartBlock(0))
			require.NoError(t, err)
			raw, err := req.Bytes()
			require.NoError(t, err)
			env := &common.Envelope{}
			require.NoError(t, proto.Unmarshal(raw, env))
			env.Signature, err = ident.Sign(req.Digest())
			require.NoError(t, err)

			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			stream, err := orderer.NewAtomicBroadcastClient(conn).Deliver(ctx)
			require.NoError(t, err)
			require.NoError(t, stream.Send(env))
			resp, err := stream.Recv()
			require.NoError(t, err)
			if tt.want == common.Status_SUCCESS {
				require.EqualValues(t, 0, resp.GetBlock().GetHeader().GetNumber(), "%v", resp)
				require.NotNil(t, resp.GetBlock())
				return
			}
			require.Nil(t, resp.GetBlock())
			require.Equal(t, tt.want, resp.GetStatus())
		})
	}
}
