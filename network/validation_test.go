package network_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// foreignUser is an identity from a CA that is not part of any MSP, claiming mspID.
func foreignUser(t *testing.T, mspID string) *network.User {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "rogue-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "mallory", OrganizationalUnit: []string{"client"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return &network.User{MSPID: mspID, Name: "mallory", Cert: cert, Key: key}
}

// highS signs correctly but with S in the upper half of the order: valid ECDSA that Fabric
// nevertheless rejects, because it is the malleated twin of a low-S signature.
func highS(key *ecdsa.PrivateKey) identity.Sign {
	return func(digest []byte) ([]byte, error) {
		r, s, err := ecdsa.Sign(rand.Reader, key, digest)
		if err != nil {
			return nil, err
		}
		n := key.Curve.Params().N
		if s.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
			s = new(big.Int).Sub(n, s)
		}
		return asn1.Marshal(struct{ R, S *big.Int }{r, s})
	}
}

func wrongKeySign(t *testing.T) identity.Sign {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	sign, err := identity.NewPrivateKeySign(key)
	require.NoError(t, err)
	return sign
}

func requireEndorseError(t *testing.T, err error, wantDetail string) {
	t.Helper()
	var endorseErr *client.EndorseError
	require.ErrorAs(t, err, &endorseErr)
	require.Equal(t, codes.Aborted, status.Code(err))
	details := endorseErr.Details()
	require.Len(t, details, 1)
	require.Equal(t, network.PatientsMSP, details[0].GetMspId())
	require.Regexp(t, `^[a-z0-9.-]+:[0-9]+$`, details[0].GetAddress(), "the peer's name and port")
	require.Contains(t, details[0].GetMessage(), wantDetail)
}

func TestProposalValidationFailures(t *testing.T) {
	n := startNode(t, t.TempDir())
	clinician := loadUser(t, n, network.ClinicMSP, "clinician1")
	wrongMSP := *clinician
	wrongMSP.MSPID = network.PatientsMSP

	tests := []struct {
		name   string
		user   *network.User
		sign   identity.Sign
		detail string
	}{
		{"creator from unknown CA", foreignUser(t, network.PatientsMSP), nil, "does not chain to a CA of PatientsMSP"},
		{"creator claims another MSP", &wrongMSP, nil, "does not chain to a CA of PatientsMSP"},
		{"creator names unknown MSP", foreignUser(t, "NopeMSP"), nil, `MSP "NopeMSP" is not a member`},
		{"signature by another key", clinician, wrongKeySign(t), "ECDSA verification failed"},
		{"high-S signature", clinician, highS(clinician.Key), "invalid S"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []client.ConnectOption
			if tt.sign != nil {
				opts = append(opts, client.WithSign(tt.sign))
			}
			c := connect(t, n, tt.user, opts...).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)

			_, err := c.SubmitTransaction("put", "k", "v")
			requireEndorseError(t, err, tt.detail)

			_, err = c.EvaluateTransaction("get", "k")
			require.Equal(t, codes.FailedPrecondition, status.Code(err))
			require.ErrorContains(t, err, tt.detail)
		})
	}
	height := n.Height()
	require.EqualValues(t, 1, height, "nothing may be committed by rejected proposals")
}

func TestStaleTimestampRejected(t *testing.T) {
	// The node's clock runs an hour ahead, so every client timestamp looks stale.
	n := startNode(t, t.TempDir(), network.WithClock(func() time.Time { return time.Now().Add(time.Hour) }))
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	_, err := c.SubmitTransaction("put", "k", "v")
	requireEndorseError(t, err, "outside the accepted window")
}

func TestTxIDMustMatchNonceAndCreator(t *testing.T) {
	n := startNode(t, t.TempDir())
	user := loadUser(t, n, network.ClinicMSP, "clinician1")
	gw := connect(t, n, user)
	c := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)

	prop, err := c.NewProposal("put", client.WithArguments("k", "v"))
	require.NoError(t, err)
	raw, err := prop.Bytes()
	require.NoError(t, err)
	tampered, propBytes := retargetTxID(t, raw, "0000000000000000000000000000000000000000000000000000000000000000")
	digest := sha256.Sum256(propBytes)
	sig, err := ecdsa.SignASN1(rand.Reader, user.Key, digest[:])
	require.NoError(t, err)
	sig = lowS(t, sig)
	signed, err := gw.NewSignedProposal(tampered, sig)
	require.NoError(t, err)
	_, err = signed.Endorse()
	requireEndorseError(t, err, "invalid txid")
}

