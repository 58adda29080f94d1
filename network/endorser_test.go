package network_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// peerUser loads the signing identity of organisation mspID's peer from the node's material.
func peerUser(t *testing.T, n *network.Node, mspID string) *network.User {
	t.Helper()
	o, ok := n.Config().Consortium.Org(mspID)
	require.True(t, ok)
	dir := filepath.Join(network.OrgDir(n.Config().Dir, o), "peers", network.PeerName(o), "msp")
	cert, key, certPEM := readKeyPair(t, filepath.Join(dir, "signcerts", network.PeerName(o)+"-cert.pem"), filepath.Join(dir, "keystore", "priv_sk"))
	return &network.User{MSPID: mspID, Name: network.PeerName(o), CertPEM: certPEM, Cert: cert, Key: key}
}

// readKeyPair reads a PEM certificate and its PEM private key.
func readKeyPair(t *testing.T, certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	certPEM, err := os.ReadFile(certPath)
	require.NoError(t, err)
	cert, err := identity.CertificateFromPEM(certPEM)
	require.NoError(t, err)
	keyPEM, err := os.ReadFile(keyPath)
	require.NoError(t, err)
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	require.NoError(t, err)
	ecKey, ok := key.(*ecdsa.PrivateKey)
	require.True(t, ok, "%s holds no ECDSA key", keyPath)
	return cert, ecKey, certPEM
}

// endorsePut endorses put(key, "honest") through gw and decodes the prepared transaction down
// to its chaincode action payload, for a test to change.
func endorsePut(t *testing.T, gw *client.Gateway, key string) (*gateway.PreparedTransaction, *common.Payload, *peer.Transaction, *peer.ChaincodeActionPayload) {
	t.Helper()
	proposal, err := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode).
		NewProposal("put", client.WithArguments(key, "honest"))
	require.NoError(t, err)
	endorsed, err := proposal.Endorse()
	require.NoError(t, err)
	raw, err := endorsed.Bytes()
	require.NoError(t, err)
	prepared := &gateway.PreparedTransaction{}
	require.NoError(t, proto.Unmarshal(raw, prepared))
	payload := &common.Payload{}
	require.NoError(t, proto.Unmarshal(prepared.GetEnvelope().GetPayload(), payload))
	tx := &peer.Transaction{}
	require.NoError(t, proto.Unmarshal(payload.GetData(), tx))
	cap := &peer.ChaincodeActionPayload{}
	require.NoError(t, proto.Unmarshal(tx.GetActions()[0].GetPayload(), cap))
	return prepared, payload, tx, cap
}

// forgeEndorsement endorses put(k, v) through the node as creator, then replaces the written
// value with forged and the node's endorsements with ones signed by endorsers: a write set
// the chaincode never produced.
func forgeEndorsement(t *testing.T, n *network.Node, creator *network.User, endorsers ...*network.User) peer.TxValidationCode {
	t.Helper()
	gw := connect(t, n, creator)
	prepared, payload, tx, cap := endorsePut(t, gw, "forge")
	prp := &peer.ProposalResponsePayload{}
	require.NoError(t, proto.Unmarshal(cap.GetAction().GetProposalResponsePayload(), prp))
	action := &peer.ChaincodeAction{}
	require.NoError(t, proto.Unmarshal(prp.GetExtension(), action))
	results := &rwset.TxReadWriteSet{}
	require.NoError(t, proto.Unmarshal(action.GetResults(), results))
	kv := &kvrwset.KVRWSet{}
	require.NoError(t, proto.Unmarshal(results.GetNsRwset()[0].GetRwset(), kv))
	require.NotEmpty(t, kv.GetWrites())
	kv.Writes[0].Value = []byte("forged")

	results.NsRwset[0].Rwset = marshal(t, kv)
	action.Results = marshal(t, results)
	prp.Extension = marshal(t, action)
	prpBytes := marshal(t, prp)
	cap.Action.ProposalResponsePayload = prpBytes
	cap.Action.Endorsements = nil
	for _, e := range endorsers {
		cap.Action.Endorsements = append(cap.Action.Endorsements, endorsement(t, e, prpBytes))
	}
	return resubmit(t, gw, creator, prepared, payload, tx, cap)
}

// endorsement is u's signature over a proposal response payload, as a peer endorses.
func endorsement(t *testing.T, u *network.User, prp []byte) *peer.Endorsement {
	t.Helper()
	id := marshal(t, &msp.SerializedIdentity{Mspid: u.MSPID, IdBytes: u.CertPEM})
	return &peer.Endorsement{Endorser: id, Signature: sign(t, u, append(append([]byte{}, prp...), id...))}
}

