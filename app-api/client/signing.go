package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"

	"github.com/careledger/careledger/app-api/offline"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/google/uuid"
)

// ErrRefusedToSign means the server asked the device to sign something other than what was
// requested; nothing was signed.
var ErrRefusedToSign = errors.New("refused to sign: the message does not match the request")

// Receipt tells where a self-signed transaction was committed.
type Receipt struct {
	TransactionID string `json:"transactionId"`
	BlockNumber   uint64 `json:"blockNumber"`
	Status        string `json:"status"`
	// Erasure is "completed" or "pending" after an erasure request (see RequestErasure).
	Erasure string `json:"erasure,omitempty"`
}

type prepared struct {
	TransactionID string          `json:"transactionId"`
	Function      string          `json:"function,omitempty"`
	Proposal      []byte          `json:"proposal,omitempty"`
	Transaction   []byte          `json:"transaction,omitempty"`
	Commit        []byte          `json:"commit,omitempty"`
	Digest        []byte          `json:"digest"`
	Result        json.RawMessage `json:"result,omitempty"`
}

type signed struct {
	Proposal    []byte `json:"proposal,omitempty"`
	Transaction []byte `json:"transaction,omitempty"`
	Commit      []byte `json:"commit,omitempty"`
	Signature   []byte `json:"signature"`
}

// selfSigned runs the offline-signing flow: the server prepares a proposal (method, path,
// body), the device checks it invokes fn with args and signs it, the server endorses it, the
// device signs the transaction, the server submits it, the device signs the commit-status
// request and the server reports the commit. It returns the endorsed result and the receipt.
func (c *Client) selfSigned(ctx context.Context, method, path string, body any, fn string, args ...string) (json.RawMessage, *Receipt, error) {
	if c.signer == nil || c.cert == nil {
		return nil, nil, errors.New("sign transaction: the client has no identity")
	}
	var p prepared
	if err := c.call(ctx, method, path, nil, body, &p); err != nil {
		return nil, nil, err
	}
	prop, err := offline.ParseProposal(p.Proposal)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrRefusedToSign, err)
	}
	if err := c.check(prop.Creator, prop.Digest, p.Digest); err != nil {
		return nil, nil, err
	}
	if prop.Function != fn || len(prop.Transient) > 0 || !sameArgs(prop.Args, args) {
		return nil, nil, fmt.Errorf("%w: it invokes %s with other arguments", ErrRefusedToSign, prop.Function)
	}
	sig, err := offline.Sign(c.signer, prop.Digest)
	if err != nil {
		return nil, nil, err
	}
	var tx prepared
	if err := c.call(ctx, http.MethodPost, "/v1/transactions/endorse", nil, signed{Proposal: p.Proposal, Signature: sig}, &tx); err != nil {
		return nil, nil, err
	}
	ptx, err := offline.ParseTransaction(tx.Transaction)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrRefusedToSign, err)
	}
	if err := c.check(ptx.Creator, ptx.Digest, tx.Digest); err != nil {
		return nil, nil, err
	}
	if ptx.TxID != prop.TxID || ptx.Channel != prop.Channel {
		return nil, nil, fmt.Errorf("%w: the transaction is not the one proposed", ErrRefusedToSign)
	}
	if sig, err = offline.Sign(c.signer, ptx.Digest); err != nil {
		return nil, nil, err
	}
	var cm prepared
	if err := c.call(ctx, http.MethodPost, "/v1/transactions/submit", nil, signed{Transaction: tx.Transaction, Signature: sig}, &cm); err != nil {
		return nil, nil, err
	}
	pcm, err := offline.ParseCommit(cm.Commit)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrRefusedToSign, err)
	}
	if err := c.check(pcm.Creator, pcm.Digest, cm.Digest); err != nil {
		return nil, nil, err
	}
	if pcm.TxID != prop.TxID {
		return nil, nil, fmt.Errorf("%w: the commit request is for another transaction", ErrRefusedToSign)
	}
	if sig, err = offline.Sign(c.signer, pcm.Digest); err != nil {
		return nil, nil, err
	}
	var receipt Receipt
	if err := c.call(ctx, http.MethodPost, "/v1/transactions/commit", nil, signed{Commit: cm.Commit, Signature: sig}, &receipt); err != nil {
		return nil, nil, err
	}
	return tx.Result, &receipt, nil
}

