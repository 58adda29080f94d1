// Package render writes the configuration of the CareLedger test network into a build
// directory: configtx.yaml, each peer's core.yaml, each orderer's orderer.yaml, each CA's
// fabric-ca-server-config.yaml, the chaincode-as-a-service package and the connection file.
// It needs no Fabric binary: everything is templated from the topology, so CI can check it.
package render

import (
	"bytes"
	"crypto/rand"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/careledger/careledger/test-network/internal/topology"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.New("").Option("missingkey=error").ParseFS(templateFS, "templates/*.tmpl"))

// DockerCCAASBuilder is where Fabric's peer image keeps the chaincode-as-a-service builder.
const DockerCCAASBuilder = "/opt/hyperledger/ccaas_builder"

// Options says where and for which mode to render.
type Options struct {
	// Mode decides addresses (loopback or host names) and paths (host or container).
	Mode topology.Mode
	// Dir is the build directory; it is created if missing.
	Dir string
	// CCAASBuilder is the folder holding Fabric's ccaas builder (bin/detect, bin/build,
	// bin/release) for native peers; ignored in Docker mode, where the image has it.
	CCAASBuilder string
}

// ErrBadOptions is returned for options Generate cannot work with.
var ErrBadOptions = errors.New("bad render options")

// Generate renders every configuration file of net into opts.Dir and returns the files it
// wrote, relative to opts.Dir. Existing CA secrets and enrolled identities are kept, so it
// can be re-run on a network that is up. The connection file lists only identities that
// are already enrolled.
func Generate(net topology.Network, opts Options) ([]string, error) {
	if _, err := topology.ParseMode(string(opts.Mode)); err != nil {
		return nil, fmt.Errorf("generate: %w: %w", ErrBadOptions, err)
	}
	if opts.Dir == "" {
		return nil, fmt.Errorf("generate: %w: no build directory", ErrBadOptions)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	if opts.Mode == topology.Native && opts.CCAASBuilder == "" {
		return nil, fmt.Errorf("generate: %w: native peers need the ccaas builder folder", ErrBadOptions)
	}
	g := &generator{net: net, opts: opts, dir: dir}
	g.layout = topology.Layout{Root: dir}
	if opts.Mode == topology.Docker {
		g.layout = topology.Layout{Root: topology.ContainerRoot}
	}
	steps := []func() error{g.configtx, g.peers, g.orderers, g.cas, g.chaincode, g.builderConfigs, g.compose, g.connection}
	for _, step := range steps {
		if err := step(); err != nil {
			return g.written, fmt.Errorf("generate: %w", err)
		}
	}
	return g.written, nil
}

type generator struct {
	net     topology.Network
	opts    Options
	dir     string
	layout  topology.Layout // paths as the nodes see them
	written []string
}

// write stores data at rel (slash-separated, below g.dir) with perm, atomically so a node
// never reads a half-written configuration.
func (g *generator) write(rel string, data []byte, perm os.FileMode) error {
	p := filepath.Join(g.dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), "."+filepath.Base(p)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("write %s: %w", rel, err)
	}
	g.written = append(g.written, rel)
	return nil
}

func (g *generator) render(rel, tmpl string, data any, perm os.FileMode) error {
	var buf bytes.Buffer
	if err := templates.ExecuteTemplate(&buf, tmpl, data); err != nil {
		return fmt.Errorf("render %s: %w", rel, err)
	}
	return g.write(rel, buf.Bytes(), perm)
}

// ConfigtxProfile is the configtxgen profile that builds the channel's genesis block.
const ConfigtxProfile = "CareLedgerChannel"

// StreamACLs are the resources of Fabric's core/aclmgmt that configtx.yaml maps to
// /Channel/Application/StreamReaders: every way a peer hands out blocks or chaincode events
// (Deliver with and without private data, filtered Deliver, the gateway's ChaincodeEvents)
// and qscc's block and transaction queries, which return the same blocks through Evaluate.
var StreamACLs = []string{
	"event/Block", "event/FilteredBlock", "gateway/ChaincodeEvents",
	"qscc/GetBlockByNumber", "qscc/GetBlockByHash", "qscc/GetTransactionByID", "qscc/GetBlockByTxID",
}

func (g *generator) configtx() error {
	type consenter struct {
		Host    string
		Port    int
		Addr    string
		TLSCert string
	}
	type anchor struct {
		Host string
		Port int
	}
	type org struct {
		MSPID       string
		MSPDir      string
		Peer        bool
		AnchorPeers []anchor
	}
	// configtxgen runs on the host and resolves these relative to configtx.yaml.
	rel := func(p string) string { return path.Join("..", p) }
	data := struct {
		Net            topology.Network
		Profile        string
		OrdererMSPDir  string
		Orderers       []consenter
		Orgs           []org
		StreamReaders  string
		ChannelReaders string
		StreamACLs     []string
	}{
		Net: g.net, Profile: ConfigtxProfile, OrdererMSPDir: rel(path.Join(topology.OrdererOrgDir(g.net.Orderer), "msp")),
		StreamReaders: g.net.StreamReaders(), ChannelReaders: g.net.ChannelReaders(), StreamACLs: StreamACLs,
	}
	for _, o := range g.net.Orderer.Nodes {
		host := o.Host
		if g.opts.Mode == topology.Native {
			host = topology.Loopback
		}
		data.Orderers = append(data.Orderers, consenter{
			Host: host, Port: o.Port, Addr: topology.Addr(g.opts.Mode, o.Host, o.Port),
			TLSCert: rel(path.Join(topology.OrdererDir(g.net.Orderer, o), "tls", "server.crt")),
		})
	}
	for _, o := range g.net.Orgs {
		x := org{MSPID: o.MSPID, MSPDir: rel(path.Join(topology.OrgDir(o), "msp")), Peer: len(o.Peers) > 0}
		if x.Peer {
			// One anchor per organisation is enough for cross-organisation gossip.
			host := o.Peers[0].Host
			if g.opts.Mode == topology.Native {
				host = topology.Loopback
			}
			x.AnchorPeers = []anchor{{Host: host, Port: o.Peers[0].Port}}
		}
		data.Orgs = append(data.Orgs, x)
	}
	return g.render(path.Join(topology.ConfigtxDir, "configtx.yaml"), "configtx.yaml.tmpl", data, 0o644)
}

func (g *generator) peers() error {
	builder := g.opts.CCAASBuilder
	if g.opts.Mode == topology.Docker {
		builder = DockerCCAASBuilder
	}
	for _, o := range g.net.Orgs {
		for i, p := range o.Peers {
			// Gossip bootstraps from another peer of the same organisation when there is one.
			boot := p
			if len(o.Peers) > 1 {
				boot = o.Peers[(i+1)%len(o.Peers)]
			}
			dataDir := g.layout.P(topology.DataDir(p.Host))
			if g.opts.Mode == topology.Docker {
				dataDir = "/var/hyperledger/production"
			}
			data := map[string]any{
				"Host": p.Host, "MSPID": o.MSPID, "Mode": g.opts.Mode,
				"Listen":          topology.ListenAddr(g.opts.Mode, p.Port),
				"Addr":            topology.Addr(g.opts.Mode, p.Host, p.Port),
				"CCListen":        topology.ListenAddr(g.opts.Mode, p.ChaincodePort),
				"CCAddr":          topology.Addr(g.opts.Mode, p.Host, p.ChaincodePort),
				"GossipBootstrap": topology.Addr(g.opts.Mode, boot.Host, boot.Port),
				"TLSDir":          g.layout.P(path.Join(topology.PeerDir(o, p), "tls")),
				"MSPDir":          g.layout.P(path.Join(topology.PeerDir(o, p), "msp")),
				"DataDir":         dataDir,
				"CCAASBuilder":    builder,
				"OpsListen":       topology.ListenAddr(g.opts.Mode, p.OpsPort),
			}
			if err := g.render(path.Join(topology.NodeConfigDir(p.Host), "core.yaml"), "core.yaml.tmpl", data, 0o644); err != nil {
				return err
			}
		}
	}
	return g.cliConfig(builder)
}

// CLIConfigDir is the FABRIC_CFG_PATH of the peer CLI network.sh runs on the host. It gets
// its own core.yaml because in Docker mode the peers' files name container paths; the CLI
// takes its identity and peer address from CORE_PEER_* variables.
const CLIConfigDir = "cli"

func (g *generator) cliConfig(builder string) error {
	var org topology.Org
	if orgs := g.net.PeerOrgs(); len(orgs) > 0 {
		org = orgs[0]
	} else {
		return fmt.Errorf("cli config: %w: no organisation runs a peer", ErrBadOptions)
	}
	p, host := org.Peers[0], topology.Layout{Root: g.dir}
	data := map[string]any{
		"Host": "cli." + org.Domain, "MSPID": org.MSPID, "Mode": "host CLI",
		"Listen":          topology.ListenAddr(topology.Native, p.Port),
		"Addr":            topology.Addr(topology.Native, p.Host, p.Port),
		"CCListen":        topology.ListenAddr(topology.Native, p.ChaincodePort),
		"CCAddr":          topology.Addr(topology.Native, p.Host, p.ChaincodePort),
		"GossipBootstrap": topology.Addr(topology.Native, p.Host, p.Port),
		"TLSDir":          host.P(path.Join(topology.PeerDir(org, p), "tls")),
		"MSPDir":          host.P(topology.UserMSPDir(org, topology.User{Label: "admin"})),
		"DataDir":         host.P(path.Join(CLIConfigDir, "data")),
		"CCAASBuilder":    builder,
		"OpsListen":       topology.ListenAddr(topology.Native, p.OpsPort),
	}
	return g.render(path.Join(CLIConfigDir, "core.yaml"), "core.yaml.tmpl", data, 0o644)
}

func (g *generator) orderers() error {
	oo := g.net.Orderer
	for _, o := range oo.Nodes {
		listenHost, dataDir := topology.Loopback, g.layout.P(topology.DataDir(o.Host))
		if g.opts.Mode == topology.Docker {
			listenHost, dataDir = "0.0.0.0", "/var/hyperledger/production/orderer"
		}
		data := map[string]any{
			"Host": o.Host, "MSPID": oo.MSPID, "Mode": g.opts.Mode,
			"ListenHost":  listenHost,
			"Port":        o.Port,
			"TLSDir":      g.layout.P(path.Join(topology.OrdererDir(oo, o), "tls")),
			"MSPDir":      g.layout.P(path.Join(topology.OrdererDir(oo, o), "msp")),
			"DataDir":     dataDir,
			"OpsListen":   topology.ListenAddr(g.opts.Mode, o.OpsPort),
			"AdminListen": topology.ListenAddr(g.opts.Mode, o.AdminPort),
		}
		if err := g.render(path.Join(topology.NodeConfigDir(o.Host), "orderer.yaml"), "orderer.yaml.tmpl", data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (g *generator) cas() error {
	type ca struct {
		ca      topology.CA
		mspID   string
		orgName string
	}
	all := []ca{{g.net.Orderer.CA, g.net.Orderer.MSPID, g.net.Orderer.Name}}
	for _, o := range g.net.Orgs {
		all = append(all, ca{o.CA, o.MSPID, o.Name})
	}
	for _, c := range all {
		secret, err := g.caSecret(c.ca)
		if err != nil {
			return err
		}
		listenHost := topology.Loopback
		if g.opts.Mode == topology.Docker {
			listenHost = "0.0.0.0"
		}
		data := map[string]any{
			"CA": c.ca, "MSPID": c.mspID, "OrgName": c.orgName, "Mode": g.opts.Mode,
			"ListenHost": listenHost,
			"OpsListen":  topology.ListenAddr(g.opts.Mode, c.ca.OpsPort),
			"Secret":     secret,
			// The TLS certificate must fit how both the host and other containers reach it.
			"Hosts": []string{c.ca.Host, "localhost", topology.Loopback},
		}
		rel := path.Join(topology.CAHome(c.ca), "fabric-ca-server-config.yaml")
		if err := g.render(rel, "fabric-ca-server-config.yaml.tmpl", data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// caSecret returns the CA's bootstrap registrar secret, creating a random one the first
// time. It must never change afterwards: the CA stored the first one in its database.
func (g *generator) caSecret(ca topology.CA) (string, error) {
	rel := topology.CASecret(ca)
	p := filepath.Join(g.dir, filepath.FromSlash(rel))
	b, err := os.ReadFile(p)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(b))
		if s == "" || strings.ContainsAny(s, " \t\n\"'") {
			return "", fmt.Errorf("ca secret %s: malformed, remove the build directory with network.sh clean", rel)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("ca secret: %w", err)
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("ca secret: %w", err)
	}
	s := hex.EncodeToString(raw[:])
	if err := g.write(rel, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

func (g *generator) chaincode() error {
	pkg, err := CCAASPackage(g.net.ChaincodeLabel)
	if err != nil {
		return err
	}
	if err := g.write(topology.ChaincodePackage, pkg, 0o644); err != nil {
		return err
	}
	if err := g.write(topology.PackageIDFile, []byte(PackageID(g.net.ChaincodeLabel, pkg)+"\n"), 0o644); err != nil {
		return err
	}
	policy, err := json.Marshal(struct {
		Rules []topology.RoleRule `json:"rules"`
	}{g.net.RolePolicy()})
	if err != nil {
		return fmt.Errorf("role policy: %w", err)
	}
	return g.write(topology.RolePolicyFile, append(policy, '\n'), 0o644)
}
