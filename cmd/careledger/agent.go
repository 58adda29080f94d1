package main

import (
	"bufio"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/careledger/careledger/wallet"
	"github.com/gofrs/flock"
)

// The key agent keeps wallet identities unlocked for the commands of one user, the way
// ssh-agent and gpg-agent do, so only the first command pays for the passphrase's key
// derivation (argon2id, about a second on a loaded machine).
//
// What it guarantees:
//   - private keys live only in the agent's memory: the agent decrypts them itself from the
//     wallet file, signs digests on request and has no operation that returns a key; nothing is
//     written to disk (the process is also made non-dumpable, so no core file holds them);
//   - only the same user reaches it: the socket sits in a directory of mode 0700 owned by the
//     user, and every connection's peer credentials (SO_PEERCRED) must carry the agent's uid;
//     the command checks the agent's credentials the same way before it sends a passphrase;
//   - keys are forgotten after the idle time (no request using a key), on `careledger agent
//     lock`, and when the agent stops; it exits once idle.
//
// Go cannot promise that no copy of a key's bytes is left in freed memory or swapped out: the
// agent zeroes what it holds, and swap should be encrypted on machines that keep keys.

// defaultAgentIdle is how long the agent keeps keys without a request that uses one.
const defaultAgentIdle = 15 * time.Minute

// walletUnlocks counts passphrase key derivations in this process (argon2id runs), so tests
// can see that a command served by the agent ran none.
var walletUnlocks atomic.Int64

// unlockIdentity decrypts the identity in f; every key derivation goes through here.
func unlockIdentity(f *wallet.File, passphrase []byte) (*wallet.Identity, error) {
	walletUnlocks.Add(1)
	return f.Open(passphrase)
}

// agentRequest is one request to the agent, a JSON line.
type agentRequest struct {
	// Op is identity (the certificate of an unlocked identity), unlock, sign, lock (forget
	// every key), stop or status.
	Op         string `json:"op"`
	Wallet     string `json:"wallet,omitempty"`
	Label      string `json:"label,omitempty"`
	Passphrase []byte `json:"passphrase,omitempty"`
	Digest     []byte `json:"digest,omitempty"`
}

// agentResponse answers one request, a JSON line. It has no field that could carry a key.
type agentResponse struct {
	Error string `json:"error,omitempty"`
	// Code lets the command branch: locked, wrong-passphrase.
	Code       string   `json:"code,omitempty"`
	MSPID      string   `json:"mspId,omitempty"`
	Cert       string   `json:"cert,omitempty"`
	Signature  []byte   `json:"signature,omitempty"`
	Identities []string `json:"identities,omitempty"`
	PID        int      `json:"pid,omitempty"`
	Idle       string   `json:"idle,omitempty"`
}

const (
	agentCodeLocked          = "locked"
	agentCodeWrongPassphrase = "wrong-passphrase"
)

// errForeignPeer refuses a connection from another user.
var errForeignPeer = errors.New("connection from another user refused")

// checkPeer lets a connection in only when its peer runs as uid self. Root gets no exception:
// the agent serves one user.
func checkPeer(cred *peerCredentials, self int) error {
	if cred == nil {
		return fmt.Errorf("%w: no peer credentials", errForeignPeer)
	}
	if cred.UID != self {
		return fmt.Errorf("%w: uid %d, agent runs as %d", errForeignPeer, cred.UID, self)
	}
	return nil
}

// peerCredentials are what the kernel says about the other end of a Unix socket.
type peerCredentials struct {
	PID, UID int
}

// agentKey names a held identity: the wallet directory (absolute) and label.
type agentKey struct{ wallet, label string }

// keyAgent holds unlocked identities and signs with them.
type keyAgent struct {
	idle time.Duration
	log  *slog.Logger
	uid  int

	mu    sync.Mutex
	keys  map[agentKey]*wallet.Identity
	conns map[net.Conn]bool // open connections, closed when the agent stops
	timer *time.Timer
	last  time.Time

	done     chan struct{}
	stopOnce sync.Once
}

func newKeyAgent(idle time.Duration, log *slog.Logger) *keyAgent {
	if idle <= 0 {
		idle = defaultAgentIdle
	}
	a := &keyAgent{idle: idle, log: log, uid: os.Getuid(), keys: map[agentKey]*wallet.Identity{}, conns: map[net.Conn]bool{}, done: make(chan struct{}), last: time.Now()}
	a.timer = time.AfterFunc(idle, a.expire)
	return a
}

// expire forgets every key after the idle time and stops the agent.
func (a *keyAgent) expire() {
	a.log.Info("agent idle: forgetting keys and stopping", "idle", a.idle)
	a.lock()
	a.stop()
}

