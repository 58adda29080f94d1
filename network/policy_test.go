package network

import (
	"strings"
	"testing"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

func role(mspID string, r msp.MSPRole_MSPRoleType) *msp.MSPPrincipal {
	raw, err := proto.Marshal(&msp.MSPRole{MspIdentifier: mspID, Role: r})
	if err != nil {
		panic(err)
	}
	return &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: raw}
}

func signedBy(i int32) *common.SignaturePolicy {
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: i}}
}

func nOutOf(n int32, rules ...*common.SignaturePolicy) *common.SignaturePolicy {
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{NOutOf: &common.SignaturePolicy_NOutOf{N: n, Rules: rules}}}
}

func TestParsePolicyCompiles(t *testing.T) {
	tests := []struct {
		expr string
		want *common.SignaturePolicyEnvelope
	}{
		{"OR('A.member')", &common.SignaturePolicyEnvelope{
			Rule: nOutOf(1, signedBy(0)), Identities: []*msp.MSPPrincipal{role("A", msp.MSPRole_MEMBER)}}},
		{"AND('A.peer', 'B.peer')", &common.SignaturePolicyEnvelope{
			Rule:       nOutOf(2, signedBy(0), signedBy(1)),
			Identities: []*msp.MSPPrincipal{role("A", msp.MSPRole_PEER), role("B", msp.MSPRole_PEER)}}},
		{` or ( "Org1.admin" ,AND('Org2.client','Org.3-x.orderer') ) `, &common.SignaturePolicyEnvelope{
			Rule: nOutOf(1, signedBy(0), nOutOf(2, signedBy(1), signedBy(2))),
			Identities: []*msp.MSPPrincipal{role("Org1", msp.MSPRole_ADMIN), role("Org2", msp.MSPRole_CLIENT),
				role("Org.3-x", msp.MSPRole_ORDERER)}}},
		{"OutOf(2, 'A.peer', 'B.peer', 'C.peer')", &common.SignaturePolicyEnvelope{
			Rule: nOutOf(2, signedBy(0), signedBy(1), signedBy(2)),
			Identities: []*msp.MSPPrincipal{role("A", msp.MSPRole_PEER), role("B", msp.MSPRole_PEER),
				role("C", msp.MSPRole_PEER)}}},
		// Repeated principals are kept, as Fabric's compiler keeps them.
		{"OUTOF(1, 'A.peer', 'A.peer')", &common.SignaturePolicyEnvelope{
			Rule:       nOutOf(1, signedBy(0), signedBy(1)),
			Identities: []*msp.MSPPrincipal{role("A", msp.MSPRole_PEER), role("A", msp.MSPRole_PEER)}}},
		{"And(Or('A.member'))", &common.SignaturePolicyEnvelope{
			Rule: nOutOf(1, nOutOf(1, signedBy(0))), Identities: []*msp.MSPPrincipal{role("A", msp.MSPRole_MEMBER)}}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := ParsePolicy(tt.expr)
			require.NoError(t, err)
			require.True(t, proto.Equal(tt.want, p.Envelope()), "got %v", p.Envelope())
			require.Equal(t, tt.expr, p.String())
			// The compiled form reads back into an equal policy.
			again, err := PolicyFromEnvelope(p.Envelope())
			require.NoError(t, err)
			require.True(t, proto.Equal(p.Envelope(), again.Envelope()))
		})
	}
}

func TestParsePolicyRefusesBadInput(t *testing.T) {
	deep := strings.Repeat("OR(", maxPolicyDepth+2) + "'A.peer'" + strings.Repeat(")", maxPolicyDepth+2)
	many := "OR(" + strings.Repeat("'A.peer',", maxPrincipals) + "'A.peer')"
	for _, expr := range []string{
		"",
		"   ",
		"'A.member'",                  // a lone principal is no policy
		"OR()",                        // a gate needs something to gate
		"AND('A.member',)",            // trailing comma
		"OR('A.member'",               // unclosed
		"OR('A.member'))",             // one too many
		"OR('A.member') OR('B.peer')", // two policies
		"OR('A.member)",               // unterminated principal
		"OR('A.Member')",              // roles are lower case
		"OR('A.boss')",                // no such role
		"OR('A')",                     // no role
		"OR('.peer')",                 // no MSP
		"OR('A_B.peer')",              // Fabric's MSP IDs have no underscore
		"OR('A B.peer')",
		"OR(A.peer)",         // principals are quoted
		"NOT('A.peer')",      // no such gate
		"Xor('A.peer')",      // no such gate
		"OutOf('A.peer')",    // no count
		"OutOf(0, 'A.peer')", // always satisfied
		"OutOf(2, 'A.peer')", // never satisfied
		"OutOf(-1, 'A.peer')",
		"OutOf(99999999999999999999, 'A.peer')",
		"OutOf(1 'A.peer')",
		"OR('A.peer', 1)",
		"OR(\x00'A.peer')",
		deep,
		many,
		"OR('" + strings.Repeat("A", maxPolicyLen) + ".peer')",
	} {
		t.Run(expr[:min(len(expr), 40)], func(t *testing.T) {
			_, err := ParsePolicy(expr)
			require.ErrorIs(t, err, ErrInvalidPolicy)
		})
	}
}

