package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/events"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11"
	"github.com/careledger/careledger/wallet/recordkey/vaulttransit"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
)

// stackConfig says how to run the stack.
type stackConfig struct {
	DataDir        string
	LedgerAddr     string
	DecisionTTL    time.Duration
	KeyPassphrase  []byte // local key store; generated on first start when empty
	WalletPassword []byte // demo identities' wallet
	// Vault, when set, keeps patients' keys in Vault Transit instead of the local key store.
	Vault *vaulttransit.Options
	// PKCS11, when set, keeps patients' keys on a PKCS#11 token instead.
	PKCS11 *pkcs11.Config
	// S3, when set, keeps ciphertexts in S3-compatible object storage instead of on disk.
	S3 *blob.S3Config
	// Fabric, when set, runs against that Fabric network (a test-network connection file)
	// instead of the embedded ledger node.
	Fabric *connprofile.Profile
	Logger *slog.Logger
	// HTTPLimits bound slow and idle clients of the API's HTTP server.
	HTTPLimits api.ServerLimits
	// Progress is told each step as it starts.
	Progress func(step string)
}

// stack is everything `careledger up` runs in one process.
type stack struct {
	cfg     stackConfig
	node    *network.Node // nil when running against a Fabric network
	conn    *ledger.Conn  // to the embedded node, or to the operator's peer
	users   userSource
	log     *slog.Logger
	apiAddr string // where the API listens, once serveAPI ran
	// ledgerDesc says which ledger the stack runs on, for people.
	ledgerDesc string
	channel    string
	chaincode  string
	operator   string // MSP ID whose gateway follows events
	keys       recordkey.KeyService
	// keysDesc says who holds patients' keys, for people; devKeys is set when the local key
	// store's passphrase sits in a file next to the keys.
	keysDesc string
	devKeys  bool
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
	"role policy", "organisation CA certificates", "demo wallets", "audit and events",
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
	s.log = log
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}

	s.step("crypto material")
	var ncfg network.Config
	if cfg.Fabric == nil {
		cc, err := contract.NewChaincode()
		if err != nil {
			return nil, err
		}
		ncfg = network.Config{Dir: filepath.Join(cfg.DataDir, "network"), ListenAddr: cfg.LedgerAddr, Chaincode: cc}
		if s.node, err = network.New(ncfg, network.WithLogger(log.With("component", "ledger"))); err != nil {
			return nil, fmt.Errorf("ledger node: %w", err)
		}
		s.closers = append(s.closers, s.node.Close)
		if err := s.moveMemberKeys(ncfg); err != nil {
			return nil, err
		}
	}

	s.step("key store")
	custodian := custodianLocal
	switch {
	case cfg.Vault != nil && cfg.PKCS11 != nil:
		return nil, errors.New("choose one custodian for patients' keys: Vault or PKCS#11, not both")
	case cfg.Vault != nil:
		custodian = custodianVault
	case cfg.PKCS11 != nil:
		custodian = custodianPKCS11
	}
	if err := checkCustodian(cfg.DataDir, custodian); err != nil {
		return nil, err
	}
	switch {
	case cfg.Vault != nil:
		if s.keys, err = vaulttransit.New(ctx, *cfg.Vault); err != nil {
			return nil, fmt.Errorf("vault transit key service: %w", err)
		}
		s.keysDesc = "Vault Transit at " + cfg.Vault.Address
	case cfg.PKCS11 != nil:
		hsm, err := pkcs11.New(ctx, *cfg.PKCS11)
		if err != nil {
			return nil, err
		}
		s.keys = hsm
		s.closers = append(s.closers, hsm.Close)
		s.keysDesc = fmt.Sprintf("PKCS#11 token %q (%s)", cfg.PKCS11.TokenLabel, cfg.PKCS11.Module)
	default:
		pass := cfg.KeyPassphrase
		if len(pass) == 0 {
			if pass, err = localSecret(filepath.Join(cfg.DataDir, "keystore.passphrase")); err != nil {
				return nil, err
			}
			s.devKeys = true
		}
		local, err := recordkey.OpenLocal(filepath.Join(cfg.DataDir, "keys"), pass)
		if err != nil {
			return nil, err
		}
		s.keys = local
		s.closers = append(s.closers, local.Close)
		s.keysDesc = "local key store " + filepath.Join(cfg.DataDir, "keys")
	}
	if err := recordCustodian(cfg.DataDir, custodian); err != nil {
		return nil, err
	}

	s.step("record store")
	if cfg.S3 != nil {
		if s.blobs, err = blob.NewS3(ctx, *cfg.S3); err != nil {
			return nil, err
		}
	} else if s.blobs, err = blob.NewDisk(filepath.Join(cfg.DataDir, "records")); err != nil {
		return nil, err
	}

	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.step("ledger node")
	var users userSource
	if cfg.Fabric == nil {
		users, err = s.startEmbedded(runCtx, ncfg)
	} else {
		users, err = s.connectFabric(cfg.Fabric)
	}
	if err != nil {
		return nil, err
	}
	s.users = users

	s.step("gateway identities")
	for _, msp := range users.orgs() {
		u, err := loadUser(users, msp, model.RoleGateway)
		if errors.Is(err, errNoSuchUser) {
			continue // a client-only organisation without a gateway identity
		}
		if err != nil {
			return nil, fmt.Errorf("load %s gateway identity: %w", msp, err)
		}
		if s.gateways[msp], err = s.clientFor(msp, u.CertificatePEM(), u.Sign); err != nil {
			return nil, err
		}
	}
	if s.gateways[s.operator] == nil {
		return nil, fmt.Errorf("no gateway identity for the operator %s", s.operator)
	}

	s.step("role policy")
	if err := s.ensureRolePolicy(ctx, users); err != nil {
		return nil, err
	}
	if err := s.ensureDemoBudgets(ctx, users); err != nil {
		return nil, err
	}

	s.step("organisation CA certificates")
	if err := s.ensureOrgCACertificates(ctx, users); err != nil {
		return nil, err
	}

	s.step("demo wallets")
	if err := s.ensureDemoWallet(users); err != nil {
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
	// Streamed uploads are sealed into the spool before the record store takes them: on the
	// data disk rather than in a temporary directory that may be memory (tmpfs). What a
	// crash left there is ciphertext no ledger entry names.
	spool := filepath.Join(cfg.DataDir, "spool")
	if err := os.RemoveAll(spool); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return nil, err
	}
	if s.svc, err = gateway.New(gateway.Config{Blobs: s.blobs, Keys: s.keys, Audit: s.queue, Flusher: s.flusher, DecisionTTL: cfg.DecisionTTL, SpoolDir: spool, Logger: log.With("component", "gateway")}); err != nil {
		return nil, err
	}
	if s.listener, err = events.NewListener(s.gateways[s.operator].Network(), s.chaincode, filepath.Join(cfg.DataDir, "events.checkpoint"), log.With("component", "events")); err != nil {
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

// clientFor returns a ledger client signing with sign as the identity in certPEM.
func (s *stack) clientFor(mspID string, certPEM []byte, sign identity.Sign) (*ledger.Client, error) {
	id, err := ledger.NewIdentity(mspID, certPEM, sign)
	if err != nil {
		return nil, err
	}
	return s.conn.As(id)
}

// ensureRolePolicy sets, on first start, which organisation may issue which role: patients and
// the anonymiser come from the operator, clinicians from the other care organisations,
// manufacturers from the client-only organisations; every organisation has admins and gateways.
func (s *stack) ensureRolePolicy(ctx context.Context, users userSource) error {
	admin, err := loadUser(users, s.operator, model.RoleAdmin)
	if err != nil {
		return fmt.Errorf("load operator admin: %w", err)
	}
	c, err := s.clientFor(s.operator, admin.CertificatePEM(), admin.Sign)
	if err != nil {
		return err
	}
	if _, err := c.GetRolePolicy(ctx); err == nil {
		return nil
	} else if !errors.Is(err, &model.Error{Code: model.CodeNotFound}) {
		return fmt.Errorf("read role policy: %w", err)
	}
	var all, care, clients []string
	for _, msp := range users.orgs() {
		all = append(all, msp)
		switch {
		case !users.hasPeer(msp):
			clients = append(clients, msp)
		case msp != s.operator:
			care = append(care, msp)
		}
	}
	rules := []model.RoleRule{
		{Role: model.RolePatient, MSPs: []string{s.operator}},
		{Role: model.RoleClinician, MSPs: care},
		{Role: model.RoleManufacturer, MSPs: clients},
		{Role: model.RoleAnonymizer, MSPs: []string{s.operator}},
		{Role: model.RoleAdmin, MSPs: all},
		{Role: model.RoleGateway, MSPs: all},
	}
	rules = slices.DeleteFunc(rules, func(r model.RoleRule) bool { return len(r.MSPs) == 0 })
	if _, err := c.SetRolePolicy(ctx, model.RolePolicy{Rules: rules}); err != nil {
		return fmt.Errorf("set role policy: %w", err)
	}
	return nil
}

// ensureOrgCACertificates puts each organisation's CA certificates on the ledger where they
// are missing (on first start, and on a data directory from before the ledger kept them),
// each signed by the organisation's own admin: until they are there, no gateway may act for
// the organisation's members.
func (s *stack) ensureOrgCACertificates(ctx context.Context, users userSource) error {
	for _, msp := range users.orgs() {
		admin, err := loadUser(users, msp, model.RoleAdmin)
		if errors.Is(err, errNoSuchUser) {
			s.log.Warn("no admin identity to put the organisation's CA certificates on the ledger: its gateway cannot act for its members", "msp", msp)
			continue
		}
		if err != nil {
			return fmt.Errorf("load %s admin: %w", msp, err)
		}
		if err := s.setOrgCACertificates(ctx, msp, admin, users); err != nil {
			return err
		}
	}
	return nil
}

func (s *stack) setOrgCACertificates(ctx context.Context, msp string, admin *wallet.Identity, users userSource) error {
	c, err := s.clientFor(msp, admin.CertificatePEM(), admin.Sign)
	if err != nil {
		return err
	}
	if _, err := c.GetOrgCACertificates(ctx, msp); err == nil {
		return nil
	} else if !errors.Is(err, &model.Error{Code: model.CodeNotFound}) {
		return fmt.Errorf("read %s CA certificates: %w", msp, err)
	}
	dir, err := users.mspDir(msp, model.RoleAdmin)
	if err != nil {
		return err
	}
	var certs model.CACertificates
	for _, list := range []struct {
		sub  string
		into *[]string
	}{{"cacerts", &certs.Roots}, {"intermediatecerts", &certs.Intermediates}} {
		found, err := mspCerts(msp, dir, list.sub)
		if err != nil {
			return err
		}
		for _, cert := range found {
			*list.into = append(*list.into, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})))
		}
	}
	if _, err := c.SetOrgCACertificates(ctx, certs); err != nil {
		return fmt.Errorf("set %s CA certificates: %w", msp, err)
	}
	return nil
}

