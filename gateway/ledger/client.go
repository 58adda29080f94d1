package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// Client calls the CareLedger chaincode as one identity, or as a gateway identity on behalf of
// a member (see For). It is a view of a Conn and has no Close: every Client of a Conn, whether
// made by Conn.As or derived by For, shares the Conn's connection, which only the Conn's owner
// closes (Conn.Close). A Client holds nothing else that needs releasing. It is safe for
// concurrent use.
type Client struct {
	key      string // identifies who the calls run as, for caches
	gw       *client.Gateway
	network  *client.Network
	contract *client.Contract
	actor    []byte
	retry    retryPolicy
}

type retryPolicy struct {
	attempts int
	backoff  time.Duration
}

var defaultRetry = retryPolicy{attempts: 3, backoff: 200 * time.Millisecond}

// For returns a client that acts for the member whose PEM certificate is given. Only a client
// whose own identity has the gateway role may do this, and only for its own organisation's
// members; the chaincode enforces both. The derived client shares c's SDK gateway and
// connection, so it cannot close them: neither can c (see Client).
func (c *Client) For(memberCertPEM []byte) *Client {
	cp := *c
	cp.actor = memberCertPEM
	cp.key = callerKey(c.gw.Identity().Credentials(), memberCertPEM)
	return &cp
}

// Key identifies who this client's calls run as (its identity, and the member it acts for),
// without revealing either: use it to key per-caller caches.
func (c *Client) Key() string { return c.key }

func callerKey(identity, actor []byte) string {
	h := sha256.New()
	h.Write(identity)
	h.Write([]byte{0})
	h.Write(actor)
	return hex.EncodeToString(h.Sum(nil))
}

// Gateway exposes the SDK gateway, for offline signing and event listening.
func (c *Client) Gateway() *client.Gateway { return c.gw }

// Network exposes the SDK network (channel).
func (c *Client) Network() *client.Network { return c.network }

func (c *Client) options(args []string) []client.ProposalOption {
	opts := []client.ProposalOption{client.WithArguments(args...)}
	if c.actor != nil {
		opts = append(opts, client.WithTransient(map[string][]byte{model.ActorTransientKey: c.actor}))
	}
	return opts
}

// evaluate runs a query on one peer. Queries change nothing, so transient failures are retried.
func (c *Client) evaluate(ctx context.Context, fn string, args ...string) ([]byte, error) {
	var out []byte
	err := c.withRetry(ctx, func() error {
		var err error
		out, err = c.contract.EvaluateWithContext(ctx, fn, c.options(args)...)
		return err
	})
	return out, translate("evaluate "+fn, err)
}

// Submitted is the outcome of a committed transaction.
type Submitted struct {
	TxID        string
	BlockNumber uint64
	Result      []byte
}

// readConflictAttempts bounds how often a transaction the peers invalidated for a read conflict
// is run again.
const readConflictAttempts = 4

// submit endorses, orders and waits for the commit of a transaction. Endorsement is retried on
// transient failures (nothing was ordered yet); submission is retried with the same signed
// transaction, which the ledger can commit at most once (a repeated transaction ID is invalid).
// A transaction invalidated for a read conflict (MVCC_READ_CONFLICT, PHANTOM_READ_CONFLICT)
// wrote nothing, so it is run again as a new transaction on the state that beat it, as the
// caller would: a concurrent transaction of the same party, such as two first uploads of a new
// patient, must not fail one of them. Whatever the chaincode then decides stands.
func (c *Client) submit(ctx context.Context, fn string, args ...string) (*Submitted, error) {
	for attempt := 1; ; attempt++ {
		out, err := c.submitOnce(ctx, fn, args...)
		if attempt == readConflictAttempts || !errors.Is(err, &model.Error{Code: model.CodeConflict}) {
			return out, err
		}
		var ce *CommitError
		if !errors.As(err, &ce) {
			return out, err // the chaincode's own CONFLICT: final
		}
		var wait time.Duration
		if spread := int64(c.retry.backoff/4) << attempt; spread > 0 {
			wait = time.Duration(rand.Int64N(spread)) // apart, so the two do not meet again
		}
		select {
		case <-ctx.Done():
			return out, err
		case <-time.After(wait):
		}
	}
}

func (c *Client) submitOnce(ctx context.Context, fn string, args ...string) (*Submitted, error) {
	proposal, err := c.contract.NewProposal(fn, c.options(args)...)
	if err != nil {
		return nil, translate("prepare "+fn, err)
	}
	var tx *client.Transaction
	if err := c.withRetry(ctx, func() error {
		tx, err = proposal.EndorseWithContext(ctx)
		return err
	}); err != nil {
		return nil, translate("endorse "+fn, err)
	}
	var commit *client.Commit
	if err := c.withRetry(ctx, func() error {
		commit, err = tx.SubmitWithContext(ctx)
		return err
	}); err != nil {
		return nil, translate("submit "+fn, err)
	}
	return waitCommit(ctx, fn, tx.Result(), commit)
}

func waitCommit(ctx context.Context, fn string, result []byte, commit *client.Commit) (*Submitted, error) {
	st, err := commit.StatusWithContext(ctx)
	if err != nil {
		return nil, translate("commit status of "+fn, err)
	}
	if !st.Successful {
		return nil, &CommitError{TxID: st.TransactionID, Code: st.Code}
	}
	return &Submitted{TxID: st.TransactionID, BlockNumber: st.BlockNumber, Result: result}, nil
}

func (c *Client) withRetry(ctx context.Context, call func() error) error {
	var err error
	for attempt := 0; attempt < c.retry.attempts; attempt++ {
		if err = call(); err == nil || !transient(err) || chaincodeError(err) != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(c.retry.backoff << attempt):
		}
	}
	return err
}

func query[T any](ctx context.Context, c *Client, fn string, args ...string) (*T, error) {
	out, err := c.evaluate(ctx, fn, args...)
	if err != nil {
		return nil, err
	}
	return decode[T](fn, out)
}

func invoke[T any](ctx context.Context, c *Client, fn string, args ...string) (*T, error) {
	res, err := c.submit(ctx, fn, args...)
	if err != nil {
		return nil, err
	}
	return decode[T](fn, res.Result)
}

func decode[T any](fn string, b []byte) (*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("decode %s result: %w", fn, err)
	}
	return v, nil
}

func arg(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal chaincode argument: %v", err)) // model types always marshal
	}
	return string(b)
}

// Page asks for one page of a listing; zero values mean the chaincode's default page size and
// the first page.
type Page struct {
	Size     int
	Bookmark string
}

func (p Page) args() []string { return []string{strconv.Itoa(p.Size), p.Bookmark} }
