package network

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	gwidentity "github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// BenchTarget is a Fabric Gateway endpoint and the identity to drive it with. It works for the
// embedded node and for a real Fabric peer alike.
type BenchTarget struct {
	Addr string
	// ServerName and TLSCACertPEM configure TLS; an empty TLSCACertPEM means plain gRPC.
	ServerName   string
	TLSCACertPEM []byte
	User         *User
	Channel      string
	Chaincode    string
}

// BenchTarget returns the target for driving this node as user.
func (n *Node) BenchTarget(user *User) BenchTarget {
	t := BenchTarget{Addr: n.Addr(), ServerName: n.ServerName(), User: user,
		Channel: n.cfg.Consortium.Channel, Chaincode: n.cfg.Consortium.Chaincode}
	if !n.cfg.InsecureNoTLS {
		t.TLSCACertPEM = n.TLSCACertPEM()
	}
	return t
}

// BenchOptions says what to run. Submit and Evaluate build the transaction (function name and
// arguments) for client c's i-th call; Submit must not make calls conflict under MVCC, e.g. by
// writing distinct keys.
type BenchOptions struct {
	Clients          int
	SubmitDuration   time.Duration
	EvaluateDuration time.Duration
	Submit           func(c, i int) (string, []string)
	Evaluate         func(c, i int) (string, []string)
}

// BenchResult holds the figures Bench prints.
type BenchResult struct {
	Clients                  int
	Committed, Failed        int
	SubmitPerSecond          float64
	SubmitP50, SubmitP99     time.Duration
	Evaluated, EvalFailed    int
	EvaluatePerSecond        float64
	EvaluateP50, EvaluateP99 time.Duration
}

// Bench drives target with opts.Clients concurrent fabric-gateway clients: first submits
// (endorse, submit, wait for commit) for opts.SubmitDuration, then evaluates for
// opts.EvaluateDuration, and prints throughput and latency percentiles to w.
func Bench(ctx context.Context, w io.Writer, target BenchTarget, opts BenchOptions) (*BenchResult, error) {
	if opts.Clients <= 0 {
		opts.Clients = 1
	}
	if opts.Submit == nil || target.User == nil {
		return nil, fmt.Errorf("bench: %w: a submit function and a user are required", ErrInvalidConfig)
	}
	conns, err := benchConns(target, min(opts.Clients, 8))
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	contracts := make([]*client.Contract, opts.Clients)
	for i := range contracts {
		gw, err := benchGateway(target, conns[i%len(conns)])
		if err != nil {
			return nil, err
		}
		defer gw.Close()
		contracts[i] = gw.GetNetwork(target.Channel).GetContract(target.Chaincode)
	}
	res := &BenchResult{Clients: opts.Clients}
	var firstErr atomic.Value
	run := func(d time.Duration, call func(c *client.Contract, ci, i int) error) (lat []time.Duration, failed int, elapsed time.Duration) {
		if d <= 0 {
			return nil, 0, 0
		}
		runCtx, cancel := context.WithTimeout(ctx, d)
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		start := time.Now()
		for ci, c := range contracts {
			wg.Go(func() {
				var local []time.Duration
				fails := 0
				for i := 0; runCtx.Err() == nil; i++ {
					t0 := time.Now()
					if err := call(c, ci, i); err != nil {
						if runCtx.Err() == nil {
							fails++
							firstErr.CompareAndSwap(nil, err)
						}
						continue
					}
					local = append(local, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, local...)
				failed += fails
				mu.Unlock()
			})
		}
		wg.Wait()
		return lat, failed, time.Since(start)
	}

	fmt.Fprintf(w, "ledger bench: %d clients against %s, submit %s, evaluate %s\n", opts.Clients, target.Addr, opts.SubmitDuration, opts.EvaluateDuration)
	lat, failed, elapsed := run(opts.SubmitDuration, func(c *client.Contract, ci, i int) error {
		fn, args := opts.Submit(ci, i)
		_, err := c.SubmitWithContext(ctx, fn, client.WithArguments(args...))
		return err
	})
	res.Committed, res.Failed = len(lat), failed
	if elapsed > 0 {
		res.SubmitPerSecond = float64(len(lat)) / elapsed.Seconds()
		res.SubmitP50, res.SubmitP99 = percentile(lat, 50), percentile(lat, 99)
		fmt.Fprintf(w, "submit:   %8d committed %5d failed  %9.1f tx/s  p50 %8s  p99 %8s\n",
			res.Committed, res.Failed, res.SubmitPerSecond, res.SubmitP50.Round(10*time.Microsecond), res.SubmitP99.Round(10*time.Microsecond))
	}
	if opts.Evaluate != nil {
		lat, failed, elapsed = run(opts.EvaluateDuration, func(c *client.Contract, ci, i int) error {
			fn, args := opts.Evaluate(ci, i)
			_, err := c.EvaluateWithContext(ctx, fn, client.WithArguments(args...))
			return err
		})
		res.Evaluated, res.EvalFailed = len(lat), failed
		if elapsed > 0 {
			res.EvaluatePerSecond = float64(len(lat)) / elapsed.Seconds()
			res.EvaluateP50, res.EvaluateP99 = percentile(lat, 50), percentile(lat, 99)
			fmt.Fprintf(w, "evaluate: %8d done      %5d failed  %9.1f /s    p50 %8s  p99 %8s\n",
				res.Evaluated, res.EvalFailed, res.EvaluatePerSecond, res.EvaluateP50.Round(10*time.Microsecond), res.EvaluateP99.Round(10*time.Microsecond))
		}
	}
	if e, ok := firstErr.Load().(error); ok {
		fmt.Fprintf(w, "first error: %v\n", e)
	}
	if res.Committed == 0 && opts.SubmitDuration > 0 {
		if e, ok := firstErr.Load().(error); ok {
			return res, fmt.Errorf("bench: no transaction committed: %w", e)
		}
		return res, errors.New("bench: no transaction committed")
	}
	return res, nil
}

func percentile(lat []time.Duration, p int) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	slices.Sort(lat)
	return lat[min(len(lat)-1, len(lat)*p/100)]
}

func benchConns(t BenchTarget, count int) ([]*grpc.ClientConn, error) {
	creds := insecure.NewCredentials()
	if len(t.TLSCACertPEM) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(t.TLSCACertPEM) {
			return nil, errors.New("bench: no certificate in the TLS CA PEM")
		}
		creds = credentials.NewClientTLSFromCert(pool, t.ServerName)
	}
	conns := make([]*grpc.ClientConn, 0, count)
	for range count {
		c, err := grpc.NewClient(t.Addr, grpc.WithTransportCredentials(creds))
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("bench: dial %s: %w", t.Addr, err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

func benchGateway(t BenchTarget, conn *grpc.ClientConn) (*client.Gateway, error) {
	id, err := gwidentity.NewX509Identity(t.User.MSPID, t.User.Cert)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	sign, err := gwidentity.NewPrivateKeySign(t.User.Key)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEndorseTimeout(30*time.Second), client.WithSubmitTimeout(30*time.Second),
		client.WithCommitStatusTimeout(time.Minute), client.WithEvaluateTimeout(30*time.Second))
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return gw, nil
}
