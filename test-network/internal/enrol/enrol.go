// Package enrol registers and enrols every identity of the test network with the running
// organisation CAs and writes them in the fabric-samples MSP layout: node MSPs and TLS
// certificates for peers, orderers and chaincode servers, and client identities carrying the
// CareLedger role as an ecert attribute (patients under random enrollment IDs).
//
// It talks to fabric-ca-server's REST API through wallet/fabricca, the same client the
// product uses, so the network needs no fabric-ca-client binary. Keys are generated here and
// never leave this machine.
package enrol

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/fabricca"
)

// registrarID is the bootstrap identity every CA is started with (its secret is generated
// per build by the render step).
const registrarID = "admin"

// ErrNotReady means a CA's home has no certificate yet: the CA was never started.
var ErrNotReady = errors.New("ca not started")

// nodeOUConfig makes the MSP classify identities by the OU Fabric CA writes from the
// identity type, so "admin", "peer", "orderer" and "client" need no admincerts folder.
const nodeOUConfig = `NodeOUs:
  Enable: true
  ClientOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: client
  PeerOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: peer
  AdminOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: admin
  OrdererOUIdentifier:
    Certificate: cacerts/ca.pem
    OrganizationalUnitIdentifier: orderer
`

// Enroller writes the crypto material of one network into its build directory.
type Enroller struct {
	net topology.Network
	dir string
	log *slog.Logger
}

// New returns an Enroller for net writing below the build directory dir. log may be nil.
func New(net topology.Network, dir string, log *slog.Logger) *Enroller {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Enroller{net: net, dir: dir, log: log}
}

// Run enrols whatever is missing. Identities whose msp folder exists are kept, so it can be
// re-run; an interrupted run whose identity was registered but not written needs a fresh
// network (network.sh clean).
func (e *Enroller) Run(ctx context.Context) error {
	oo := e.net.Orderer
	ca, err := e.connect(ctx, oo.CA, oo.MSPID)
	if err != nil {
		return err
	}
	orgDir := topology.OrdererOrgDir(oo)
	if err := ca.orgMSP(path.Join(orgDir, "msp")); err != nil {
		return err
	}
	for _, n := range oo.Nodes {
		if err := ca.node(ctx, topology.OrdererDir(oo, n), oo.Name+"-"+n.Name, "orderer", n.Host); err != nil {
			return err
		}
	}
	admin := topology.OrdererAdmin
	if err := ca.user(ctx, topology.OrdererAdminMSPDir(oo), oo.Name+"-"+admin.Label, admin); err != nil {
		return err
	}
	for _, o := range e.net.Orgs {
		ca, err := e.connect(ctx, o.CA, o.MSPID)
		if err != nil {
			return err
		}
		if err := ca.orgMSP(path.Join(topology.OrgDir(o), "msp")); err != nil {
			return err
		}
		for _, p := range o.Peers {
			if err := ca.node(ctx, topology.PeerDir(o, p), o.Name+"-"+p.Name, "peer", p.Host); err != nil {
				return err
			}
		}
		if o.CCServer != nil {
			if err := ca.tlsOnly(ctx, topology.CCServerDir(o), o.Name+"-ccaas", o.CCServer.Host); err != nil {
				return err
			}
		}
		for _, u := range o.Users {
			if err := ca.user(ctx, topology.UserMSPDir(o, u), u.EnrollmentID(o), u); err != nil {
				return err
			}
		}
	}
	return nil
}

// orgCA is a connection to one organisation's CA, enrolled as its registrar.
type orgCA struct {
	e         *Enroller
	ca        topology.CA
	mspID     string
	client    *fabricca.Client
	hc        *http.Client
	registrar *wallet.Identity
	caPEM     []byte
}

// readyTimeout bounds the wait for a CA that was just started: its port can be open (a
// published container port) before it answers.
const readyTimeout = 60 * time.Second

