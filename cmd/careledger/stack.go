package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/events"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/vaulttransit"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
)

// stackConfig says how to run the embedded stack.
type stackConfig struct {
	DataDir        string
	LedgerAddr     string
	DecisionTTL    time.Duration
	KeyPassphrase  []byte // local key store; generated on first start when empty
	WalletPassword []byte // demo identities' wallet
	// Vault, when set, keeps patients' keys in Vault Transit instead of the local key store.
	Vault *vaulttransit.Options
	// S3, when set, keeps ciphertexts in S3-compatible object storage instead of on disk.
	S3     *blob.S3Config
	Logger *slog.Logger
	// Progress is told each step as it starts.
	Progress func(step string)
}

// stack is everything `careledger up` runs in one process.
type stack struct {
	cfg      stackConfig
	node     *network.Node
	conn     *ledger.Conn
	keys     recordkey.KeyService
	blobs    blob.Store
	queue    *audit.Queue
	flusher  *audit.Flusher
	listener *events.Listener
	svc      *gateway.Service
	wallet   *wallet.Wallet
	// gateways holds each organisation's policy-enforcement identity, by MSP ID.
	gateways map[string]*ledger.Client
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closers  []func() error
}

// The steps `up` shows while starting.
var startSteps = []string{
	"crypto material", "key store", "record store", "ledger node", "gateway identities",
	"role policy", "demo wallets", "audit and events",
}

func (s *stack) step(name string) {
	if s.cfg.Progress != nil {
		s.cfg.Progress(name)
	}
}

// startStack starts the embedded stack on cfg.DataDir, creating what is missing on first start
// and reusing everything on later ones.
func startStack(ctx context.Context, cfg stackConfig) (_ *stack, err error) {
	s := &stack{cfg: cfg, gateways: map[string]*ledger.Client{}}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}

	s.step("crypto material")
	cc, err := contract.NewChaincode()
	if err != nil {
		return nil, err
	}
	ncfg := network.Config{Dir: filepath.Join(cfg.DataDir, "network"), ListenAddr: cfg.LedgerAddr, Chaincode: cc}
	if s.node, err = network.New(ncfg, network.WithLogger(log.With("component", "ledger"))); err != nil {
		return nil, fmt.Errorf("ledger node: %w", err)
	}
	s.closers = append(s.closers, s.node.Close)

	s.step("key store")
	if cfg.Vault != nil {
		if s.keys, err = vaulttransit.New(ctx, *cfg.Vault); err != nil {
			return nil, fmt.Errorf("vault transit key service: %w", err)
		}
	} else {
		pass := cfg.KeyPassphrase
		if len(pass) == 0 {
			if pass, err = localSecret(filepath.Join(cfg.DataDir, "keystore.passphrase")); err != nil {
				return nil, err
			}
		}
		local, err := recordkey.OpenLocal(filepath.Join(cfg.DataDir, "keys"), pass)
		if err != nil {
			return nil, err
		}
		s.keys = local
		s.closers = append(s.closers, local.Close)
	}

	s.step("record store")
	if cfg.S3 != nil {
		if s.blobs, err = blob.NewS3(ctx, *cfg.S3); err != nil {
			return nil, err
		}
	} else if s.blobs, err = blob.NewDisk(filepath.Join(cfg.DataDir, "records")); err != nil {
		return nil, err
	}

	s.step("ledger node")
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.node.Start(runCtx); err != nil {
		return nil, fmt.Errorf("start ledger node: %w", err)
	}
	cons := s.node.Config().Consortium
	if s.conn, err = ledger.Dial(ledger.Endpoint{Address: s.node.Addr(), TLSCACertPEM: s.node.TLSCACertPEM(), ServerNameOverride: s.node.ServerName()}, cons.Channel, cons.Chaincode, ledger.Timeouts{}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.conn.Close)

	s.step("gateway identities")
	for _, org := range cons.Orgs {
		u, err := network.LoadUser(ncfg.Dir, org, "gateway")
		if errors.Is(err, os.ErrNotExist) {
			continue // a client-only organisation without a gateway identity
		}
		if err != nil {
			return nil, fmt.Errorf("load %s gateway identity: %w", org.MSPID, err)
		}
		if s.gateways[org.MSPID], err = s.clientFor(u); err != nil {
			return nil, err
		}
	}

	s.step("role policy")
	if err := s.ensureRolePolicy(ctx, ncfg.Dir, cons); err != nil {
		return nil, err
	}

	s.step("demo wallets")
	if err := s.ensureDemoWallet(ncfg.Dir, cons); err != nil {
		return nil, err
	}

	s.step("audit and events")
	if s.queue, err = audit.Open(filepath.Join(cfg.DataDir, "audit.db")); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.queue.Close)
	writers := map[string]audit.Writer{}
	for msp, gw := range s.gateways {
		writers[msp] = gw
	}
	s.flusher = audit.NewFlusher(s.queue, writers, audit.WithLogger(log.With("component", "audit")))
	if s.svc, err = gateway.New(gateway.Config{Blobs: s.blobs, Keys: s.keys, Audit: s.queue, Flusher: s.flusher, DecisionTTL: cfg.DecisionTTL, Logger: log.With("component", "gateway")}); err != nil {
		return nil, err
	}
	operator := s.gateways[cons.Operator().MSPID]
	if s.listener, err = events.NewListener(operator.Network(), cons.Chaincode, filepath.Join(cfg.DataDir, "events.checkpoint"), log.With("component", "events")); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.listener.Close)
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.flusher.Run(runCtx) }()
	go func() {
		defer s.wg.Done()
		s.listener.Run(runCtx, func(_ context.Context, ev *client.ChaincodeEvent) {
			s.svc.HandleEvent(ev.EventName, ev.Payload)
			if ev.EventName == model.EventEmergencyAccess {
				log.Info("emergency access opened: the patient is notified", "tx", ev.TransactionID)
			}
		})
	}()
	return s, nil
}

