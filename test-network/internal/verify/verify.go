// Package verify checks a rendered build directory without any Fabric binary: every YAML
// file parses and carries the settings the network depends on (no Docker endpoint, the
// ccaas builder, mutual TLS on the orderers' admin API, ...), the chaincode package has the
// CCAAS shape and its package ID, the connection file is valid, and, once identities are
// enrolled, every certificate chains to its organisation's CA with the right role and host
// names. CI runs it through `netctl check` after `network.sh generate`.
package verify

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/proto"

	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/test-network/internal/render"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/wallet"
)

// ErrCheck is wrapped by every problem Dir reports.
var ErrCheck = errors.New("build directory check failed")

// Report is what Dir found.
type Report struct {
	// Files is how many files were checked.
	Files int
	// Enrolled is how many enrolled identities were checked (0 before enrolment).
	Enrolled int
}

// Dir checks the build directory dir rendered for net in mode. It returns all problems at
// once, joined, each wrapping ErrCheck.
func Dir(net topology.Network, dir string, mode topology.Mode) (Report, error) {
	c := &checker{net: net, dir: dir, mode: mode}
	c.configtx()
	c.peers()
	c.orderers()
	c.cas()
	c.chaincode()
	if mode == topology.Docker {
		c.compose()
	}
	c.connection()
	c.crypto()
	return c.report, errors.Join(c.errs...)
}

type checker struct {
	net    topology.Network
	dir    string
	mode   topology.Mode
	report Report
	errs   []error
}

func (c *checker) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%w: "+format, append([]any{ErrCheck}, args...)...))
}

func (c *checker) abs(rel string) string { return filepath.Join(c.dir, filepath.FromSlash(rel)) }

func (c *checker) read(rel string) ([]byte, bool) {
	b, err := os.ReadFile(c.abs(rel))
	if err != nil {
		c.fail("%s: %v", rel, err)
		return nil, false
	}
	c.report.Files++
	return b, true
}

// yamlDoc reads rel as a YAML mapping.
func (c *checker) yamlDoc(rel string) (map[string]any, bool) {
	b, ok := c.read(rel)
	if !ok {
		return nil, false
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		c.fail("%s: not valid YAML: %v", rel, err)
		return nil, false
	}
	return doc, true
}