func TestPolicyFromEnvelopeRefusesBadEnvelopes(t *testing.T) {
	ids := []*msp.MSPPrincipal{role("A", msp.MSPRole_PEER)}
	for name, env := range map[string]*common.SignaturePolicyEnvelope{
		"no rule":          {Identities: ids},
		"empty rule":       {Rule: &common.SignaturePolicy{}, Identities: ids},
		"index past end":   {Rule: nOutOf(1, signedBy(1)), Identities: ids},
		"negative index":   {Rule: nOutOf(1, signedBy(-1)), Identities: ids},
		"n zero":           {Rule: nOutOf(0, signedBy(0)), Identities: ids},
		"n too large":      {Rule: nOutOf(2, signedBy(0)), Identities: ids},
		"no sub-rules":     {Rule: nOutOf(1), Identities: ids},
		"not a role":       {Rule: nOutOf(1, signedBy(0)), Identities: []*msp.MSPPrincipal{{PrincipalClassification: msp.MSPPrincipal_IDENTITY}}},
		"garbage role":     {Rule: nOutOf(1, signedBy(0)), Identities: []*msp.MSPPrincipal{{Principal: []byte{0xff}}}},
		"role without MSP": {Rule: nOutOf(1, signedBy(0)), Identities: []*msp.MSPPrincipal{role("", msp.MSPRole_PEER)}},
		"unknown role":     {Rule: nOutOf(1, signedBy(0)), Identities: []*msp.MSPPrincipal{role("A", 42)}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := PolicyFromEnvelope(env)
			require.ErrorIs(t, err, ErrInvalidPolicy)
		})
	}
}

func TestPolicyAdmits(t *testing.T) {
	id := func(mspID, ou string) *identity { return &identity{mspID: mspID, nodeOU: ou} }
	aPeer, aAdmin, aClient, bPeer, bClient := id("A", "peer"), id("A", "admin"), id("A", "client"), id("B", "peer"), id("B", "client")
	tests := []struct {
		expr   string
		ids    []*identity
		admits bool
	}{
		{"OR('A.member')", []*identity{aClient}, true},
		{"OR('A.member')", []*identity{aPeer}, true},
		{"OR('A.member')", []*identity{bPeer}, false},
		{"OR('A.peer', 'A.admin')", []*identity{aPeer}, true},
		{"OR('A.peer', 'A.admin')", []*identity{aAdmin}, true},
		{"OR('A.peer', 'A.admin')", []*identity{aClient}, false},
		{"OR('A.client')", []*identity{aAdmin}, false}, // an admin is not a client under NodeOUs
		{"OR('A.orderer')", []*identity{aPeer}, false},
		{"OR('A.peer')", nil, false},
		{"AND('A.peer', 'B.peer')", []*identity{aPeer}, false},
		{"AND('A.peer', 'B.peer')", []*identity{aPeer, bPeer}, true},
		{"AND('A.peer', 'B.peer')", []*identity{bPeer, aPeer}, true},
		// One identity satisfies at most one principal.
		{"AND('A.member', 'A.member')", []*identity{aPeer}, false},
		{"AND('A.member', 'A.member')", []*identity{aPeer, aClient}, true},
		{"OutOf(2, 'A.peer', 'B.peer', 'B.client')", []*identity{bPeer, bClient}, true},
		{"OutOf(2, 'A.peer', 'B.peer', 'B.client')", []*identity{bClient}, false},
		{"OR(AND('A.peer', 'B.peer'), 'B.client')", []*identity{bClient}, true},
		{"OR(AND('A.peer', 'B.peer'), 'B.client')", []*identity{aPeer, bClient}, true},
		{"OR(AND('A.peer', 'B.peer'), 'B.client')", []*identity{aPeer}, false},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			p, err := ParsePolicy(tt.expr)
			require.NoError(t, err)
			require.Equal(t, tt.admits, p.admits(tt.ids...))
		})
	}
}

func FuzzParsePolicy(f *testing.F) {
	for _, s := range []string{
		"OR('A.member')", "AND('A.peer', 'B.peer')", `or("Org1.admin",AND('Org2.client','O.orderer'))`,
		"OutOf(2, 'A.peer', 'B.peer', 'C.peer')", "OR(", "OutOf(0,'A.peer')", "'A.peer'",
	} {
		f.Add(s)
	}
	ids := []*identity{{mspID: "A", nodeOU: "peer"}, {mspID: "B", nodeOU: "client"}, {mspID: "A", nodeOU: "admin"}}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := ParsePolicy(expr)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidPolicy)
			return
		}
		// What parses compiles to an envelope that checks out, and evaluates without panicking.
		again, err := PolicyFromEnvelope(p.Envelope())
		require.NoError(t, err)
		// Written back in the policy language, it parses to the same envelope.
		reparsed, err := ParsePolicy(again.String())
		require.NoError(t, err)
		require.True(t, proto.Equal(p.Envelope(), reparsed.Envelope()), "%q -> %q", expr, again.String())
		_ = p.admits(ids...)
		_ = p.admits()
	})
}
