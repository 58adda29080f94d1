package network

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// attrOID is the certificate extension in which Fabric CA stores identity attributes; chaincode
// reads roles from it through the cid / attrmgr packages.
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

const (
	caValidity   = 10 * 365 * 24 * time.Hour
	leafValidity = 5 * 365 * 24 * time.Hour
	keyFileName  = "priv_sk"
)

// ErrNotFound is returned, wrapped, when requested material, a transaction or a block does not
// exist.
var ErrNotFound = errors.New("not found")

// OrgDir is the cryptogen directory of an organisation:
// <dir>/organizations/peerOrganizations/<domain>.
func OrgDir(dir string, o Org) string {
	return filepath.Join(dir, "organizations", "peerOrganizations", o.Domain)
}

// PeerName is the host name of the organisation's peer, e.g. "peer0.patients.careledger.local".
func PeerName(o Org) string { return "peer0." + o.Domain }

// GenerateMaterial creates, for every organisation of c that has none yet, a CA, a TLS CA, the
// MSP folder, a peer (for peer organisations) and the default users, in the layout of
// Fabric's cryptogen. Existing material is left untouched, so it is safe to call on every start;
// an organisation's folder is always complete (it is written aside and renamed into place), or
// imported (ImportOrganizations), possibly without its CA's key.
func GenerateMaterial(dir string, c Consortium) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("generate material: %w", err)
	}
	for _, o := range c.Orgs {
		if _, err := os.Stat(filepath.Join(OrgDir(dir, o), "msp", "cacerts")); err == nil {
			continue
		}
		if err := generateOrg(dir, o, c.Operator().MSPID == o.MSPID); err != nil {
			return fmt.Errorf("generate material for %s: %w", o.MSPID, err)
		}
	}
	return nil
}

func generateOrg(dir string, o Org, operator bool) error {
	final := OrgDir(dir, o)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return err
	}
	// Build in a temporary sibling and rename, so an interrupted run never leaves an
	// organisation with a CA but no users.
	tmp, err := os.MkdirTemp(filepath.Dir(final), "."+o.Domain+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ca, err := newCA(o, "ca."+o.Domain)
	if err != nil {
		return err
	}
	tlsca, err := newCA(o, "tlsca."+o.Domain)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca/ca." + o.Domain + "-cert.pem":                ca.certPEM,
		"ca/" + keyFileName:                              mustKeyPEM(ca.key),
		"tlsca/tlsca." + o.Domain + "-cert.pem":          tlsca.certPEM,
		"tlsca/" + keyFileName:                           mustKeyPEM(tlsca.key),
		"msp/cacerts/ca." + o.Domain + "-cert.pem":       ca.certPEM,
		"msp/tlscacerts/tlsca." + o.Domain + "-cert.pem": tlsca.certPEM,
		"msp/config.yaml":                                nodeOUConfig(o),
	}
	for i, extra := range o.CACertsPEM {
		files[fmt.Sprintf("msp/cacerts/extra-%d.pem", i)] = extra
	}
	if err := writeFiles(tmp, files); err != nil {
		return err
	}
	if o.Peer {
		if err := writePeer(tmp, o, ca, tlsca, nil); err != nil {
			return err
		}
	}
	for _, spec := range defaultUsers(o, operator) {
		if _, err := issueUser(tmp, o, ca, tlsca, spec); err != nil {
			return err
		}
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	return syncDir(filepath.Dir(final))
}

func nodeOUConfig(o Org) []byte {
	ca := "cacerts/ca." + o.Domain + "-cert.pem"
	var b strings.Builder
	b.WriteString("NodeOUs:\n  Enable: true\n")
	for _, ou := range []struct{ key, val string }{
		{"ClientOUIdentifier", "client"}, {"PeerOUIdentifier", "peer"},
		{"AdminOUIdentifier", "admin"}, {"OrdererOUIdentifier", "orderer"},
	} {
		fmt.Fprintf(&b, "  %s:\n    Certificate: %s\n    OrganizationalUnitIdentifier: %s\n", ou.key, ca, ou.val)
	}
	return []byte(b.String())
}