// get walks a YAML document along keys.
func get(doc any, keys ...string) (any, bool) {
	cur := doc
	for _, k := range keys {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func (c *checker) want(rel string, doc map[string]any, want any, keys ...string) {
	got, ok := get(doc, keys...)
	if !ok {
		c.fail("%s: %s missing", rel, strings.Join(keys, "."))
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		c.fail("%s: %s is %v, want %v", rel, strings.Join(keys, "."), got, want)
	}
}

func (c *checker) configtx() {
	rel := path.Join(topology.ConfigtxDir, "configtx.yaml")
	doc, ok := c.yamlDoc(rel)
	if !ok {
		return
	}
	orgs, _ := get(doc, "Organizations")
	if list, _ := orgs.([]any); len(list) != len(c.net.Orgs)+1 {
		c.fail("%s: %d organizations, want %d", rel, len(list), len(c.net.Orgs)+1)
	}
	c.want(rel, doc, "etcdraft", "Profiles", render.ConfigtxProfile, "Orderer", "OrdererType")
	cons, _ := get(doc, "Profiles", render.ConfigtxProfile, "Orderer", "EtcdRaft", "Consenters")
	if list, _ := cons.([]any); len(list) != len(c.net.Orderer.Nodes) {
		c.fail("%s: %d Raft consenters, want %d", rel, len(list), len(c.net.Orderer.Nodes))
	}
	apps, _ := get(doc, "Profiles", render.ConfigtxProfile, "Application", "Organizations")
	var ids []string
	for _, a := range asList(apps) {
		if id, ok := get(a, "ID"); ok {
			ids = append(ids, fmt.Sprint(id))
		}
	}
	for _, o := range c.net.Orgs {
		if !slices.Contains(ids, o.MSPID) {
			c.fail("%s: %s is not a channel member", rel, o.MSPID)
		}
	}
	c.streamPolicies(rel, doc)
}

// streamPolicies checks who may stream the ledger: StreamReaders and /Channel/Readers name
// only peers and admins of the organisations that run peers (and, for the orderers'
// Deliver, the ordering service), every streaming resource is mapped to StreamReaders, and
// the Writers of a peer organisation admit its gateway, which is enrolled as a peer.
func (c *checker) streamPolicies(rel string, doc map[string]any) {
	var peerOrgs []string
	for _, o := range c.net.PeerOrgs() {
		peerOrgs = append(peerOrgs, o.MSPID)
	}
	for _, p := range []struct {
		keys []string
		want []string
	}{
		{[]string{"Application", "Policies", "StreamReaders"}, peerOrgs},
		{[]string{"Channel", "Policies", "Readers"}, append([]string{c.net.Orderer.MSPID}, peerOrgs...)},
	} {
		name := strings.Join(p.keys, ".")
		c.want(rel, doc, "Signature", append(p.keys, "Type")...)
		rule, ok := get(doc, append(p.keys, "Rule")...)
		if !ok {
			c.fail("%s: %s has no rule", rel, name)
			continue
		}
		pol, err := network.ParsePolicy(fmt.Sprint(rule))
		if err != nil {
			c.fail("%s: %s: %v", rel, name, err)
			continue
		}
		if got := pol.MSPIDs(); !slices.Equal(got, p.want) {
			c.fail("%s: %s names %v, want exactly %v: an organisation without a peer must never stream the ledger", rel, name, got, p.want)
		}
		for _, id := range pol.Envelope().GetIdentities() {
			role := &msp.MSPRole{}
			if err := proto.Unmarshal(id.GetPrincipal(), role); err != nil || role.GetMspIdentifier() != c.net.Orderer.MSPID &&
				role.GetRole() != msp.MSPRole_PEER && role.GetRole() != msp.MSPRole_ADMIN {
				c.fail("%s: %s admits %s members other than peers and admins", rel, name, role.GetMspIdentifier())
			}
		}
	}
	for _, res := range render.StreamACLs {
		c.want(rel, doc, "/Channel/Application/StreamReaders", "Application", "ACLs", res)
	}
	for _, o := range asList(doc["Organizations"]) {
		id, _ := get(o, "ID")
		writers, _ := get(o, "Policies", "Writers", "Rule")
		if slices.Contains(peerOrgs, fmt.Sprint(id)) && !strings.Contains(fmt.Sprint(writers), "'"+fmt.Sprint(id)+".peer'") {
			c.fail("%s: Writers of %s do not admit its gateway, a peer identity", rel, id)
		}
	}
}

func asList(v any) []any { l, _ := v.([]any); return l }

func (c *checker) peers() {
	for _, o := range c.net.Orgs {
		for _, p := range o.Peers {
			rel := path.Join(topology.NodeConfigDir(p.Host), "core.yaml")
			doc, ok := c.yamlDoc(rel)
			if !ok {
				continue
			}
			c.want(rel, doc, p.Host, "peer", "id")
			c.want(rel, doc, o.MSPID, "peer", "localMspId")
			c.want(rel, doc, topology.ListenAddr(c.mode, p.Port), "peer", "listenAddress")
			c.want(rel, doc, true, "peer", "tls", "enabled")
			c.want(rel, doc, true, "peer", "gateway", "enabled")
			c.want(rel, doc, "", "vm", "endpoint")
			builders, _ := get(doc, "chaincode", "externalBuilders")
			found := false
			for _, b := range asList(builders) {
				env, _ := get(b, "propagateEnvironment")
				if name, _ := get(b, "name"); name == "ccaas_builder" && slices.Contains(asList(env), any("CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG")) {
					found = true
				}
			}
			if !found {
				c.fail("%s: no ccaas_builder propagating CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG", rel)
			}
		}
	}
}

// ordererKeys is Fabric 3.x's top-level orderer.yaml key set; the orderer rejects others.
var ordererKeys = []string{"General", "FileLedger", "Debug", "Operations", "Metrics", "Admin", "ChannelParticipation", "Consensus"}

func (c *checker) orderers() {
	for _, o := range c.net.Orderer.Nodes {
		rel := path.Join(topology.NodeConfigDir(o.Host), "orderer.yaml")
		doc, ok := c.yamlDoc(rel)
		if !ok {
			continue
		}
		for k := range doc {
			if !slices.Contains(ordererKeys, k) {
				c.fail("%s: unknown top-level key %q", rel, k)
			}
		}
		c.want(rel, doc, o.Port, "General", "ListenPort")
		c.want(rel, doc, c.net.Orderer.MSPID, "General", "LocalMSPID")
		c.want(rel, doc, true, "General", "TLS", "Enabled")
		c.want(rel, doc, true, "ChannelParticipation", "Enabled")
		c.want(rel, doc, true, "Admin", "TLS", "Enabled")
		c.want(rel, doc, true, "Admin", "TLS", "ClientAuthRequired")
		c.want(rel, doc, topology.ListenAddr(c.mode, o.AdminPort), "Admin", "ListenAddress")
	}
}

func (c *checker) cas() {
	all := []topology.CA{c.net.Orderer.CA}
	for _, o := range c.net.Orgs {
		all = append(all, o.CA)
	}
	for _, ca := range all {
		rel := path.Join(topology.CAHome(ca), "fabric-ca-server-config.yaml")
		doc, ok := c.yamlDoc(rel)
		if !ok {
			continue
		}
		c.want(rel, doc, ca.Port, "port")
		c.want(rel, doc, ca.Name, "ca", "name")
		c.want(rel, doc, true, "tls", "enabled")
		if info, err := os.Stat(c.abs(rel)); err == nil && info.Mode().Perm()&0o077 != 0 {
			c.fail("%s: holds the registrar secret but has mode %v", rel, info.Mode().Perm())
		}
		secret, ok := c.read(topology.CASecret(ca))
		if !ok {
			continue
		}
		pass, _ := get(doc, "registry", "identities")
		if l := asList(pass); len(l) != 1 {
			c.fail("%s: want exactly the bootstrap identity in the registry", rel)
		} else if p, _ := get(l[0], "pass"); fmt.Sprint(p) != strings.TrimSpace(string(secret)) {
			c.fail("%s: bootstrap secret differs from %s", rel, topology.CASecret(ca))
		}
	}
}

var packageIDPattern = regexp.MustCompile(`^[[:alnum:]][[:alnum:]_.+-]*:[0-9a-f]{64}$`)

func (c *checker) chaincode() {
	pkg, ok := c.read(topology.ChaincodePackage)
	if !ok {
		return
	}
	files, err := untar(pkg)
	if err != nil {
		c.fail("%s: %v", topology.ChaincodePackage, err)
		return
	}
	var meta struct{ Type, Label string }
	if err := json.Unmarshal(files["metadata.json"], &meta); err != nil || meta.Type != "ccaas" || meta.Label != c.net.ChaincodeLabel {
		c.fail("%s: metadata.json %q: want type ccaas, label %s", topology.ChaincodePackage, files["metadata.json"], c.net.ChaincodeLabel)
	}
	code, err := untar(files["code.tar.gz"])
	if err != nil {
		c.fail("%s: code.tar.gz: %v", topology.ChaincodePackage, err)
		return
	}
	var conn map[string]any
	if err := json.Unmarshal(code["connection.json"], &conn); err != nil {
		c.fail("%s: connection.json: %v", topology.ChaincodePackage, err)
	} else if conn["tls_required"] != true || conn["client_auth_required"] != true || conn["address"] != "{{.address}}" {
		c.fail("%s: connection.json must template the address and require mutual TLS", topology.ChaincodePackage)
	}
	id, ok := c.read(topology.PackageIDFile)
	if !ok {
		return
	}
	got := strings.TrimSpace(string(id))
	if !packageIDPattern.MatchString(got) || got != render.PackageID(c.net.ChaincodeLabel, pkg) {
		c.fail("%s: %q is not the package ID of %s", topology.PackageIDFile, got, topology.ChaincodePackage)
	}
	pol, ok := c.read(topology.RolePolicyFile)
	if !ok {
		return
	}
	var p struct {
		Rules []topology.RoleRule `json:"rules"`
	}
	if err := json.Unmarshal(pol, &p); err != nil || len(p.Rules) == 0 {
		c.fail("%s: not a role policy: %v", topology.RolePolicyFile, err)
	}
}

// untar reads a gzipped tar of regular files into memory (packages are a few KiB).
func untar(data []byte) (map[string][]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(zr)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg || h.Size > 1<<20 {
			return nil, fmt.Errorf("unexpected entry %q", h.Name)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			return nil, err
		}
		out[h.Name] = b
	}
}

func (c *checker) compose() {
	for _, rel := range render.ComposeFiles {
		doc, ok := c.yamlDoc(rel)
		if !ok {
			continue
		}
		services, _ := get(doc, "services")
		m, _ := services.(map[string]any)
		if len(m) == 0 {
			c.fail("%s: no services", rel)
		}
		for name, svc := range m {
			ports, _ := get(svc, "ports")
			for _, p := range asList(ports) {
				if !strings.HasPrefix(fmt.Sprint(p), topology.Loopback+":") {
					c.fail("%s: %s publishes %v beyond the loopback", rel, name, p)
				}
			}
		}
	}
}

func (c *checker) connection() {
	if _, ok := c.read(topology.ConnectionFile); !ok {
		return
	}
	p, err := connprofile.Load(c.abs(topology.ConnectionFile))
	if err != nil {
		c.fail("%v", err)
		return
	}
	if p.Channel != c.net.Channel || p.Chaincode != c.net.Chaincode {
		c.fail("%s: channel/chaincode %s/%s, want %s/%s", topology.ConnectionFile, p.Channel, p.Chaincode, c.net.Channel, c.net.Chaincode)
	}
	for _, o := range c.net.Orgs {
		po, ok := p.Org(o.MSPID)
		if !ok {
			c.fail("%s: %s missing", topology.ConnectionFile, o.MSPID)
			continue
		}
		if len(po.Peers) != len(o.Peers) {
			c.fail("%s: %s lists %d peers, want %d", topology.ConnectionFile, o.MSPID, len(po.Peers), len(o.Peers))
		}
		for role, ids := range po.Identities {
			for _, id := range ids {
				c.identity(o, role, id)
			}
		}
	}
}

var pseudonymPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// identity checks one enrolled identity of the connection file against its certificate.
func (c *checker) identity(o topology.Org, role string, id connprofile.Identity) {
	ident, err := wallet.ImportMSP(id.MSPDir, o.MSPID)
	if err != nil {
		c.fail("identity %s: %v", id.Name, err)
		return
	}
	c.report.Enrolled++
	if ident.Role() != role {
		c.fail("identity %s: certificate role %q, listed as %q", id.Name, ident.Role(), role)
	}
	if ident.EnrollmentID() != id.EnrollmentID {
		c.fail("identity %s: certificate enrollment ID differs from the connection file", id.Name)
	}
	if role == "patient" && !pseudonymPattern.MatchString(id.EnrollmentID) {
		c.fail("identity %s: patient enrollment ID is not a random pseudonym", id.Name)
	}
	if role == "gateway" && len(o.Peers) > 0 && !slices.Contains(ident.Certificate().Subject.OrganizationalUnit, "peer") {
		c.fail("identity %s: a peer organisation's gateway must be enrolled as a peer, or StreamReaders refuses it its events", id.Name)
	}
	for _, f := range []string{id.Cert, id.Key} {
		if _, err := os.Stat(f); err != nil {
			c.fail("identity %s: %v", id.Name, err)
		}
	}
	if err := verifyChain(ident.CertificatePEM(), filepath.Join(c.dir, filepath.FromSlash(topology.CACert(o.CA))), ""); err != nil {
		c.fail("identity %s: %v", id.Name, err)
	}
}

// crypto checks the TLS certificates of every node once they exist.
func (c *checker) crypto() {
	type tlsDir struct{ rel, host, ca string }
	var dirs []tlsDir
	oo := c.net.Orderer
	for _, n := range oo.Nodes {
		dirs = append(dirs, tlsDir{path.Join(topology.OrdererDir(oo, n), "tls"), n.Host, topology.CACert(oo.CA)})
	}
	for _, o := range c.net.Orgs {
		for _, p := range o.Peers {
			dirs = append(dirs, tlsDir{path.Join(topology.PeerDir(o, p), "tls"), p.Host, topology.CACert(o.CA)})
		}
		if o.CCServer != nil {
			dirs = append(dirs, tlsDir{path.Join(topology.CCServerDir(o), "tls"), o.CCServer.Host, topology.CACert(o.CA)})
		}
	}
	for _, d := range dirs {
		cert, err := os.ReadFile(c.abs(path.Join(d.rel, "server.crt")))
		if errors.Is(err, fs.ErrNotExist) {
			continue // not enrolled yet
		}
		if err != nil {
			c.fail("%s: %v", d.rel, err)
			continue
		}
		for _, host := range []string{d.host, topology.Loopback} {
			if err := verifyChain(cert, c.abs(d.ca), host); err != nil {
				c.fail("%s: %v", d.rel, err)
			}
		}
		if info, err := os.Stat(c.abs(path.Join(d.rel, "server.key"))); err != nil || info.Mode().Perm()&0o077 != 0 {
			c.fail("%s: server.key missing or readable by others", d.rel)
		}
	}
}

// verifyChain checks that certPEM was issued by the CA certificate in caFile and, when host
// is set, is a TLS server certificate for host.
func verifyChain(certPEM []byte, caFile, host string) error {
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("%s holds no certificate", caFile)
	}
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return errors.New("certificate is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return err
	}
	usage := []x509.ExtKeyUsage{x509.ExtKeyUsageAny}
	if host != "" {
		usage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: usage}); err != nil {
		return fmt.Errorf("certificate does not verify: %w", err)
	}
	return nil
}