// touch restarts the idle time.
func (a *keyAgent) touch() {
	a.mu.Lock()
	a.last = time.Now()
	a.mu.Unlock()
	a.timer.Reset(a.idle)
}

// lock forgets every key, zeroing it.
func (a *keyAgent) lock() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, id := range a.keys {
		id.Wipe()
		delete(a.keys, k)
	}
}

func (a *keyAgent) stop() {
	a.stopOnce.Do(func() {
		a.timer.Stop()
		close(a.done)
	})
}

// held returns the number of identities the agent holds.
func (a *keyAgent) held() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.keys)
}

// serve answers connections on ln until ctx ends, the agent is stopped or it idles out; keys
// are forgotten on the way out.
func (a *keyAgent) serve(ctx context.Context, ln *net.UnixListener) error {
	defer a.lock()
	defer a.stop()
	go func() {
		select {
		case <-ctx.Done():
		case <-a.done:
		}
		ln.Close()
		a.mu.Lock()
		for c := range a.conns {
			c.Close()
		}
		a.mu.Unlock()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.AcceptUnix()
		if err != nil {
			select {
			case <-a.done:
				return nil
			case <-ctx.Done():
				return nil
			default:
				return fmt.Errorf("agent accept: %w", err)
			}
		}
		a.mu.Lock()
		a.conns[c] = true
		a.mu.Unlock()
		select {
		case <-a.done: // stopped while accepting: the closing loop may have missed it
			c.Close()
		default:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				a.mu.Lock()
				delete(a.conns, c)
				a.mu.Unlock()
				c.Close()
			}()
			cred, err := peerCred(c)
			if err == nil {
				err = checkPeer(cred, a.uid)
			}
			if err != nil {
				a.log.Warn("agent: connection refused", "err", err)
				return
			}
			a.handle(c)
		}()
	}
}

// handle answers the requests of one connection, one JSON line each.
func (a *keyAgent) handle(c net.Conn) {
	r := bufio.NewReader(c)
	enc := json.NewEncoder(c)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return
		}
		var req agentRequest
		resp := agentResponse{}
		if err := json.Unmarshal(line, &req); err != nil {
			resp.Error = "malformed request"
		} else {
			resp = a.answer(req)
		}
		clear(line)
		clear(req.Passphrase)
		if err := enc.Encode(resp); err != nil {
			return
		}
		if req.Op == "stop" {
			a.lock()
			a.stop()
			return
		}
	}
}

func (a *keyAgent) answer(req agentRequest) agentResponse {
	k := agentKey{req.Wallet, req.Label}
	switch req.Op {
	case "identity":
		a.touch()
		id, err := a.current(k)
		if err != nil {
			return agentResponse{Error: err.Error()}
		}
		if id == nil {
			return agentResponse{Error: "identity is locked", Code: agentCodeLocked}
		}
		return agentResponse{MSPID: id.MSPID(), Cert: string(id.CertificatePEM())}
	case "unlock":
		a.touch()
		f, err := walletFile(req.Wallet, req.Label)
		if err != nil {
			return agentResponse{Error: err.Error()}
		}
		id, err := unlockIdentity(f, req.Passphrase)
		if errors.Is(err, wallet.ErrWrongPassphrase) {
			return agentResponse{Error: err.Error(), Code: agentCodeWrongPassphrase}
		}
		if err != nil {
			return agentResponse{Error: err.Error()}
		}
		a.mu.Lock()
		if old := a.keys[k]; old != nil {
			old.Wipe()
		}
		a.keys[k] = id
		a.mu.Unlock()
		return agentResponse{MSPID: id.MSPID(), Cert: string(id.CertificatePEM())}
	case "sign":
		a.touch()
		a.mu.Lock()
		id := a.keys[k]
		var sig []byte
		var err error
		if id != nil {
			// Under the lock, so `lock` cannot wipe the key mid-signature.
			sig, err = id.Sign(req.Digest)
		}
		a.mu.Unlock()
		if id == nil {
			return agentResponse{Error: "identity is locked", Code: agentCodeLocked}
		}
		if err != nil {
			return agentResponse{Error: err.Error()}
		}
		return agentResponse{Signature: sig}
	case "lock":
		a.lock()
		return agentResponse{}
	case "stop":
		return agentResponse{}
	case "status":
		a.mu.Lock()
		defer a.mu.Unlock()
		var ids []string
		for k := range a.keys {
			ids = append(ids, k.label+" ("+k.wallet+")")
		}
		slices.Sort(ids)
		left := a.idle - time.Since(a.last)
		return agentResponse{Identities: ids, PID: os.Getpid(), Idle: left.Round(time.Second).String()}
	}
	return agentResponse{Error: fmt.Sprintf("unknown operation %q", req.Op)}
}

