package topology_test

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/chaincode/model"

	"github.com/careledger/careledger/test-network/internal/topology"
)

func TestDefaultConsortium(t *testing.T) {
	n := topology.Default()
	require.Equal(t, "careledger", n.Channel)
	require.Equal(t, "careledger", n.Chaincode)
	require.Len(t, n.Orderer.Nodes, 3, "Raft needs three consenters to survive one failure")

	peers := map[string]int{}
	for _, o := range n.Orgs {
		peers[o.MSPID] = len(o.Peers)
		require.Equal(t, len(o.Peers) > 0, o.CCServer != nil, "%s: a chaincode server exactly when the org runs peers", o.MSPID)
	}
	require.Equal(t, map[string]int{"PatientsMSP": 1, "ClinicMSP": 2, "PharmaMSP": 0}, peers,
		"manufacturers never hold a ledger copy")
	require.Equal(t, "AND('PatientsMSP.peer','ClinicMSP.peer')", n.EndorsementPolicy)
}

func TestPortsAreUnique(t *testing.T) {
	ports := topology.Default().Ports()
	seen := map[int]bool{}
	for _, p := range ports {
		require.False(t, seen[p], "port %d used twice", p)
		require.True(t, p > 1024 && p < 65536, "port %d", p)
		seen[p] = true
	}
}

func TestUsersCoverEveryRoleAndPatientsArePseudonymous(t *testing.T) {
	roles := map[string]bool{}
	for _, o := range topology.Default().Orgs {
		labels := map[string]bool{}
		for _, u := range o.Users {
			require.False(t, labels[u.Label], "%s: label %s twice", o.MSPID, u.Label)
			labels[u.Label] = true
			roles[u.Role] = true
			require.Equal(t, u.Role == "patient", u.Pseudonymous, "%s %s", o.MSPID, u.Label)
			require.Equal(t, u.Role == "admin", u.Type == "admin", "admins and only admins get the admin OU")
			// Channel policies name node OUs: the gateway of an organisation that runs peers
			// follows events as one of its peers; a gateway of an organisation without peers
			// (which must never stream the ledger) and everyone else is a client.
			require.Equal(t, u.Role == "gateway" && len(o.Peers) > 0, u.Type == "peer", "%s %s", o.MSPID, u.Label)
		}
		require.True(t, labels["admin"], "%s needs an admin", o.MSPID)
		// The API acts for an organisation's members only through its own gateway: without
		// one, careledger up --fabric answers them 503 NO_ORG_GATEWAY.
		require.True(t, labels["gateway"], "%s needs a gateway", o.MSPID)
	}
	for _, r := range []string{"patient", "clinician", "manufacturer", "anonymizer", "admin", "gateway"} {
		require.True(t, roles[r], "no identity with role %s", r)
	}
}

func TestStreamPolicies(t *testing.T) {
	n := topology.Default()
	require.Equal(t, "OR('PatientsMSP.peer', 'PatientsMSP.admin', 'ClinicMSP.peer', 'ClinicMSP.admin')", n.StreamReaders())
	require.Equal(t, "OR('OrdererMSP.member', 'PatientsMSP.peer', 'PatientsMSP.admin', 'ClinicMSP.peer', 'ClinicMSP.admin')", n.ChannelReaders())
}

func TestRolePolicy(t *testing.T) {
	got := map[string][]string{}
	for _, r := range topology.Default().RolePolicy() {
		got[r.Role] = r.MSPs
	}
	require.Equal(t, map[string][]string{
		"patient":      {"PatientsMSP"},
		"clinician":    {"ClinicMSP"},
		"manufacturer": {"PharmaMSP"},
		"anonymizer":   {"PatientsMSP"},
		"admin":        {"ClinicMSP", "PatientsMSP", "PharmaMSP"},
		"gateway":      {"ClinicMSP", "PatientsMSP", "PharmaMSP"},
	}, got)
}

// TestRolePolicyIsValidForTheChaincode checks the policy against the chaincode's own
// vocabulary: the order of roles it stores, valid MSP IDs, and that the operator, who
// sets it, may issue admin (the chaincode refuses a policy that locks its author out).
func TestRolePolicyIsValidForTheChaincode(t *testing.T) {
	n := topology.Default()
	rules := n.RolePolicy()
	var order []model.Role
	for _, r := range rules {
		require.True(t, model.Role(r.Role).Valid(), r.Role)
		order = append(order, model.Role(r.Role))
		require.True(t, slices.IsSorted(r.MSPs), "the chaincode stores MSP lists sorted")
		for _, m := range r.MSPs {
			require.True(t, model.ValidMSPID(m), m)
		}
		if r.Role == "admin" {
			require.Contains(t, r.MSPs, n.PeerOrgs()[0].MSPID)
		}
	}
	require.Equal(t, model.Roles, order, "every role, in the chaincode's order")
}

func TestAddressesByMode(t *testing.T) {
	require.Equal(t, "127.0.0.1:7051", topology.Addr(topology.Native, "peer0.patients.careledger.test", 7051))
	require.Equal(t, "peer0.patients.careledger.test:7051", topology.Addr(topology.Docker, "peer0.patients.careledger.test", 7051))
	require.Equal(t, "127.0.0.1:7051", topology.ListenAddr(topology.Native, 7051))
	require.Equal(t, "0.0.0.0:7051", topology.ListenAddr(topology.Docker, 7051))

	for _, s := range []string{"native", "docker"} {
		m, err := topology.ParseMode(s)
		require.NoError(t, err)
		require.Equal(t, s, string(m))
	}
	_, err := topology.ParseMode("kubernetes")
	require.Error(t, err)
}

func TestLayoutFollowsFabricSamples(t *testing.T) {
	n := topology.Default()
	org, _ := n.Org("PatientsMSP")
	require.Equal(t, "organizations/peerOrganizations/patients.careledger.test/peers/peer0.patients.careledger.test",
		topology.PeerDir(org, org.Peers[0]))
	admin := org.Users[slices.IndexFunc(org.Users, func(u topology.User) bool { return u.Role == "admin" })]
	require.Equal(t, "organizations/peerOrganizations/patients.careledger.test/users/Admin@patients.careledger.test/msp",
		topology.UserMSPDir(org, admin))
	require.Equal(t, "/etc/hyperledger/careledger/configtx", topology.Layout{Root: topology.ContainerRoot}.P(topology.ConfigtxDir))
	require.Equal(t, "configtx", topology.Layout{}.P(topology.ConfigtxDir))
}
