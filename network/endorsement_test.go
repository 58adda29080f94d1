package network

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestEndorsementPolicyEvaluation: signature policies with AND, OR and OutOf, and implicit-meta
// policies over the organisations' Endorsement policies, admit exactly the endorser sets a
// Fabric peer admits, and the plan is the smallest admitted set, the gateway's peer first.
func TestEndorsementPolicyEvaluation(t *testing.T) {
	peerOf := func(msp string) *identity {
		return &identity{mspID: msp, nodeOU: "peer", serialized: []byte(msp + "/peer")}
	}
	a, b, c, d := peerOf("A"), peerOf("B"), peerOf("C"), peerOf("D")
	adminA := &identity{mspID: "A", nodeOU: "admin", serialized: []byte("A/admin")}
	orgs := map[string]string{"A": "OR('A.peer')", "B": "OR('B.peer')", "C": "OR('C.peer')", "D": "OR('D.peer')"}
	for _, tt := range []struct {
		policy string
		orgs   map[string]string
		admit  [][]*identity
		refuse [][]*identity
		plan   []int // over peers A, B, C, D
	}{
		{policy: "AND('A.peer','B.peer')",
			admit:  [][]*identity{{a, b}, {b, a}, {a, b, c}},
			refuse: [][]*identity{{a}, {b}, {a, c}, {adminA, b}, {}},
			plan:   []int{0, 1}},
		{policy: "OR('B.peer','C.peer')",
			admit:  [][]*identity{{b}, {c}, {a, c}},
			refuse: [][]*identity{{a}, {d}, {}},
			plan:   []int{1}},
		{policy: "OutOf(2, 'A.peer', 'B.peer', 'C.peer')",
			admit:  [][]*identity{{a, b}, {b, c}, {a, c}, {a, b, c}},
			refuse: [][]*identity{{a}, {c}, {a, d}, {adminA, b}},
			plan:   []int{0, 1}},
		{policy: "OutOf(3, 'A.peer', 'B.peer', 'C.peer', 'D.peer')",
			admit:  [][]*identity{{a, b, c}, {b, c, d}, {a, b, c, d}},
			refuse: [][]*identity{{a, b}, {c, d}, {a, a, b}},
			plan:   []int{0, 1, 2}},
		{policy: "AND('A.peer', OutOf(1, 'C.peer', 'D.peer'))",
			admit:  [][]*identity{{a, c}, {a, d}},
			refuse: [][]*identity{{a}, {c, d}, {b, c}},
			plan:   []int{0, 2}},
		// One identity satisfies one principal only, taken greedily in signature order, as
		// Fabric's cauthdsl does: the peer used up by 'A.member' cannot then be 'A.peer'.
		{policy: "OutOf(2, 'A.member', 'A.peer')",
			admit:  [][]*identity{{adminA, a}},
			refuse: [][]*identity{{a}, {adminA}, {a, adminA}},
			plan:   nil},
		{policy: "MAJORITY Endorsement", orgs: orgs, // 3 of 4
			admit:  [][]*identity{{a, b, c}, {b, c, d}, {a, b, c, d}},
			refuse: [][]*identity{{a, b}, {a, d}, {adminA, b, c}},
			plan:   []int{0, 1, 2}},
		{policy: "MAJORITY Endorsement", orgs: map[string]string{"A": "OR('A.peer')", "B": "OR('B.peer')", "P": "OR('P.peer')"}, // 2 of 3
			admit:  [][]*identity{{a, b}},
			refuse: [][]*identity{{a}, {b}, {c, d}},
			plan:   []int{0, 1}},
		{policy: "MAJORITY Endorsement", orgs: map[string]string{"A": "OR('A.peer')", "B": "OR('B.peer')"}, // 2 of 2
			admit:  [][]*identity{{a, b}},
			refuse: [][]*identity{{a}, {b}},
			plan:   []int{0, 1}},
		{policy: "ANY Endorsement", orgs: orgs,
			admit:  [][]*identity{{a}, {d}},
			refuse: [][]*identity{{adminA}, {}},
			plan:   []int{0}},
		{policy: "ALL Endorsement", orgs: map[string]string{"A": "OR('A.peer', 'A.admin')", "B": "OR('B.peer')"},
			admit:  [][]*identity{{adminA, b}, {a, b}},
			refuse: [][]*identity{{a}, {a, c}},
			plan:   []int{0, 1}},
	} {
		t.Run(tt.policy, func(t *testing.T) {
			p, err := compileEndorsementPolicy(tt.policy, tt.orgs)
			require.NoError(t, err)
			for _, ids := range tt.admit {
				require.True(t, p.admits(ids), "should admit %v", names(ids))
			}
			for _, ids := range tt.refuse {
				require.False(t, p.admits(ids), "should refuse %v", names(ids))
			}
			require.Equal(t, tt.plan, p.plan([]*identity{a, b, c, d}))
		})
	}
}