// resubmit re-assembles a prepared transaction from its changed parts, signs it as creator,
// submits it and returns its validation code.
func resubmit(t *testing.T, gw *client.Gateway, creator *network.User, prepared *gateway.PreparedTransaction,
	payload *common.Payload, tx *peer.Transaction, cap *peer.ChaincodeActionPayload) peer.TxValidationCode {
	t.Helper()
	tx.Actions[0].Payload = marshal(t, cap)
	payload.Data = marshal(t, tx)
	prepared.Envelope.Payload = marshal(t, payload)

	signed, err := gw.NewSignedTransaction(marshal(t, prepared), sign(t, creator, prepared.GetEnvelope().GetPayload()))
	require.NoError(t, err)
	commit, err := signed.Submit()
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	return st.Code
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	require.NoError(t, err)
	return b
}

func sign(t *testing.T, u *network.User, msg []byte) []byte {
	t.Helper()
	s, err := identity.NewPrivateKeySign(u.Key)
	require.NoError(t, err)
	digest := sha256.Sum256(msg)
	sig, err := s(digest[:])
	require.NoError(t, err)
	return sig
}

// TestOnlyHostedPeersEndorse: under the default AND('PatientsMSP.peer','ClinicMSP.peer') a
// write set counts only with the signatures of both peers the node hosts. A gateway service
// carries the peer node OU of its organisation but executes no chaincode on the embedded
// node, so its signature never stands in for its organisation's peer; nor does an admin's,
// or a peer certificate issued outside the node.
func TestOnlyHostedPeersEndorse(t *testing.T) {
	n := startNode(t, t.TempDir())
	gateway := loadUser(t, n, network.PatientsMSP, "gateway")
	patientsPeer, clinicPeer := peerUser(t, n, network.PatientsMSP), peerUser(t, n, network.ClinicMSP)
	clinicGateway := loadUser(t, n, network.ClinicMSP, "gateway")
	stranger, err := network.IssueUser(n.Config().Dir, mustOrg(t, n, network.ClinicMSP), network.UserSpec{Name: "rogue", Role: network.RoleGateway})
	require.NoError(t, err) // a peer-OU identity of ClinicMSP that is not the hosted peer
	for _, tt := range []struct {
		name      string
		endorsers []*network.User
		want      peer.TxValidationCode
	}{
		{"both hosted peers", []*network.User{patientsPeer, clinicPeer}, peer.TxValidationCode_VALID},
		{"both hosted peers, in the other order", []*network.User{clinicPeer, patientsPeer}, peer.TxValidationCode_VALID},
		{"the operator's peer alone", []*network.User{patientsPeer}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the clinic's peer alone", []*network.User{clinicPeer}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the operator's peer twice", []*network.User{patientsPeer, patientsPeer}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the clinic's gateway for the clinic's peer", []*network.User{patientsPeer, clinicGateway}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the operator's gateway for the operator's peer", []*network.User{gateway, clinicPeer}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"another peer-OU identity of the clinic", []*network.User{patientsPeer, stranger}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"an admin", []*network.User{patientsPeer, loadUser(t, n, network.ClinicMSP, "Admin")}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"nobody", nil, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, forgeEndorsement(t, n, gateway, tt.endorsers...))
		})
	}
	// The whole chain, forged attempts included, still verifies: they are flagged invalid.
	_, err = n.Verify(t.Context())
	require.NoError(t, err)
}

func mustOrg(t *testing.T, n *network.Node, mspID string) network.Org {
	t.Helper()
	o, ok := n.Config().Consortium.Org(mspID)
	require.True(t, ok)
	return o
}

// tamper endorses put through the node as creator with the gateway's own plan, lets change
// alter the honest endorsements, and submits the result.
func tamper(t *testing.T, n *network.Node, creator *network.User, change func(prp []byte, ends []*peer.Endorsement) []*peer.Endorsement) peer.TxValidationCode {
	t.Helper()
	gw := connect(t, n, creator)
	prepared, payload, tx, cap := endorsePut(t, gw, "tamper")
	require.Len(t, cap.GetAction().GetEndorsements(), 2, "the gateway collects one endorsement per organisation the policy names")
	cap.Action.Endorsements = change(cap.GetAction().GetProposalResponsePayload(), cap.GetAction().GetEndorsements())
	return resubmit(t, gw, creator, prepared, payload, tx, cap)
}

