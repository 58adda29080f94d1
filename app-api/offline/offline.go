// Package offline inspects and signs the messages of the Fabric Gateway offline-signing flow
// (proposal, endorsed transaction, commit-status request), so that a person's private key can
// stay on their own device: the API server prepares the messages, the device checks what it is
// asked to sign and signs the digest, and the server forwards the signed message.
//
// Both sides use it. The server checks that the creator of every message is the caller that
// authenticated with a TLS client certificate and that a proposal invokes one of the permitted
// transactions; the device checks that a proposal says exactly what it asked for before it
// signs, and computes every digest itself rather than trusting the one the server sent.
package offline

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed is wrapped by every failure to parse a message; the message says which part.
var ErrMalformed = errors.New("malformed signing message")

// ErrBadSignature means a signature does not verify against the signer's certificate, or is
// not in the canonical low-S form Fabric requires.
var ErrBadSignature = errors.New("signature does not verify")

// Identity is a message's creator: an MSP ID and an X.509 certificate.
type Identity struct {
	MSPID string
	Cert  *x509.Certificate
}

// Is reports whether the identity is the given MSP member with exactly this certificate.
func (i Identity) Is(mspID string, cert *x509.Certificate) bool {
	return i.Cert != nil && cert != nil && i.MSPID == mspID && bytes.Equal(i.Cert.Raw, cert.Raw)
}

// Proposal is what a transaction proposal asks for.
type Proposal struct {
	TxID      string
	Channel   string
	Chaincode string
	// Function is the transaction name, Args its arguments (after the name).
	Function string
	Args     []string
	Creator  Identity
	// Transient lists the keys of the proposal's transient data; offline-signed consent
	// transactions carry none.
	Transient []string
	// Digest is what the creator signs: SHA-256 of the proposal bytes.
	Digest []byte
}

// ParseProposal parses a serialized gateway.ProposedTransaction, as returned by the SDK's
// Proposal.Bytes.
func ParseProposal(b []byte) (*Proposal, error) {
	var pt gateway.ProposedTransaction
	if err := proto.Unmarshal(b, &pt); err != nil {
		return nil, fmt.Errorf("%w: proposed transaction: %w", ErrMalformed, err)
	}
	raw := pt.GetProposal().GetProposalBytes()
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: proposal is empty", ErrMalformed)
	}
	var prop peer.Proposal
	if err := proto.Unmarshal(raw, &prop); err != nil {
		return nil, fmt.Errorf("%w: proposal: %w", ErrMalformed, err)
	}
	chdr, creator, err := parseHeader(prop.GetHeader())
	if err != nil {
		return nil, err
	}
	if chdr.GetType() != int32(common.HeaderType_ENDORSER_TRANSACTION) {
		return nil, fmt.Errorf("%w: not an endorser transaction", ErrMalformed)
	}
	if chdr.GetTxId() != pt.GetTransactionId() {
		return nil, fmt.Errorf("%w: transaction IDs differ", ErrMalformed)
	}
	var ext peer.ChaincodeHeaderExtension
	if err := proto.Unmarshal(chdr.GetExtension(), &ext); err != nil {
		return nil, fmt.Errorf("%w: chaincode header extension: %w", ErrMalformed, err)
	}
	var payload peer.ChaincodeProposalPayload
	if err := proto.Unmarshal(prop.GetPayload(), &payload); err != nil {
		return nil, fmt.Errorf("%w: proposal payload: %w", ErrMalformed, err)
	}
	var spec peer.ChaincodeInvocationSpec
	if err := proto.Unmarshal(payload.GetInput(), &spec); err != nil {
		return nil, fmt.Errorf("%w: invocation spec: %w", ErrMalformed, err)
	}
	args := spec.GetChaincodeSpec().GetInput().GetArgs()
	if len(args) == 0 {
		return nil, fmt.Errorf("%w: no transaction name", ErrMalformed)
	}
	out := &Proposal{
		TxID: chdr.GetTxId(), Channel: chdr.GetChannelId(), Chaincode: ext.GetChaincodeId().GetName(),
		Function: string(args[0]), Creator: creator, Digest: digest(raw),
	}
	for _, a := range args[1:] {
		out.Args = append(out.Args, string(a))
	}
	for k := range payload.GetTransientMap() {
		out.Transient = append(out.Transient, k)
	}
	slices.Sort(out.Transient)
	return out, nil
}

// Transaction is an endorsed transaction ready to be signed and submitted.
type Transaction struct {
	TxID    string
	Channel string
	Creator Identity
	// Digest is SHA-256 of the envelope payload.
	Digest []byte
}