func (e *Enroller) connect(ctx context.Context, ca topology.CA, mspID string) (*orgCA, error) {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var caPEM []byte
	for {
		var err error
		caPEM, err = os.ReadFile(e.abs(topology.CACert(ca)))
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("enrol with %s: %w", ca.Name, err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, fmt.Errorf("enrol with %s: %w: %s missing", ca.Name, ErrNotReady, topology.CACert(ca))
		}
	}
	secret, err := os.ReadFile(e.abs(topology.CASecret(ca)))
	if err != nil {
		return nil, fmt.Errorf("enrol with %s: bootstrap secret: %w", ca.Name, err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("enrol with %s: %s holds no certificate", ca.Name, topology.CACert(ca))
	}
	hc := &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
	}
	client, err := fabricca.New(ca.URL(), mspID, fabricca.WithHTTPClient(hc), fabricca.WithCAName(ca.Name))
	if err != nil {
		return nil, fmt.Errorf("enrol with %s: %w", ca.Name, err)
	}
	for {
		_, err := client.Info(ctx)
		if err == nil {
			break
		}
		if serr := sleep(ctx, 500*time.Millisecond); serr != nil {
			return nil, fmt.Errorf("enrol with %s: %w: %w", ca.Name, ErrNotReady, err)
		}
	}
	reg, err := client.Enroll(ctx, registrarID, strings.TrimSpace(string(secret)), fabricca.EnrollOptions{})
	if err != nil {
		return nil, fmt.Errorf("enrol with %s: registrar: %w", ca.Name, err)
	}
	e.log.Info("connected to CA", "ca", ca.Name, "url", ca.URL())
	return &orgCA{e: e, ca: ca, mspID: mspID, client: client, hc: hc, registrar: reg, caPEM: caPEM}, nil
}

func (e *Enroller) abs(rel string) string { return filepath.Join(e.dir, filepath.FromSlash(rel)) }

func (e *Enroller) exists(rel string) bool {
	_, err := os.Stat(e.abs(rel))
	return err == nil
}

