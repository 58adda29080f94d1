package network

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type echoChaincode struct{}

func (echoChaincode) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }
func (echoChaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	args := stub.GetArgs()
	if len(args) > 1 {
		if err := stub.PutState(string(args[1]), []byte("v")); err != nil {
			return shim.Error(err.Error())
		}
	}
	return shim.Success(nil)
}

// fuzzNode is a node that is never started: the fuzz targets call its parsers directly.
func fuzzNode(t testing.TB) (*Node, *User) {
	n, err := New(Config{Dir: t.TempDir(), Chaincode: echoChaincode{}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	org, _ := n.cfg.Consortium.Org(ClinicMSP)
	u, err := IssueUser(n.cfg.Dir, org, UserSpec{Name: "clinician1", Role: RoleClinician})
	require.NoError(t, err)
	return n, u
}

// signedProposal builds what the fabric-gateway client sends.
func signedProposal(t testing.TB, u *User, channel, chaincode string, args ...string) *peer.SignedProposal {
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: u.MSPID, IdBytes: u.CertPEM})
	require.NoError(t, err)
	nonce := make([]byte, 24)
	_, _ = rand.Read(nonce)
	ext, _ := proto.Marshal(&peer.ChaincodeHeaderExtension{ChaincodeId: &peer.ChaincodeID{Name: chaincode}})
	chdr, _ := proto.Marshal(&common.ChannelHeader{Type: int32(common.HeaderType_ENDORSER_TRANSACTION), ChannelId: channel,
		TxId: computeTxID(nonce, creator), Timestamp: timestamppb.Now(), Extension: ext})
	shdr, _ := proto.Marshal(&common.SignatureHeader{Creator: creator, Nonce: nonce})
	hdr, _ := proto.Marshal(&common.Header{ChannelHeader: chdr, SignatureHeader: shdr})
	input := &peer.ChaincodeInput{}
	for _, a := range args {
		input.Args = append(input.Args, []byte(a))
	}
	spec, _ := proto.Marshal(&peer.ChaincodeInvocationSpec{ChaincodeSpec: &peer.ChaincodeSpec{ChaincodeId: &peer.ChaincodeID{Name: chaincode}, Input: input}})
	payload, _ := proto.Marshal(&peer.ChaincodeProposalPayload{Input: spec})
	prop, err := proto.Marshal(&peer.Proposal{Header: hdr, Payload: payload})
	require.NoError(t, err)
	sig, err := signLowS(u.Key, prop)
	require.NoError(t, err)
	return &peer.SignedProposal{ProposalBytes: prop, Signature: sig}
}

func FuzzCheckProposal(f *testing.F) {
	n, u := fuzzNode(f)
	valid := signedProposal(f, u, DefaultChannel, DefaultChaincode, "put", "k")
	raw, err := proto.Marshal(valid)
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte{})
	f.Add([]byte{0x0a, 0x02, 0x08, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		sp := &peer.SignedProposal{}
		if proto.Unmarshal(data, sp) != nil {
			return
		}
		p, err := n.checkProposal(sp)
		if err == nil {
			require.NotNil(t, p.creator)
			require.Equal(t, computeTxID(p.shdr.GetNonce(), p.shdr.GetCreator()), p.chdr.GetTxId())
		}
	})
}

func FuzzValidateEnvelope(f *testing.F) {
	n, u := fuzzNode(f)
	p, err := n.checkProposal(signedProposal(f, u, DefaultChannel, DefaultChaincode, "put", "k"))
	require.NoError(f, err)
	env, _, err := n.endorse(context.Background(), p, n.endorsers)
	require.NoError(f, err)
	env.Signature, err = signLowS(u.Key, env.GetPayload())
	require.NoError(f, err)
	_, code := n.validator.validateEnvelope(env, time.Now())
	require.Equal(f, peer.TxValidationCode_VALID, code)
	raw, err := proto.Marshal(env)
	require.NoError(f, err)
	f.Add(raw)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		env := &common.Envelope{}
		if proto.Unmarshal(data, env) != nil {
			return
		}
		parsed, code := n.validator.validateEnvelope(env, time.Now())
		require.Equal(t, code == peer.TxValidationCode_VALID, parsed != nil)
		st, _ := n.admit(env)
		if code == peer.TxValidationCode_VALID {
			require.Equal(t, common.Status_SUCCESS, st)
		}
		_ = envelopeTxID(env)
		_ = envelopeEvent(data)
		_ = filterBlock(DefaultChannel, &common.Block{Header: &common.BlockHeader{}, Data: &common.BlockData{Data: [][]byte{data}}, Metadata: newBlockMetadata()})
	})
}