// TestTamperedEndorsementIsRefused: an endorsement counts only if its signature verifies over
// the proposal response and the endorser it names, and that endorser is a hosted peer.
func TestTamperedEndorsementIsRefused(t *testing.T) {
	n := startNode(t, t.TempDir())
	creator := loadUser(t, n, network.PatientsMSP, "gateway")
	patientsPeer := peerUser(t, n, network.PatientsMSP)
	clinicGateway := loadUser(t, n, network.ClinicMSP, "gateway")
	for _, tt := range []struct {
		name   string
		change func(prp []byte, ends []*peer.Endorsement) []*peer.Endorsement
		want   peer.TxValidationCode
	}{
		{"untouched", func(_ []byte, ends []*peer.Endorsement) []*peer.Endorsement { return ends }, peer.TxValidationCode_VALID},
		{"a signature byte changed", func(_ []byte, ends []*peer.Endorsement) []*peer.Endorsement {
			ends[1].Signature[len(ends[1].Signature)-1] ^= 1
			return ends
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"an endorser byte changed", func(_ []byte, ends []*peer.Endorsement) []*peer.Endorsement {
			ends[1].Endorser[len(ends[1].Endorser)-40] ^= 1
			return ends
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the clinic's endorsement signed by the operator's peer", func(prp []byte, ends []*peer.Endorsement) []*peer.Endorsement {
			forged := endorsement(t, patientsPeer, prp)
			ends[1].Signature = forged.GetSignature()
			return ends
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the clinic's endorsement replaced by its gateway's", func(prp []byte, ends []*peer.Endorsement) []*peer.Endorsement {
			return []*peer.Endorsement{ends[0], endorsement(t, clinicGateway, prp)}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the clinic's endorsement dropped", func(_ []byte, ends []*peer.Endorsement) []*peer.Endorsement {
			return ends[:1]
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"the operator's endorsement repeated", func(_ []byte, ends []*peer.Endorsement) []*peer.Endorsement {
			return []*peer.Endorsement{ends[0], ends[0]}
		}, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tamper(t, n, creator, tt.change))
		})
	}
	_, err := n.Verify(t.Context())
	require.NoError(t, err)
}

// submitAs submits put through the node as the gateway of PatientsMSP, with the endorsing
// organisations given (none: the gateway plans them), and returns the validation code.
func submitAs(t *testing.T, n *network.Node, key string, orgs ...string) peer.TxValidationCode {
	t.Helper()
	contract := contractFor(t, n, network.PatientsMSP, "gateway")
	var opts []client.ProposalOption
	opts = append(opts, client.WithArguments(key, "v"))
	if len(orgs) > 0 {
		opts = append(opts, client.WithEndorsingOrganizations(orgs...))
	}
	proposal, err := contract.NewProposal("put", opts...)
	require.NoError(t, err)
	tx, err := proposal.Endorse()
	require.NoError(t, err)
	commit, err := tx.Submit()
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	return st.Code
}

// TestOneOrganisationCannotWriteAlone: with the real fabric-gateway client, a transaction the
// client has endorsed by the operator's organisation only is committed invalid, while the
// gateway's own plan collects both organisations' endorsements.
func TestOneOrganisationCannotWriteAlone(t *testing.T) {
	n := startNode(t, t.TempDir())
	require.Equal(t, "AND('PatientsMSP.peer','ClinicMSP.peer')", n.Config().Consortium.EndorsementPolicy)
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, submitAs(t, n, "alone", network.PatientsMSP))
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, submitAs(t, n, "alone", network.ClinicMSP))
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "both", network.PatientsMSP, network.ClinicMSP))
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "planned"))

	// An organisation without a peer cannot be asked to endorse, as on a Fabric gateway.
	proposal, err := contractFor(t, n, network.PatientsMSP, "gateway").NewProposal("put",
		client.WithArguments("k", "v"), client.WithEndorsingOrganizations(network.PharmaMSP))
	require.NoError(t, err)
	_, err = proposal.Endorse()
	require.Error(t, err)
	require.Equal(t, codes.Unavailable, status.Code(err))
	require.Contains(t, err.Error(), "failed to find any endorsing peers for org(s): PharmaMSP")
}

// TestEndorsementPolicyChangeTakesEffect: the policy comes from configuration; a node
// restarted with another one validates new transactions by it, plans its endorsements by it,
// and Verify still judges earlier blocks by the policy they were committed under.
func TestEndorsementPolicyChangeTakesEffect(t *testing.T) {
	dir := t.TempDir()
	start := func(policy string) *network.Node { return startWithPolicy(t, dir, policy) }
	n := start("OR('PatientsMSP.peer','ClinicMSP.peer')")
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "one", network.PatientsMSP))
	require.NoError(t, n.Close())

	n = start("") // the default, AND of both
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, submitAs(t, n, "one", network.PatientsMSP))
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "planned"))
	require.NoError(t, n.Close())

	n = start("MAJORITY Endorsement") // two of three organisations; PharmaMSP has no peer
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, submitAs(t, n, "one", network.ClinicMSP))
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "planned"))
	require.NoError(t, n.Close())

	rep, err := network.Verify(t.Context(), network.Config{Dir: dir})
	require.NoError(t, err)
	require.Equal(t, uint64(6), rep.Transactions)
	require.Equal(t, uint64(4), rep.ValidTransactions)
}