func (e *Enroller) writeFile(rel string, data []byte, perm os.FileMode) error {
	p := e.abs(rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := os.WriteFile(p, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	return nil
}

// orgMSP writes the organisation's verifying MSP: CA and TLS CA certificates and NodeOUs.
func (c *orgCA) orgMSP(dir string) error {
	for _, f := range []struct {
		rel  string
		data []byte
	}{
		{path.Join(dir, "cacerts", "ca.pem"), c.caPEM},
		{path.Join(dir, "tlscacerts", "ca.pem"), c.caPEM},
		{path.Join(dir, "config.yaml"), []byte(nodeOUConfig)},
	} {
		if err := c.e.writeFile(f.rel, f.data, 0o644); err != nil {
			return fmt.Errorf("organisation msp of %s: %w", c.mspID, err)
		}
	}
	return nil
}

// node enrols a peer or orderer: its signing identity in msp/ and its TLS certificate for
// host (and loopback, for native mode and for tools on the host) in tls/.
func (c *orgCA) node(ctx context.Context, dir, id, typ, host string) error {
	msp := path.Join(dir, "msp")
	if c.e.exists(path.Join(msp, "signcerts", "cert.pem")) {
		return nil
	}
	secret, err := c.registerNode(ctx, id, typ)
	if err != nil {
		return err
	}
	sign, err := c.client.Enroll(ctx, id, secret, fabricca.EnrollOptions{})
	if err != nil {
		return fmt.Errorf("enrol %s: %w", id, err)
	}
	if err := c.writeTLS(ctx, path.Join(dir, "tls"), id, secret, host); err != nil {
		return err
	}
	if err := c.writeMSP(msp, sign); err != nil {
		return err
	}
	c.e.log.Info("enrolled node", "id", id, "type", typ)
	return nil
}

// tlsOnly enrols a TLS server certificate for a service that signs nothing on the ledger
// (the chaincode server).
func (c *orgCA) tlsOnly(ctx context.Context, dir, id, host string) error {
	tlsDir := path.Join(dir, "tls")
	if c.e.exists(path.Join(tlsDir, "server.crt")) {
		return nil
	}
	secret, err := c.registerNode(ctx, id, "client")
	if err != nil {
		return err
	}
	if err := c.writeTLS(ctx, tlsDir, id, secret, host); err != nil {
		return err
	}
	c.e.log.Info("enrolled TLS server", "id", id)
	return nil
}

func (c *orgCA) writeTLS(ctx context.Context, dir, id, secret, host string) error {
	t, err := c.client.Enroll(ctx, id, secret, fabricca.EnrollOptions{
		Profile: "tls", Hosts: []string{host, "localhost", topology.Loopback},
	})
	if err != nil {
		return fmt.Errorf("enrol tls %s: %w", id, err)
	}
	tmp, err := os.MkdirTemp(c.e.dir, ".tls-*")
	if err != nil {
		return fmt.Errorf("enrol tls %s: %w", id, err)
	}
	defer os.RemoveAll(tmp)
	if err := wallet.ExportMSP(t, tmp); err != nil {
		return fmt.Errorf("enrol tls %s: %w", id, err)
	}
	keys, err := filepath.Glob(filepath.Join(tmp, "keystore", "*_sk"))
	if err != nil || len(keys) != 1 {
		return fmt.Errorf("enrol tls %s: exported key not found", id)
	}
	key, err := os.ReadFile(keys[0])
	if err != nil {
		return fmt.Errorf("enrol tls %s: %w", id, err)
	}
	for _, f := range []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{"ca.crt", c.caPEM, 0o644},
		{"server.crt", t.CertificatePEM(), 0o644},
		{"server.key", key, 0o600},
	} {
		if err := c.e.writeFile(path.Join(dir, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("enrol tls %s: %w", id, err)
		}
	}
	return nil
}

// user registers and enrols a client or admin identity with its CareLedger role.
func (c *orgCA) user(ctx context.Context, msp, id string, u topology.User) error {
	if c.e.exists(path.Join(msp, "signcerts", "cert.pem")) {
		return c.checkType(msp, u)
	}
	reg := fabricca.Registration{Role: u.Role, Type: u.Type}
	var secret string
	var err error
	if u.Pseudonymous {
		id, secret, err = c.client.RegisterPatient(ctx, c.registrar, reg)
	} else {
		reg.ID = id
		secret, err = c.client.Register(ctx, c.registrar, reg)
	}
	if err != nil {
		return fmt.Errorf("register %s (%s): %w", u.Label, c.mspID, err)
	}
	ident, err := c.client.Enroll(ctx, id, secret, fabricca.EnrollOptions{})
	if err != nil {
		return fmt.Errorf("enrol %s (%s): %w", u.Label, c.mspID, err)
	}
	if ident.Role() != u.Role {
		return fmt.Errorf("enrol %s (%s): certificate has role %q, want %q", u.Label, c.mspID, ident.Role(), u.Role)
	}
	if err := c.writeMSP(msp, ident); err != nil {
		return err
	}
	// The label, not the pseudonym, goes to the log: enrollment IDs of patients are personal.
	c.e.log.Info("enrolled user", "label", u.Label, "msp", c.mspID, "role", u.Role)
	return nil
}

// checkType refuses an identity enrolled earlier with another identity type than the
// topology now asks for: a gateway enrolled as a client before streams were guarded would be
// refused its events, and the CA will not register the same ID again.
func (c *orgCA) checkType(msp string, u topology.User) error {
	raw, err := os.ReadFile(c.e.abs(path.Join(msp, "signcerts", "cert.pem")))
	if err != nil {
		return fmt.Errorf("check %s (%s): %w", u.Label, c.mspID, err)
	}
	blk, _ := pem.Decode(raw)
	if blk == nil {
		return fmt.Errorf("check %s (%s): signcerts/cert.pem is not PEM", u.Label, c.mspID)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return fmt.Errorf("check %s (%s): %w", u.Label, c.mspID, err)
	}
	if u.Type != "" && !slices.Contains(cert.Subject.OrganizationalUnit, u.Type) {
		return fmt.Errorf("%s (%s) was enrolled with node OU %v, but is now a %s: run `network.sh clean` and `network.sh up` to enrol the network afresh",
			u.Label, c.mspID, cert.Subject.OrganizationalUnit, u.Type)
	}
	return nil
}

// writeMSP exports id into dir and completes the folder for Fabric: tlscacerts and NodeOUs.
func (c *orgCA) writeMSP(dir string, id *wallet.Identity) error {
	if err := wallet.ExportMSP(id, c.e.abs(dir)); err != nil {
		return fmt.Errorf("write msp %s: %w", dir, err)
	}
	if err := c.e.writeFile(path.Join(dir, "tlscacerts", "ca.pem"), c.caPEM, 0o644); err != nil {
		return err
	}
	return c.e.writeFile(path.Join(dir, "config.yaml"), []byte(nodeOUConfig), 0o644)
}

// registerNode registers a peer, orderer or service identity. They carry no CareLedger role,
// which fabricca.Register insists on, so the request is made here with the same token.
func (c *orgCA) registerNode(ctx context.Context, id, typ string) (string, error) {
	var raw [18]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	secret := hex.EncodeToString(raw[:])
	body, err := json.Marshal(map[string]any{
		"id": id, "type": typ, "secret": secret, "affiliation": "", "caname": c.ca.Name,
	})
	if err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	const uri = "/api/v1/register"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.ca.URL()+uri, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	tok, err := fabricca.Token(c.registrar, http.MethodPost, uri, body)
	if err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	req.Header.Set("Authorization", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("register %s: %w", id, err)
	}
	var r struct {
		Success bool `json:"success"`
		Errors  []struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(out, &r); err != nil || !r.Success {
		return "", fmt.Errorf("register %s: ca answered %d: %s", id, resp.StatusCode, strings.TrimSpace(string(out[:min(len(out), 512)])))
	}
	return secret, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