// retargetTxID rewrites the transaction ID inside a serialized client proposal, returning the
// new serialized client proposal and the proposal bytes to sign.
func retargetTxID(t *testing.T, raw []byte, txID string) ([]byte, []byte) {
	pt := &gateway.ProposedTransaction{}
	require.NoError(t, proto.Unmarshal(raw, pt))
	prop := &peer.Proposal{}
	require.NoError(t, proto.Unmarshal(pt.GetProposal().GetProposalBytes(), prop))
	hdr := &common.Header{}
	require.NoError(t, proto.Unmarshal(prop.GetHeader(), hdr))
	chdr := &common.ChannelHeader{}
	require.NoError(t, proto.Unmarshal(hdr.GetChannelHeader(), chdr))
	chdr.TxId = txID
	var err error
	hdr.ChannelHeader, err = proto.Marshal(chdr)
	require.NoError(t, err)
	prop.Header, err = proto.Marshal(hdr)
	require.NoError(t, err)
	propBytes, err := proto.Marshal(prop)
	require.NoError(t, err)
	pt.Proposal.ProposalBytes = propBytes
	pt.TransactionId = txID
	out, err := proto.Marshal(pt)
	require.NoError(t, err)
	return out, propBytes
}

func lowS(t *testing.T, der []byte) []byte {
	var s struct{ R, S *big.Int }
	_, err := asn1.Unmarshal(der, &s)
	require.NoError(t, err)
	n := elliptic.P256().Params().N
	if s.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		s.S.Sub(n, s.S)
	}
	out, err := asn1.Marshal(s)
	require.NoError(t, err)
	return out
}

func TestDuplicateTxIDRejected(t *testing.T) {
	n := startNode(t, t.TempDir())
	gw := connect(t, n, loadUser(t, n, network.ClinicMSP, "clinician1"))
	c := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)

	prop, err := c.NewProposal("put", client.WithArguments("k", "v"))
	require.NoError(t, err)
	tx, err := prop.Endorse()
	require.NoError(t, err)
	commit, err := tx.Submit()
	require.NoError(t, err)
	st, err := commit.Status()
	require.NoError(t, err)
	require.True(t, st.Successful)

	// Replaying the same signed proposal is refused by the endorser.
	_, err = prop.Endorse()
	requireEndorseError(t, err, "duplicate transaction found ["+prop.TransactionID()+"]")

	// Resubmitting the same signed transaction reaches the ledger flagged as a duplicate; the
	// transaction ID keeps reporting its first, valid, commit.
	before := n.Height()
	commit2, err := tx.Submit()
	require.NoError(t, err)
	st2, err := commit2.Status()
	require.NoError(t, err)
	require.Equal(t, peer.TxValidationCode_VALID, st2.Code)
	require.Eventually(t, func() bool { return n.Height() == before+1 }, 10*time.Second, 5*time.Millisecond)
	flags := blockFlags(t, n, before)
	require.Equal(t, []peer.TxValidationCode{peer.TxValidationCode_DUPLICATE_TXID}, flags)
}

func TestBadEnvelopeSignatureRejectedBySubmit(t *testing.T) {
	n := startNode(t, t.TempDir())
	gw := connect(t, n, loadUser(t, n, network.ClinicMSP, "clinician1"))
	c := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
	for _, tt := range []struct {
		name string
		sign identity.Sign
		want string
	}{
		{"another key", wrongKeySign(t), "ECDSA verification failed"},
		{"high-S", highS(loadUser(t, n, network.ClinicMSP, "clinician1").Key), "invalid S"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tx, err := c.NewProposal("put", client.WithArguments("k", "v"))
			require.NoError(t, err)
			endorsed, err := tx.Endorse()
			require.NoError(t, err)
			raw, err := endorsed.Bytes()
			require.NoError(t, err)
			sig, err := tt.sign(endorsed.Digest())
			require.NoError(t, err)
			bad, err := gw.NewSignedTransaction(raw, sig)
			require.NoError(t, err)
			_, err = bad.Submit()
			var submitErr *client.SubmitError
			require.ErrorAs(t, err, &submitErr)
			require.Equal(t, codes.Aborted, status.Code(err))
			require.ErrorContains(t, err, "status=FORBIDDEN")
			require.ErrorContains(t, err, tt.want)
		})
	}
	require.EqualValues(t, 1, n.Height())
}