// ParseTransaction parses a serialized gateway.PreparedTransaction, as returned by the SDK's
// Transaction.Bytes.
func ParseTransaction(b []byte) (*Transaction, error) {
	var pt gateway.PreparedTransaction
	if err := proto.Unmarshal(b, &pt); err != nil {
		return nil, fmt.Errorf("%w: prepared transaction: %w", ErrMalformed, err)
	}
	raw := pt.GetEnvelope().GetPayload()
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: transaction envelope is empty", ErrMalformed)
	}
	var payload common.Payload
	if err := proto.Unmarshal(raw, &payload); err != nil {
		return nil, fmt.Errorf("%w: transaction payload: %w", ErrMalformed, err)
	}
	hdr, err := proto.Marshal(payload.GetHeader())
	if err != nil {
		return nil, fmt.Errorf("%w: transaction header: %w", ErrMalformed, err)
	}
	chdr, creator, err := parseHeader(hdr)
	if err != nil {
		return nil, err
	}
	if chdr.GetTxId() != pt.GetTransactionId() {
		return nil, fmt.Errorf("%w: transaction IDs differ", ErrMalformed)
	}
	if chdr.GetType() != int32(common.HeaderType_ENDORSER_TRANSACTION) {
		return nil, fmt.Errorf("%w: not an endorser transaction", ErrMalformed)
	}
	// Protobuf cannot tell a proposal from a transaction by its bytes alone; an endorsed
	// transaction carries actions with endorsements, which a proposal never has.
	var tx peer.Transaction
	if err := proto.Unmarshal(payload.GetData(), &tx); err != nil || len(tx.GetActions()) == 0 {
		return nil, fmt.Errorf("%w: transaction has no actions", ErrMalformed)
	}
	for _, a := range tx.GetActions() {
		var cap peer.ChaincodeActionPayload
		if err := proto.Unmarshal(a.GetPayload(), &cap); err != nil || len(cap.GetAction().GetEndorsements()) == 0 {
			return nil, fmt.Errorf("%w: transaction action is not endorsed", ErrMalformed)
		}
	}
	return &Transaction{TxID: chdr.GetTxId(), Channel: chdr.GetChannelId(), Creator: creator, Digest: digest(raw)}, nil
}

// Commit is a request for a transaction's commit status.
type Commit struct {
	TxID    string
	Channel string
	Creator Identity
	// Digest is SHA-256 of the request bytes.
	Digest []byte
}

// ParseCommit parses a serialized gateway.SignedCommitStatusRequest, as returned by the SDK's
// Commit.Bytes.
func ParseCommit(b []byte) (*Commit, error) {
	var signed gateway.SignedCommitStatusRequest
	if err := proto.Unmarshal(b, &signed); err != nil {
		return nil, fmt.Errorf("%w: commit status request: %w", ErrMalformed, err)
	}
	if len(signed.GetRequest()) == 0 {
		return nil, fmt.Errorf("%w: commit status request is empty", ErrMalformed)
	}
	var req gateway.CommitStatusRequest
	if err := proto.Unmarshal(signed.GetRequest(), &req); err != nil {
		return nil, fmt.Errorf("%w: commit status request: %w", ErrMalformed, err)
	}
	creator, err := parseIdentity(req.GetIdentity())
	if err != nil {
		return nil, err
	}
	return &Commit{TxID: req.GetTransactionId(), Channel: req.GetChannelId(), Creator: creator, Digest: digest(signed.GetRequest())}, nil
}

func parseHeader(b []byte) (*common.ChannelHeader, Identity, error) {
	var hdr common.Header
	if err := proto.Unmarshal(b, &hdr); err != nil {
		return nil, Identity{}, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	var chdr common.ChannelHeader
	if err := proto.Unmarshal(hdr.GetChannelHeader(), &chdr); err != nil {
		return nil, Identity{}, fmt.Errorf("%w: channel header: %w", ErrMalformed, err)
	}
	var shdr common.SignatureHeader
	if err := proto.Unmarshal(hdr.GetSignatureHeader(), &shdr); err != nil {
		return nil, Identity{}, fmt.Errorf("%w: signature header: %w", ErrMalformed, err)
	}
	id, err := parseIdentity(shdr.GetCreator())
	return &chdr, id, err
}

func parseIdentity(b []byte) (Identity, error) {
	var sid msp.SerializedIdentity
	if err := proto.Unmarshal(b, &sid); err != nil {
		return Identity{}, fmt.Errorf("%w: creator: %w", ErrMalformed, err)
	}
	block, _ := pem.Decode(sid.GetIdBytes())
	if block == nil || block.Type != "CERTIFICATE" {
		return Identity{}, fmt.Errorf("%w: creator certificate is not PEM", ErrMalformed)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: creator certificate: %w", ErrMalformed, err)
	}
	return Identity{MSPID: sid.GetMspid(), Cert: cert}, nil
}

func digest(b []byte) []byte {
	sum := sha256.Sum256(b)
	return sum[:]
}

type ecdsaSignature struct{ R, S *big.Int }

// Sign signs a digest with an ECDSA key held by signer (a private key, an HSM or a Vault
// key), producing the ASN.1 signature with the low-S value that Fabric requires, exactly as
// fabric-gateway's identity.NewPrivateKeySign does.
func Sign(signer crypto.Signer, digest []byte) ([]byte, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("sign digest: only ECDSA keys are supported")
	}
	der, err := signer.Sign(rand.Reader, digest, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign digest: %w", err)
	}
	var sig ecdsaSignature
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return nil, errors.New("sign digest: signer returned a malformed signature")
	}
	n := pub.Curve.Params().N
	if sig.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		sig.S.Sub(n, sig.S)
	}
	return asn1.Marshal(sig)
}

// Verify checks an ECDSA signature over digest against the certificate's public key, and that
// it is in low-S form (a peer rejects high-S signatures).
func Verify(cert *x509.Certificate, digest, sig []byte) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("%w: only ECDSA identities are supported", ErrBadSignature)
	}
	var s ecdsaSignature
	if rest, err := asn1.Unmarshal(sig, &s); err != nil || len(rest) != 0 || s.R == nil || s.S == nil {
		return fmt.Errorf("%w: not an ASN.1 ECDSA signature", ErrBadSignature)
	}
	if s.S.Cmp(new(big.Int).Rsh(pub.Curve.Params().N, 1)) > 0 {
		return fmt.Errorf("%w: S is not in low-S form", ErrBadSignature)
	}
	if !ecdsa.VerifyASN1(pub, digest, sig) {
		return ErrBadSignature
	}
	return nil
}