// current returns the held identity for k, or nil. An identity whose wallet file now holds
// another certificate (replaced, or removed) is forgotten.
func (a *keyAgent) current(k agentKey) (*wallet.Identity, error) {
	a.mu.Lock()
	id := a.keys[k]
	a.mu.Unlock()
	if id == nil {
		return nil, nil
	}
	f, err := walletFile(k.wallet, k.label)
	if err != nil || f.Certificate != string(id.CertificatePEM()) {
		a.mu.Lock()
		if a.keys[k] == id {
			id.Wipe()
			delete(a.keys, k)
		}
		a.mu.Unlock()
		return nil, nil
	}
	return id, nil
}

// walletFile reads and parses (without decrypting) the identity file of label in dir.
func walletFile(dir, label string) (*wallet.File, error) {
	w, err := wallet.Open(dir)
	if err != nil {
		return nil, err
	}
	return w.File(label)
}

// agentSocketPath is where the user's agent listens: CARELEDGER_AGENT_SOCK, else
// careledger-agent-<uid>/agent.sock under XDG_RUNTIME_DIR or the temporary directory.
func agentSocketPath() string {
	if p := os.Getenv("CARELEDGER_AGENT_SOCK"); p != "" {
		return p
	}
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, fmt.Sprintf("careledger-agent-%d", os.Getuid()), "agent.sock")
}

// privateDir makes sure dir exists as a directory of mode 0700 owned by this user, and
// refuses one that another user owns (whoever owns the directory can swap the socket).
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("agent directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("agent directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("agent directory %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("agent directory %s belongs to another user", dir)
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("agent directory: %w", err)
		}
	}
	return nil
}

// listenAgent claims the agent's socket: one agent per socket (a lock file beside it), a
// stale socket from a dead agent removed.
func listenAgent(path string) (*net.UnixListener, func(), error) {
	dir := filepath.Dir(path)
	if err := privateDir(dir); err != nil {
		return nil, nil, err
	}
	fl := flock.New(path+".lock", flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, nil, fmt.Errorf("agent lock: %w", err)
	}
	if !ok {
		return nil, nil, errAgentRunning
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		fl.Unlock()
		return nil, nil, fmt.Errorf("remove stale agent socket: %w", err)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		fl.Unlock()
		return nil, nil, fmt.Errorf("agent listen: %w", err)
	}
	ln.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		fl.Unlock()
		return nil, nil, err
	}
	return ln, func() { ln.Close(); fl.Unlock() }, nil
}

var errAgentRunning = errors.New("an agent is already running on this socket")

// agentConn is a command's connection to the agent.
type agentConn struct {
	mu  sync.Mutex
	c   net.Conn
	r   *bufio.Reader
	enc *json.Encoder
}

// dialAgent connects to the agent at path, refusing a socket that is not the user's own.
func dialAgent(path string) (*agentConn, error) {
	fi, err := os.Lstat(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || !fi.IsDir() || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("agent directory %s is not private to this user", filepath.Dir(path))
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil, err
	}
	cred, err := peerCred(c.(*net.UnixConn))
	if err == nil {
		err = checkPeer(cred, os.Getuid())
	}
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("agent at %s: %w", path, err)
	}
	return &agentConn{c: c, r: bufio.NewReader(c), enc: json.NewEncoder(c)}, nil
}

// call sends one request and reads its answer; an answer with an error becomes *agentError.
func (a *agentConn) call(req agentRequest) (*agentResponse, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.c.SetDeadline(time.Now().Add(30 * time.Second))
	err := a.enc.Encode(req)
	clear(req.Passphrase)
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	line, err := a.r.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	var resp agentResponse
	if err := json.Unmarshal(line, &resp); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if resp.Error != "" {
		return nil, &agentError{code: resp.Code, msg: resp.Error}
	}
	return &resp, nil
}

func (a *agentConn) Close() error { return a.c.Close() }

// agentError is an error the agent answered with.
type agentError struct{ code, msg string }

func (e *agentError) Error() string { return "agent: " + e.msg }

func agentCode(err error) string {
	var ae *agentError
	if errors.As(err, &ae) {
		return ae.code
	}
	return ""
}

// agentSigner signs through the agent; the key stays there.
type agentSigner struct {
	conn          *agentConn
	wallet, label string
	pub           any
}

func (s *agentSigner) Public() crypto.PublicKey { return s.pub }

func (s *agentSigner) Sign(_ io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	resp, err := s.conn.call(agentRequest{Op: "sign", Wallet: s.wallet, Label: s.label, Digest: digest})
	if err != nil {
		return nil, err
	}
	return resp.Signature, nil
}