// TestLedgerVerifyChecksEndorsementPolicy: a block whose transaction is flagged valid but
// lacks an endorsement the policy needs fails verification, even with every signature intact.
func TestLedgerVerifyChecksEndorsementPolicy(t *testing.T) {
	dir := t.TempDir()
	n := startWithPolicy(t, dir, "OR('PatientsMSP.peer','ClinicMSP.peer')")
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "one", network.PatientsMSP))
	require.NoError(t, n.Close())
	_, err := network.Verify(t.Context(), network.Config{Dir: dir})
	require.NoError(t, err)

	// Rewriting the history to claim the stricter policy was in force all along exposes the
	// transaction that was endorsed by one organisation.
	history := filepath.Join(dir, "endorsement-policies.json")
	b, err := os.ReadFile(history)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(history, []byte(strings.Replace(string(b), "OR(", "AND(", 1)), 0o644))
	_, err = network.Verify(t.Context(), network.Config{Dir: dir})
	var broken *network.BrokenBlockError
	require.ErrorAs(t, err, &broken)
	require.Equal(t, uint64(1), broken.Block)
	require.Contains(t, broken.Reason, "ENDORSEMENT_POLICY_FAILURE")
}

// TestLedgerFromBeforeEndorsementPolicies: a ledger written when the node endorsed with the
// operator's peer alone has no policy history; its blocks are judged by that rule, and the
// configured policy applies from the first block the upgraded node commits.
func TestLedgerFromBeforeEndorsementPolicies(t *testing.T) {
	dir := t.TempDir()
	n := startWithPolicy(t, dir, "OR('PatientsMSP.peer')")
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "old"))
	require.NoError(t, n.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, "endorsement-policies.json")))
	_, err := network.Verify(t.Context(), network.Config{Dir: dir})
	require.NoError(t, err)

	n = startNode(t, dir)
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, submitAs(t, n, "new", network.PatientsMSP))
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "new"))
	require.NoError(t, n.Close())
	rep, err := network.Verify(t.Context(), network.Config{Dir: dir})
	require.NoError(t, err)
	require.Equal(t, uint64(3), rep.ValidTransactions) // genesis, old, new
}

// startWithPolicy runs a node in dir with the test chaincode under the endorsement policy
// (empty: the default); the caller closes it.
func startWithPolicy(t *testing.T, dir, policy string) *network.Node {
	t.Helper()
	c := network.DefaultConsortium()
	c.EndorsementPolicy = policy
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}, Consortium: c})
	require.NoError(t, err)
	require.NoError(t, n.Start(t.Context()))
	return n
}

// TestOnePeerCountsOnce: a policy that two endorsements of one organisation could satisfy is
// not satisfied by one peer signing twice, even under a second encoding of its certificate.
func TestOnePeerCountsOnce(t *testing.T) {
	n := startWithPolicy(t, t.TempDir(), "OutOf(2, 'PatientsMSP.peer', 'PatientsMSP.peer', 'ClinicMSP.peer')")
	t.Cleanup(func() { _ = n.Close() })
	creator := loadUser(t, n, network.PatientsMSP, "gateway")
	patientsPeer, clinicPeer := peerUser(t, n, network.PatientsMSP), peerUser(t, n, network.ClinicMSP)
	reencoded := *patientsPeer
	block, _ := pem.Decode(patientsPeer.CertPEM)
	block.Headers = map[string]string{"Comment": "the same certificate"}
	reencoded.CertPEM = pem.EncodeToMemory(block)
	require.NotEqual(t, patientsPeer.CertPEM, reencoded.CertPEM)

	require.Equal(t, peer.TxValidationCode_VALID, forgeEndorsement(t, n, creator, patientsPeer, clinicPeer))
	require.Equal(t, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE, forgeEndorsement(t, n, creator, patientsPeer, &reencoded))
	require.Equal(t, peer.TxValidationCode_VALID, submitAs(t, n, "planned"), "the gateway plans one peer of each organisation")
}

// TestUnsatisfiablePolicy: a policy no hosted peer can satisfy (PharmaMSP runs no peer) is
// refused at Endorse as a Fabric gateway refuses it when discovery finds no layout, while
// evaluating still works.
func TestUnsatisfiablePolicy(t *testing.T) {
	n := startWithPolicy(t, t.TempDir(), "OR('PharmaMSP.peer')")
	t.Cleanup(func() { _ = n.Close() })
	contract := contractFor(t, n, network.PatientsMSP, "gateway")
	_, err := contract.SubmitTransaction("put", "k", "v")
	var endorseErr *client.EndorseError
	require.ErrorAs(t, err, &endorseErr)
	require.Equal(t, codes.FailedPrecondition, status.Code(err))
	require.ErrorContains(t, err, "no combination of peers can be derived which satisfy the endorsement policy")
	_, err = contract.EvaluateTransaction("get", "k")
	require.NoError(t, err)
}
