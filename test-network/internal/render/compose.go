package render

import (
	"path"
	"strings"

	"github.com/careledger/careledger/test-network/internal/topology"
)

// ComposeFiles are the Compose files Docker mode renders, relative to the build directory.
// network.sh always passes all of them, so Compose sees one project.
var ComposeFiles = []string{"compose/compose-ca.yaml", "compose/compose-net.yaml", "compose/compose-chaincode.yaml"}

// BuilderVar is the environment variable network.sh fills with a peer's ccaas builder
// configuration before starting the peer's container, e.g. CL_CCAAS_PEER0_PATIENTS.
func BuilderVar(net topology.Network, p topology.Peer) string {
	host := strings.TrimSuffix(p.Host, "."+net.Domain)
	return "CL_CCAAS_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(host))
}

func (g *generator) compose() error {
	if g.opts.Mode != topology.Docker {
		return nil
	}
	root := topology.ContainerRoot
	type ca struct {
		Host, Home    string
		Port, OpsPort int
	}
	type node struct {
		Host, CfgPath, Volume, BuilderVar string
		Ports                             []int
	}
	type cc struct {
		Host, TLSDir string
		Port         int
	}
	var cas []ca
	add := func(c topology.CA) {
		cas = append(cas, ca{Host: c.Host, Home: path.Join(root, topology.CAHome(c)), Port: c.Port, OpsPort: c.OpsPort})
	}
	add(g.net.Orderer.CA)
	for _, o := range g.net.Orgs {
		add(o.CA)
	}
	var orderers, peers []node
	var ccs []cc
	var volumes []string
	for _, o := range g.net.Orderer.Nodes {
		orderers = append(orderers, node{
			Host: o.Host, CfgPath: path.Join(root, topology.NodeConfigDir(o.Host)), Volume: o.Host,
			Ports: []int{o.Port, o.AdminPort, o.OpsPort},
		})
		volumes = append(volumes, o.Host)
	}
	for _, o := range g.net.Orgs {
		for _, p := range o.Peers {
			peers = append(peers, node{
				Host: p.Host, CfgPath: path.Join(root, topology.NodeConfigDir(p.Host)), Volume: p.Host,
				BuilderVar: BuilderVar(g.net, p), Ports: []int{p.Port, p.OpsPort},
			})
			volumes = append(volumes, p.Host)
		}
		if o.CCServer != nil {
			ccs = append(ccs, cc{Host: o.CCServer.Host, Port: o.CCServer.Port, TLSDir: path.Join(root, topology.CCServerDir(o), "tls")})
		}
	}
	parts := []struct {
		file, part string
		data       map[string]any
	}{
		{ComposeFiles[0], "certificate authorities", map[string]any{"CAs": cas}},
		{ComposeFiles[1], "orderers and peers", map[string]any{"Orderers": orderers, "Peers": peers, "Volumes": volumes}},
		{ComposeFiles[2], "chaincode servers", map[string]any{"CCServers": ccs}},
	}
	for _, p := range parts {
		data := map[string]any{"Part": p.part, "Root": root, "Volumes": nil, "CAs": nil, "Orderers": nil, "Peers": nil, "CCServers": nil}
		for k, v := range p.data {
			data[k] = v
		}
		if err := g.render(p.file, "compose.yaml.tmpl", data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