func FuzzCompositeKey(f *testing.F) {
	f.Add("record", "patient-1", "r2")
	f.Add("", "", "")
	f.Add("a\x00b", "\U0010ffff", "é")
	f.Fuzz(func(t *testing.T, objectType, a1, a2 string) {
		key, err := createCompositeKey(objectType, []string{a1, a2})
		if err != nil {
			return
		}
		gotType, gotAttrs, err := splitCompositeKey(key)
		require.NoError(t, err)
		require.Equal(t, objectType, gotType)
		require.Equal(t, []string{a1, a2}, gotAttrs)
		_, _, _ = splitCompositeKey(objectType + a1)
	})
}

func FuzzVerifyECDSA(f *testing.F) {
	_, u := fuzzNode(f)
	sig, err := signLowS(u.Key, []byte("msg"))
	require.NoError(f, err)
	f.Add([]byte("msg"), sig)
	f.Add([]byte("msg"), []byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, msg, sig []byte) {
		_ = verifyECDSA(&u.Key.PublicKey, msg, sig)
	})
}

// FuzzBlockLogRecovery feeds arbitrary bytes as a block log to the reader and to the replay
// that rebuilds an index from it. Neither may panic, every record returned passes its
// checksum, and a replay either applies whole blocks that continue the chain or fails.
func FuzzBlockLogRecovery(f *testing.F) {
	var seed []byte
	for _, raw := range [][]byte{[]byte("block zero"), []byte("block one")} {
		seed = binary.LittleEndian.AppendUint32(seed, uint32(len(raw)))
		seed = binary.LittleEndian.AppendUint32(seed, crc32.Checksum(raw, crcTable))
		seed = append(seed, raw...)
	}
	f.Add(seed)
	f.Add(seed[:13])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, blockFile)
		require.NoError(t, os.WriteFile(path, data, 0o600))
		l, err := openBlockLog(path, true)
		require.NoError(t, err)
		defer l.close()
		var off int64
		for {
			pos, raw, err := l.next(off)
			if err != nil {
				break
			}
			require.Equal(t, crc32.Checksum(raw, crcTable), binary.LittleEndian.Uint32(data[pos.off-4:]))
			require.Greater(t, pos.end(), off)
			off = pos.end()
		}
		s, err := openStore(dir, false, slog.New(slog.DiscardHandler))
		if err != nil {
			return
		}
		require.NoError(t, s.close())
	})
}

// FuzzCheckCSR feeds arbitrary bytes to the CA's signing-request check: it never panics, and
// whatever it accepts is signed by the P-256 key it certifies and asks for nothing but the
// enrollment ID.
func FuzzCheckCSR(f *testing.F) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(f, err)
	for _, tmpl := range []*x509.CertificateRequest{{}, {Subject: pkix.Name{CommonName: "dr-a"}}, {DNSNames: []string{"x"}}} {
		der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
		require.NoError(f, err)
		f.Add(der)
	}
	spec := UserSpec{Name: "dr-a", Role: RoleClinician}
	f.Fuzz(func(t *testing.T, der []byte) {
		pub, err := checkCSR(der, spec, "dr-a")
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidCSR)
			return
		}
		csr, err := x509.ParseCertificateRequest(der)
		require.NoError(t, err)
		require.NoError(t, csr.CheckSignature())
		require.Equal(t, elliptic.P256(), pub.Curve)
		require.Empty(t, csr.Extensions)
		require.Contains(t, []string{"", "dr-a"}, csr.Subject.CommonName)
	})
}
