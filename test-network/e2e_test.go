package testnetwork_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/gateway/scenario"
	"github.com/careledger/careledger/test-network/connprofile"
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

// connect opens a Fabric Gateway connection as id, through the peer its organisation uses.
func connect(t *testing.T, p *connprofile.Profile, mspID string, id connprofile.Identity) *client.Contract {
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
	conn, err := grpc.NewClient(pe.Endpoint, grpc.WithTransportCredentials(creds))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })

	gw, err := client.Connect(gwID,
		client.WithSign(ident.Sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(30*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(30*time.Second), client.WithCommitStatusTimeout(time.Minute))
	require.NoError(t, err)
	t.Cleanup(func() { gw.Close() })
	return gw.GetNetwork(p.Channel).GetContract(p.Chaincode)
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
			if id, ok := p.Identity(msp, role); ok {
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