func names(ids []*identity) []string {
	var out []string
	for _, id := range ids {
		out = append(out, string(id.serialized))
	}
	return out
}

func TestEndorsementPolicyErrors(t *testing.T) {
	for _, expr := range []string{"", "MAJORITY", "MOST Endorsement", "MAJORITY Readers", "AND('A.peer'", "'A.peer'"} {
		_, err := compileEndorsementPolicy(expr, map[string]string{"A": "OR('A.peer')"})
		require.ErrorIs(t, err, ErrInvalidPolicy, expr)
	}
	c := DefaultConsortium()
	c.EndorsementPolicy = "AND('PatientsMSP.peer','LabMSP.peer')"
	require.ErrorIs(t, c.Validate(), ErrInvalidConfig)
	require.Equal(t, "AND('PatientsMSP.peer','ClinicMSP.peer')", DefaultConsortium().EndorsementPolicy)
}

// TestMissingPeerIsIssued: a data directory without the peer of a peer organisation (written
// when the node hosted the operator's peer only, or an organisation that became a peer
// organisation) gets one on start, issued by the organisation's CA and logged once, and the
// node endorses with both peers.
func TestMissingPeerIsIssued(t *testing.T) {
	dir := t.TempDir()
	c := DefaultConsortium()
	require.NoError(t, GenerateMaterial(dir, c))
	clinic, _ := c.Org(ClinicMSP)
	require.NoError(t, os.RemoveAll(filepath.Join(OrgDir(dir, clinic), "peers")))

	var logs bytes.Buffer
	start := func() *Node {
		n, err := New(Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: echoChaincode{}}, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		require.NoError(t, err)
		return n
	}
	n := start()
	require.Equal(t, 1, strings.Count(logs.String(), "issued the missing peer identity"), logs.String())
	require.Contains(t, logs.String(), "peer0.clinic.careledger.local")
	require.Len(t, n.peers, 2)
	require.Equal(t, []int{0, 1}, n.endorsers)
	require.Equal(t, ClinicMSP, n.peers[1].user.MSPID)
	id, err := n.msps.deserialize(n.peers[1].creator, n.now())
	require.NoError(t, err, "the issued peer chains to its organisation's CA")
	require.Equal(t, "peer", id.nodeOU)
	require.NoError(t, n.Close())

	logs.Reset()
	n = start()
	require.NotContains(t, logs.String(), "issued the missing peer", "only once")
	require.NoError(t, n.Close())
}

func FuzzEndorsementPolicy(f *testing.F) {
	for _, s := range []string{"MAJORITY Endorsement", "ANY Endorsement", "ALL  Endorsement", "AND('A.peer','B.peer')",
		"OutOf(2, 'A.peer', 'B.peer', 'C.peer')", "MAJORITY Readers", "MAJORITY", ""} {
		f.Add(s)
	}
	orgs := map[string]string{"A": "OR('A.peer')", "B": "OR('B.peer', 'B.admin')", "C": "OR('C.peer')"}
	peers := []*identity{{mspID: "A", nodeOU: "peer"}, {mspID: "B", nodeOU: "peer"}, {mspID: "C", nodeOU: "peer"}}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := compileEndorsementPolicy(expr, orgs)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidPolicy)
			return
		}
		_ = p.admits(nil)
		// A plan, if there is one, is a set of peers the policy admits.
		if plan := p.plan(peers); plan != nil {
			var ids []*identity
			for _, i := range plan {
				ids = append(ids, peers[i])
			}
			require.True(t, p.admits(ids), "%q plans %v", expr, plan)
		}
	})
}