// Close stops the stack: background work first (the audit queue is flushed once more), then
// the ledger, then the stores.
func (s *stack) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i]())
	}
	s.closers = nil
	return errors.Join(errs...)
}

func (s *stack) clientFor(u *network.User) (*ledger.Client, error) {
	sign, err := identity.NewPrivateKeySign(u.Key)
	if err != nil {
		return nil, err
	}
	id, err := ledger.NewIdentity(u.MSPID, u.CertPEM, sign)
	if err != nil {
		return nil, err
	}
	return s.conn.As(id)
}

// ensureRolePolicy sets, on first start, which organisation may issue which role: patients and
// the anonymiser come from the operator, clinicians from the other care organisations,
// manufacturers from the client-only organisations; every organisation has admins and gateways.
func (s *stack) ensureRolePolicy(ctx context.Context, dir string, cons network.Consortium) error {
	op := cons.Operator()
	admin, err := network.LoadUser(dir, op, "Admin")
	if err != nil {
		return fmt.Errorf("load operator admin: %w", err)
	}
	c, err := s.clientFor(admin)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.GetRolePolicy(ctx); err == nil {
		return nil
	} else if !errors.Is(err, &model.Error{Code: model.CodeNotFound}) {
		return fmt.Errorf("read role policy: %w", err)
	}
	var all, care, clients []string
	for _, o := range cons.Orgs {
		all = append(all, o.MSPID)
		switch {
		case !o.Peer:
			clients = append(clients, o.MSPID)
		case o.MSPID != op.MSPID:
			care = append(care, o.MSPID)
		}
	}
	rules := []model.RoleRule{
		{Role: model.RolePatient, MSPs: []string{op.MSPID}},
		{Role: model.RoleClinician, MSPs: care},
		{Role: model.RoleManufacturer, MSPs: clients},
		{Role: model.RoleAnonymizer, MSPs: []string{op.MSPID}},
		{Role: model.RoleAdmin, MSPs: all},
		{Role: model.RoleGateway, MSPs: all},
	}
	rules = slices.DeleteFunc(rules, func(r model.RoleRule) bool { return len(r.MSPs) == 0 })
	if _, err := c.SetRolePolicy(ctx, model.RolePolicy{Rules: rules}); err != nil {
		return fmt.Errorf("set role policy: %w", err)
	}
	return nil
}

// demoUsers are the identities `up` puts in the demo wallet, by wallet label.
var demoUsers = []struct{ label, msp, name string }{
	{"patient", network.PatientsMSP, "patient1"},
	{"clinician", network.ClinicMSP, "clinician1"},
	{"manufacturer", network.PharmaMSP, "manufacturer1"},
	{"anonymizer", network.PatientsMSP, "anonymizer"},
	{"admin", network.PatientsMSP, "Admin"},
}

// ensureDemoWallet imports the demo users' identities into the encrypted wallet once.
func (s *stack) ensureDemoWallet(dir string, cons network.Consortium) error {
	w, err := wallet.Open(filepath.Join(s.cfg.DataDir, "wallet"))
	if err != nil {
		return err
	}
	s.wallet = w
	have, err := w.List()
	if err != nil {
		return err
	}
	for _, d := range demoUsers {
		if slices.Contains(have, d.label) {
			continue
		}
		org, ok := cons.Org(d.msp)
		if !ok {
			continue
		}
		u, err := network.LoadUser(dir, org, d.name)
		if err != nil {
			return fmt.Errorf("load demo user %s: %w", d.name, err)
		}
		id, err := wallet.ImportMSP(filepath.Join(u.Dir, "msp"), d.msp)
		if err != nil {
			return fmt.Errorf("import demo user %s: %w", d.name, err)
		}
		if err := w.Put(d.label, id, s.cfg.WalletPassword); err != nil {
			return fmt.Errorf("store demo user %s: %w", d.name, err)
		}
	}
	return nil
}

// localSecret returns the secret kept in path, creating a random one (0600) on first use.
func localSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := []byte(hex.EncodeToString(raw))
	if err := os.WriteFile(path, secret, 0o600); err != nil {
		return nil, fmt.Errorf("store key store passphrase: %w", err)
	}
	return secret, nil
}