// check refuses a message not created for this member, or whose digest the server misstated
// (the device signs the digest it computed, never the server's).
func (c *Client) check(creator offline.Identity, computed, announced []byte) error {
	if !creator.Is(c.mspID, c.cert) {
		return fmt.Errorf("%w: it was not created for this identity", ErrRefusedToSign)
	}
	if !bytes.Equal(computed, announced) {
		return fmt.Errorf("%w: the announced digest is not the message's", ErrRefusedToSign)
	}
	return nil
}

// sameArgs compares chaincode arguments, JSON ones by value (the server re-encodes them).
func sameArgs(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i] == want[i] {
			continue
		}
		var a, b any
		if json.Unmarshal([]byte(got[i]), &a) != nil || json.Unmarshal([]byte(want[i]), &b) != nil || !reflect.DeepEqual(a, b) {
			return false
		}
	}
	return true
}

func decodeResult[T any](res json.RawMessage, r *Receipt, err error) (*T, *Receipt, error) {
	if err != nil {
		return nil, nil, err
	}
	out := new(T)
	if err := json.Unmarshal(res, out); err != nil {
		return nil, r, fmt.Errorf("decode transaction result: %w", err)
	}
	return out, r, nil
}

func argJSON(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Grant records the patient's consent, signed with the patient's key on this device. An
// empty ID is replaced by a random UUID.
func (c *Client) Grant(ctx context.Context, g model.GrantRequest) (*model.Grant, *Receipt, error) {
	if g.ID == "" {
		g.ID = uuid.NewString()
	}
	a, err := argJSON(g)
	if err != nil {
		return nil, nil, err
	}
	return decodeResult[model.Grant](c.selfSigned(ctx, http.MethodPost, "/v1/grants", g, "Grant", a))
}

// RevokeGrant revokes a grant, signed on this device.
func (c *Client) RevokeGrant(ctx context.Context, grantID string) (*model.Grant, *Receipt, error) {
	return decodeResult[model.Grant](c.selfSigned(ctx, http.MethodDelete, "/v1/grants/"+seg(grantID), nil, "RevokeGrant", grantID))
}

// AddDelegate names a delegate, signed on this device.
func (c *Client) AddDelegate(ctx context.Context, d model.DelegateRequest) (*model.Delegate, *Receipt, error) {
	a, err := argJSON(d)
	if err != nil {
		return nil, nil, err
	}
	return decodeResult[model.Delegate](c.selfSigned(ctx, http.MethodPost, "/v1/delegates", d, "AddDelegate", a))
}

// RemoveDelegate withdraws a delegation, signed on this device.
func (c *Client) RemoveDelegate(ctx context.Context, delegateID string) (*Receipt, error) {
	_, r, err := c.selfSigned(ctx, http.MethodDelete, "/v1/delegates/"+seg(delegateID), nil, "RemoveDelegate", delegateID)
	return r, err
}

// SetResearchConsent opts in to or out of research use, signed on this device.
func (c *Client) SetResearchConsent(ctx context.Context, rc model.ResearchConsentRequest) (*model.ResearchConsent, *Receipt, error) {
	a, err := argJSON(rc)
	if err != nil {
		return nil, nil, err
	}
	return decodeResult[model.ResearchConsent](c.selfSigned(ctx, http.MethodPut, "/v1/research-consent", rc, "SetResearchConsent", a))
}

// RequestErasure asks for the calling patient's erasure, signed on this device. The server
// then destroys the patient's key and content; Receipt.Erasure says whether that finished.
// When it is "pending", call CompleteErasure later.
func (c *Client) RequestErasure(ctx context.Context) (*model.Erasure, *Receipt, error) {
	return decodeResult[model.Erasure](c.selfSigned(ctx, http.MethodPost, "/v1/erasure", nil, "RequestErasure"))
}

// CompleteErasure asks the server to finish the calling patient's erasure (destroy the key
// and content) after a RequestErasure whose receipt said "pending". The ledger, not the
// client, says whether the patient was erased.
func (c *Client) CompleteErasure(ctx context.Context) (*Receipt, error) {
	var r Receipt
	if err := c.call(ctx, http.MethodPost, "/v1/erasure/complete", nil, nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}
