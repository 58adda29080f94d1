package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/wallet"
)

var errNoSuchUser = errors.New("no such user")

// userSource finds the identities the stack runs with: the embedded node's generated
// material, or the identities enrolled for a Fabric network.
type userSource interface {
	// orgs lists the MSP IDs.
	orgs() []string
	hasPeer(msp string) bool
	// mspDir is the fabric-samples msp folder of the organisation's identity with role, or
	// errNoSuchUser.
	mspDir(msp string, role model.Role) (string, error)
	// demoOrg is the organisation whose identity with role goes into the demo wallet.
	demoOrg(role model.Role, operator string) string
}

// loadUser loads the organisation's identity with role, ready to sign.
func loadUser(src userSource, msp string, role model.Role) (*wallet.Identity, error) {
	dir, err := src.mspDir(msp, role)
	if err != nil {
		return nil, err
	}
	return wallet.ImportMSP(dir, msp)
}

// embeddedUsers are the users the embedded node generates, by role.
type embeddedUsers struct {
	dir  string
	cons network.Consortium
}

var embeddedNames = map[model.Role]string{
	model.RoleGateway: "gateway", model.RoleAdmin: "Admin", model.RolePatient: "patient1",
	model.RoleClinician: "clinician1", model.RoleManufacturer: "manufacturer1", model.RoleAnonymizer: "anonymizer",
}

func (e embeddedUsers) orgs() []string {
	var out []string
	for _, o := range e.cons.Orgs {
		out = append(out, o.MSPID)
	}
	return out
}

func (e embeddedUsers) hasPeer(msp string) bool {
	o, ok := e.cons.Org(msp)
	return ok && o.Peer
}

func (e embeddedUsers) mspDir(msp string, role model.Role) (string, error) {
	o, ok := e.cons.Org(msp)
	if !ok {
		return "", errNoSuchUser
	}
	u, err := network.LoadUser(e.dir, o, embeddedNames[role])
	if errors.Is(err, fs.ErrNotExist) {
		return "", errNoSuchUser
	}
	if err != nil {
		return "", err
	}
	if u.Role != string(role) {
		return "", errNoSuchUser
	}
	return filepath.Join(u.Dir, "msp"), nil
}

func (e embeddedUsers) demoOrg(role model.Role, operator string) string {
	switch role {
	case model.RoleClinician:
		for _, o := range e.cons.Orgs {
			if o.Peer && o.MSPID != operator {
				return o.MSPID
			}
		}
	case model.RoleManufacturer:
		for _, o := range e.cons.Orgs {
			if !o.Peer {
				return o.MSPID
			}
		}
	default:
		return operator
	}
	return ""
}

// startEmbedded starts the embedded node and connects to it.
func (s *stack) startEmbedded(ctx context.Context, ncfg network.Config) (userSource, error) {
	if err := s.node.Start(ctx); err != nil {
		return nil, fmt.Errorf("start ledger node: %w", err)
	}
	cons := s.node.Config().Consortium
	s.channel, s.chaincode, s.operator = cons.Channel, cons.Chaincode, cons.Operator().MSPID
	s.ledgerDesc = fmt.Sprintf("embedded node at %s (Fabric Gateway, TLS)", s.node.Addr())
	var err error
	if s.conn, err = ledger.Dial(ledger.Endpoint{Address: s.node.Addr(), TLSCACertPEM: s.node.TLSCACertPEM(), ServerNameOverride: s.node.ServerName()}, cons.Channel, cons.Chaincode, ledger.Timeouts{}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.conn.Close)
	return embeddedUsers{dir: ncfg.Dir, cons: cons}, nil
}

// fabricUsers are the identities of a test-network connection file.
type fabricUsers struct{ p *connprofile.Profile }

func (f fabricUsers) orgs() []string {
	var out []string
	for msp := range f.p.Organizations {
		out = append(out, msp)
	}
	slices.Sort(out)
	return out
}

func (f fabricUsers) hasPeer(msp string) bool {
	o, ok := f.p.Org(msp)
	return ok && len(o.Peers) > 0
}

func (f fabricUsers) mspDir(msp string, role model.Role) (string, error) {
	id, ok := f.p.Identity(msp, string(role))
	if !ok {
		return "", errNoSuchUser
	}
	return id.MSPDir, nil
}

func (f fabricUsers) demoOrg(role model.Role, operator string) string {
	if _, ok := f.p.Identity(operator, string(role)); ok {
		return operator
	}
	for _, msp := range f.orgs() {
		if _, ok := f.p.Identity(msp, string(role)); ok {
			return msp
		}
	}
	return ""
}

// connectFabric connects to a Fabric network's gateway peers. The operator is the
// organisation with the anonymiser identity (the trust centre), else the first with a peer.
func (s *stack) connectFabric(p *connprofile.Profile) (userSource, error) {
	users := fabricUsers{p: p}
	for _, msp := range users.orgs() {
		if _, ok := p.Identity(msp, string(model.RoleAnonymizer)); ok && users.hasPeer(msp) {
			s.operator = msp
			break
		}
	}
	if s.operator == "" {
		for _, msp := range users.orgs() {
			if users.hasPeer(msp) {
				s.operator = msp
				break
			}
		}
	}
	peer, org, ok := p.GatewayPeer(s.operator)
	if !ok {
		return nil, errors.New("the connection file names no peer")
	}
	ca, err := os.ReadFile(org.TLSCACert)
	if err != nil {
		return nil, fmt.Errorf("read %s TLS CA: %w", org.MSPID, err)
	}
	s.channel, s.chaincode = p.Channel, p.Chaincode
	s.ledgerDesc = fmt.Sprintf("Fabric network %q through %s at %s", p.Name, peer.Name, peer.Endpoint)
	if s.conn, err = ledger.Dial(ledger.Endpoint{Address: peer.Endpoint, TLSCACertPEM: ca, ServerNameOverride: peer.TLSServerName}, p.Channel, p.Chaincode, ledger.Timeouts{}); err != nil {
		return nil, err
	}
	s.closers = append(s.closers, s.conn.Close)
	return users, nil
}
