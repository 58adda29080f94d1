package network_test

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
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

// forgeEndorsement endorses put(k, v) through the node as creator, then replaces the written
// value with forged and the node's endorsement with one signed by endorser: a write set the
// chaincode never produced.
func forgeEndorsement(t *testing.T, n *network.Node, creator, endorser *network.User) peer.TxValidationCode {
	t.Helper()
	gw := connect(t, n, creator)
	proposal, err := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode).
		NewProposal("put", client.WithArguments("forge", "honest"))
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
	endorserID := marshal(t, &msp.SerializedIdentity{Mspid: endorser.MSPID, IdBytes: endorser.CertPEM})
	cap.Action.ProposalResponsePayload = prpBytes
	cap.Action.Endorsements = []*peer.Endorsement{{Endorser: endorserID, Signature: sign(t, endorser, append(append([]byte{}, prpBytes...), endorserID...))}}
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

// TestOnlyHostedPeersEndorse: a gateway service carries the peer node OU of its organisation,
// but executes no chaincode on the embedded node, so a write set it endorses itself is
// refused; so is one endorsed by another organisation's peer, which this node does not host.
func TestOnlyHostedPeersEndorse(t *testing.T) {
	n := startNode(t, t.TempDir())
	gateway := loadUser(t, n, network.PatientsMSP, "gateway")
	for _, tt := range []struct {
		name     string
		endorser *network.User
		want     peer.TxValidationCode
	}{
		{"the hosted peer", peerUser(t, n, network.PatientsMSP), peer.TxValidationCode_VALID},
		{"the operator's gateway", gateway, peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"another organisation's gateway", loadUser(t, n, network.ClinicMSP, "gateway"), peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"a peer the node does not host", peerUser(t, n, network.ClinicMSP), peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
		{"an admin", loadUser(t, n, network.PatientsMSP, "Admin"), peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE},
	} {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, forgeEndorsement(t, n, gateway, tt.endorser))
		})
	}
	// The whole chain, forged attempts included, still verifies: they are flagged invalid.
	_, err := n.Verify(t.Context())
	require.NoError(t, err)
}
