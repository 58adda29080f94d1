package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"fmt"
	"math/big"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/orderer"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

type asn1Header struct {
	Number       *big.Int
	PreviousHash []byte
	DataHash     []byte
}

// blockHeaderBytes is Fabric's canonical encoding of a block header: the ASN.1 DER of
// (number, previous hash, data hash). Its SHA-256 is the block hash the next block links to.
func blockHeaderBytes(h *common.BlockHeader) []byte {
	b, err := asn1.Marshal(asn1Header{
		Number:       new(big.Int).SetUint64(h.GetNumber()),
		PreviousHash: h.GetPreviousHash(),
		DataHash:     h.GetDataHash(),
	})
	if err != nil {
		panic(fmt.Sprintf("marshal block header: %v", err)) // cannot fail for these types
	}
	return b
}

func blockHeaderHash(h *common.BlockHeader) []byte {
	d := sha256.Sum256(blockHeaderBytes(h))
	return d[:]
}

// blockDataHash is SHA-256 over the concatenated transaction envelopes.
func blockDataHash(d *common.BlockData) []byte {
	h := sha256.New()
	for _, e := range d.GetData() {
		h.Write(e)
	}
	return h.Sum(nil)
}

// commitHash chains the validation result of every block, so that flipping a transaction's
// validation flag, which no block signature covers, is detected by Verify. It is CareLedger's
// own definition, not byte-compatible with a Fabric peer's commit hash.
func commitHash(prev, headerHash, flags []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(headerHash)
	h.Write(flags)
	return h.Sum(nil)
}

// signBlock fills the SIGNATURES metadata slot the way a Fabric orderer does: it signs
// metadata value || signature header || header bytes.
func (n *Node) signBlock(b *common.Block) error {
	value, err := proto.Marshal(&common.OrdererBlockMetadata{LastConfig: &common.LastConfig{Index: 0}})
	if err != nil {
		return fmt.Errorf("sign block: %w", err)
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("sign block: %w", err)
	}
	sh, err := proto.Marshal(&common.SignatureHeader{Creator: n.peerCreator, Nonce: nonce})
	if err != nil {
		return fmt.Errorf("sign block: %w", err)
	}
	msg := append(append(append([]byte{}, value...), sh...), blockHeaderBytes(b.Header)...)
	sig, err := signLowS(n.peer.user.Key, msg)
	if err != nil {
		return fmt.Errorf("sign block: %w", err)
	}
	md, err := proto.Marshal(&common.Metadata{Value: value, Signatures: []*common.MetadataSignature{{SignatureHeader: sh, Signature: sig}}})
	if err != nil {
		return fmt.Errorf("sign block: %w", err)
	}
	b.Metadata.Metadata[common.BlockMetadataIndex_SIGNATURES] = md
	return nil
}

func newBlockMetadata() *common.BlockMetadata {
	return &common.BlockMetadata{Metadata: make([][]byte, len(common.BlockMetadataIndex_name))}
}

// genesisBlock is block 0: a CONFIG transaction recording the channel's MSPs and their root
// certificates, so the ledger itself says which authorities its identities chain to.
func (n *Node) genesisBlock() (*common.Block, error) {
	orgs := map[string]*common.ConfigGroup{}
	for _, o := range n.cfg.Consortium.Orgs {
		roots, err := readPEMDir(OrgDir(n.cfg.Dir, o) + "/msp/cacerts")
		if err != nil {
			return nil, fmt.Errorf("genesis block: %w", err)
		}
		fmsp, err := proto.Marshal(&msp.FabricMSPConfig{Name: o.MSPID, RootCerts: roots})
		if err != nil {
			return nil, fmt.Errorf("genesis block: %w", err)
		}
		mspValue, err := proto.Marshal(&msp.MSPConfig{Type: 0, Config: fmsp})
		if err != nil {
			return nil, fmt.Errorf("genesis block: %w", err)
		}
		orgs[o.MSPID] = &common.ConfigGroup{Values: map[string]*common.ConfigValue{"MSP": {Value: mspValue}}}
	}
	batch, err := proto.Marshal(&orderer.BatchSize{MaxMessageCount: uint32(n.cfg.BatchSize)})
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	cfgEnv, err := proto.Marshal(&common.ConfigEnvelope{Config: &common.Config{ChannelGroup: &common.ConfigGroup{
		Groups: map[string]*common.ConfigGroup{
			"Application": {Groups: orgs},
			"Orderer":     {Values: map[string]*common.ConfigValue{"BatchSize": {Value: batch}}},
		},
	}}})
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	nonce := make([]byte, 24)
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	chdr, err := proto.Marshal(&common.ChannelHeader{
		Type: int32(common.HeaderType_CONFIG), ChannelId: n.cfg.Consortium.Channel,
		TxId: computeTxID(nonce, n.peerCreator), Timestamp: timestamppb.New(n.now()),
	})
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	shdr, err := proto.Marshal(&common.SignatureHeader{Creator: n.peerCreator, Nonce: nonce})
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	payload, err := proto.Marshal(&common.Payload{Header: &common.Header{ChannelHeader: chdr, SignatureHeader: shdr}, Data: cfgEnv})
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	sig, err := signLowS(n.peer.user.Key, payload)
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	env, err := proto.Marshal(&common.Envelope{Payload: payload, Signature: sig})
	if err != nil {
		return nil, fmt.Errorf("genesis block: %w", err)
	}
	b := &common.Block{
		Header:   &common.BlockHeader{Number: 0},
		Data:     &common.BlockData{Data: [][]byte{env}},
		Metadata: newBlockMetadata(),
	}
	b.Header.DataHash = blockDataHash(b.Data)
	b.Metadata.Metadata[common.BlockMetadataIndex_TRANSACTIONS_FILTER] = []byte{byte(peer.TxValidationCode_VALID)}
	if err := n.signBlock(b); err != nil {
		return nil, err
	}
	return b, nil
}