// moveMemberKeys moves the member keys an earlier release left in clear in the node's
// material into the demo wallet, once.
func (s *stack) moveMemberKeys(ncfg network.Config) error {
	w, err := wallet.Open(filepath.Join(s.cfg.DataDir, "wallet"))
	if err != nil {
		return err
	}
	moved, err := migrateMemberKeys(ncfg.Dir, s.node.Config().Consortium, w, s.cfg.WalletPassword)
	if moved > 0 {
		s.log.Warn("moved the member keys an earlier release kept in clear in the node's material into the wallet, encrypted with the wallet passphrase, and deleted the plaintext files; members' keys are no longer kept by the node. Copies made while they were in clear stay valid: if the data directory was ever copied or shared, re-enrol those members and revoke their old certificates",
			"keys", moved, "wallet", filepath.Join(s.cfg.DataDir, "wallet"))
	}
	if err != nil {
		s.log.Error("some member keys are still in clear in the node's material: move them into a wallet and delete them", "err", err)
	}
	return nil
}

// demoMembers are the roles whose demo identities are members: on the embedded ledger, their
// keys are created in the wallet and enrolled by CSR; the others are the operator's service
// identities, copied from the node's material.
var demoMembers = []model.Role{model.RolePatient, model.RoleClinician, model.RoleManufacturer}