func TestMVCCAndPhantomConflicts(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := contractFor(t, n, network.ClinicMSP, "clinician1")

	t.Run("read conflict", func(t *testing.T) {
		first, err := c.NewProposal("incr", client.WithArguments("counter"))
		require.NoError(t, err)
		second, err := c.NewProposal("incr", client.WithArguments("counter"))
		require.NoError(t, err)
		tx1, err := first.Endorse()
		require.NoError(t, err)
		tx2, err := second.Endorse()
		require.NoError(t, err)
		c1, err := tx1.Submit()
		require.NoError(t, err)
		s1, err := c1.Status()
		require.NoError(t, err)
		require.Equal(t, peer.TxValidationCode_VALID, s1.Code)

		_, err = c.SubmitTransaction("put", "unrelated", "x") // a later block, not the same one
		require.NoError(t, err)
		c2, err := tx2.Submit()
		require.NoError(t, err)
		s2, err := c2.Status()
		require.NoError(t, err)
		require.Equal(t, peer.TxValidationCode_MVCC_READ_CONFLICT, s2.Code)

		// The SDK's one-call Submit reports the conflict as a CommitError.
		tx3, err := c.NewProposal("incr", client.WithArguments("counter"))
		require.NoError(t, err)
		e3, err := tx3.Endorse()
		require.NoError(t, err)
		_, err = c.SubmitTransaction("incr", "counter")
		require.NoError(t, err)
		c3, err := e3.Submit()
		require.NoError(t, err)
		s3, err := c3.Status()
		require.NoError(t, err)
		require.False(t, s3.Successful)

		v, err := c.EvaluateTransaction("get", "counter")
		require.NoError(t, err)
		require.Equal(t, "2", string(v), "conflicting increments must not apply")
	})
	t.Run("phantom read", func(t *testing.T) {
		_, err := c.SubmitTransaction("put", "p/1", "a")
		require.NoError(t, err)
		prop, err := c.NewProposal("count", client.WithArguments("p/", "p/~"))
		require.NoError(t, err)
		tx, err := prop.Endorse()
		require.NoError(t, err)
		require.Equal(t, "1", string(tx.Result()))
		_, err = c.SubmitTransaction("put", "p/2", "b")
		require.NoError(t, err)
		commit, err := tx.Submit()
		require.NoError(t, err)
		st, err := commit.Status()
		require.NoError(t, err)
		require.Equal(t, peer.TxValidationCode_PHANTOM_READ_CONFLICT, st.Code)
	})
}

func TestChaincodeErrors(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	for _, tt := range []struct {
		fn, want string
		evalCode codes.Code
	}{
		{"fail", "chaincode response 500, deliberate failure: x", codes.Unknown},
		{"panic", "chaincode panicked: deliberate panic", codes.Aborted},
		{"pagethenwrite", "Writes are not allowed", codes.Unknown},
	} {
		t.Run(tt.fn, func(t *testing.T) {
			_, err := c.SubmitTransaction(tt.fn, "x")
			requireEndorseError(t, err, tt.want)
			_, err = c.EvaluateTransaction(tt.fn, "x")
			require.Equal(t, tt.evalCode, status.Code(err))
			var gwErr interface{ GRPCStatus() *status.Status }
			require.ErrorAs(t, err, &gwErr)
			require.Contains(t, gwErr.GRPCStatus().Details()[0].(interface{ GetMessage() string }).GetMessage(), tt.want)
		})
	}
	// The error detail names the endpoint the node listens on, as a peer names its own.
	_, err := c.SubmitTransaction("fail", "x")
	var endorseErr *client.EndorseError
	require.ErrorAs(t, err, &endorseErr)
	require.Equal(t, n.Addr(), endorseErr.Details()[0].GetAddress())
}

// TestUnknownChannelAndChaincode: the gateway of a Fabric peer reports an unknown channel or
// chaincode before any endorser sees the proposal, with these codes and texts.
func TestUnknownChannelAndChaincode(t *testing.T) {
	n := startNode(t, t.TempDir())
	gw := connect(t, n, loadUser(t, n, network.ClinicMSP, "clinician1"))
	for _, tt := range []struct {
		name, channel, chaincode string
		evalCode, endorseCode    codes.Code
		evalMsg, endorseMsg      string
	}{
		{"channel", "other", network.DefaultChaincode, codes.Unavailable, codes.FailedPrecondition,
			"failed to get config for channel [other]",
			"no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode careledger in channel other"},
		{"chaincode", network.DefaultChannel, "nope", codes.FailedPrecondition, codes.FailedPrecondition,
			"no peers available to evaluate chaincode nope in channel careledger",
			"no combination of peers can be derived which satisfy the endorsement policy: No metadata was found for chaincode nope in channel careledger"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			contract := gw.GetNetwork(tt.channel).GetContract(tt.chaincode)
			_, err := contract.EvaluateTransaction("get", "k")
			require.Equal(t, tt.evalCode, status.Code(err))
			require.ErrorContains(t, err, tt.evalMsg)
			_, err = contract.SubmitTransaction("put", "k", "v")
			var endorseErr *client.EndorseError
			require.ErrorAs(t, err, &endorseErr)
			require.Equal(t, tt.endorseCode, status.Code(err))
			require.ErrorContains(t, err, tt.endorseMsg)
		})
	}
}

func TestCommitStatusRequiresValidSignature(t *testing.T) {
	n := startNode(t, t.TempDir())
	user := loadUser(t, n, network.ClinicMSP, "clinician1")
	gw := connect(t, n, user)
	c := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
	prop, err := c.NewProposal("put", client.WithArguments("k", "v"))
	require.NoError(t, err)
	tx, err := prop.Endorse()
	require.NoError(t, err)
	commit, err := tx.Submit()
	require.NoError(t, err)
	raw, err := commit.Bytes()
	require.NoError(t, err)
	sig, err := wrongKeySign(t)(commit.Digest())
	require.NoError(t, err)
	forged, err := gw.NewSignedCommit(raw, sig)
	require.NoError(t, err)
	_, err = forged.Status()
	var statusErr *client.CommitStatusError
	require.ErrorAs(t, err, &statusErr)
	require.Equal(t, codes.PermissionDenied, status.Code(err))
}
