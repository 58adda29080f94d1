package network

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// TestIssuedGatewayIsAPeer: gateways issued after the first start (careledger admin enrol
// --role gateway) get the node OU the generated ones get.
func TestIssuedGatewayIsAPeer(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConsortium()
	require.NoError(t, GenerateMaterial(dir, c))
	for _, o := range c.Orgs {
		u, err := IssueUser(dir, o, UserSpec{Name: "gateway2", Role: RoleGateway})
		require.NoError(t, err)
		require.Equal(t, []string{userNodeOU(o, UserSpec{Role: RoleGateway})}, u.Cert.Subject.OrganizationalUnit)
		require.Equal(t, o.Peer, u.Cert.Subject.OrganizationalUnit[0] == "peer", o.MSPID)
	}
}

// TestOldGatewayIdentityIsReissued starts a node on a data directory whose gateways were
// issued as clients, as before streams were guarded: the node re-issues them as peers with
// the same key, enrollment ID and role, and says so once.
func TestOldGatewayIdentityIsReissued(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConsortium()
	require.NoError(t, GenerateMaterial(dir, c))
	old := map[string]*User{}
	for _, o := range c.Orgs {
		u, err := LoadUser(dir, o, gatewayUser)
		require.NoError(t, err)
		ca, err := loadCA(filepath.Join(OrgDir(dir, o), "ca"))
		require.NoError(t, err)
		certPEM, _, err := signUserCert(ca, &u.Key.PublicKey, u.Role, u.EnrollmentID, "client")
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(u.Dir, "msp", "signcerts", gatewayUser+"@"+o.Domain+"-cert.pem"), certPEM, 0o644))
		old[o.MSPID] = u
	}

	var logs bytes.Buffer
	start := func() {
		n, err := New(Config{Dir: dir, Chaincode: echoChaincode{}}, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		require.NoError(t, n.Close())
	}
	start()
	require.Equal(t, 2, strings.Count(logs.String(), "re-issued the gateway identity"), logs.String())
	for _, o := range c.Orgs {
		u, err := LoadUser(dir, o, gatewayUser)
		require.NoError(t, err)
		want := "peer"
		if !o.Peer {
			want = "client"
		}
		require.Equal(t, []string{want}, u.Cert.Subject.OrganizationalUnit, o.MSPID)
		require.True(t, u.Key.Equal(old[o.MSPID].Key), "the key stays")
		require.Equal(t, old[o.MSPID].EnrollmentID, u.EnrollmentID)
		require.Equal(t, RoleGateway, u.Role)
		msps, err := loadMSPs(dir, c)
		require.NoError(t, err)
		id, err := msps.validate(serializedIdentity(t, u), u.Cert.NotBefore.Add(1))
		require.NoError(t, err, "the re-issued certificate chains to the organisation's CA")
		require.Equal(t, want, id.nodeOU)
	}

	logs.Reset()
	start()
	require.NotContains(t, logs.String(), "re-issued", "only once")
}

func serializedIdentity(t testing.TB, u *User) []byte {
	t.Helper()
	raw, err := proto.Marshal(&msp.SerializedIdentity{Mspid: u.MSPID, IdBytes: u.CertPEM})
	require.NoError(t, err)
	return raw
}