// demoRoles are the identities `up` puts in the demo wallet, labelled by role.
var demoRoles = []model.Role{model.RolePatient, model.RoleClinician, model.RoleManufacturer, model.RoleAnonymizer, model.RoleAdmin}

// ensureDemoWallet puts one identity per role into the encrypted wallet, once.
func (s *stack) ensureDemoWallet(users userSource) error {
	w, err := wallet.Open(filepath.Join(s.cfg.DataDir, "wallet"))
	if err != nil {
		return err
	}
	s.wallet = w
	have, err := w.List()
	if err != nil {
		return err
	}
	for _, role := range demoRoles {
		if slices.Contains(have, string(role)) {
			continue
		}
		msp := users.demoOrg(role, s.operator)
		if msp == "" {
			continue
		}
		var id *wallet.Identity
		if e, ok := users.(embeddedUsers); ok && slices.Contains(demoMembers, role) {
			org, _ := e.cons.Org(msp)
			id, err = enrolByCSR(e.dir, org, network.UserSpec{Name: freeUserName(e.dir, org, string(role)), Role: string(role)})
			if err != nil {
				return fmt.Errorf("enrol demo %s: %w", role, err)
			}
		} else if id, err = loadUser(users, msp, role); errors.Is(err, errNoSuchUser) {
			continue
		} else if err != nil {
			return fmt.Errorf("load demo %s: %w", role, err)
		}
		if err := w.Put(string(role), id, s.cfg.WalletPassword); err != nil {
			return fmt.Errorf("store demo %s: %w", role, err)
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
