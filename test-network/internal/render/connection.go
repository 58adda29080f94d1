package render

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"

	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/wallet"
)

// Profile builds the connection file of net for programs on the host, listing the
// identities already enrolled below dir. Paths are relative to dir, where the file lives.
func Profile(net topology.Network, dir string) (*connprofile.Profile, error) {
	p := &connprofile.Profile{
		Version: connprofile.Version, Name: "careledger-test-network",
		Channel: net.Channel, Chaincode: net.Chaincode,
		Organizations: map[string]*connprofile.Organization{},
	}
	for _, o := range net.Orgs {
		org := &connprofile.Organization{
			MSPID:     o.MSPID,
			TLSCACert: path.Join(topology.OrgDir(o), "msp", "tlscacerts", "ca.pem"),
			Peers:     []connprofile.Peer{},
			CA: &connprofile.CA{
				Name: o.CA.Name, URL: o.CA.URL(), TLSCACert: topology.CACert(o.CA),
			},
			Identities: map[string][]connprofile.Identity{},
		}
		for _, pe := range o.Peers {
			org.Peers = append(org.Peers, connprofile.Peer{
				Name: pe.Host, Endpoint: topology.HostAddr(pe.Port), TLSServerName: pe.Host,
			})
		}
		for _, u := range o.Users {
			id, ok, err := enrolledIdentity(dir, o, u)
			if err != nil {
				return nil, err
			}
			if ok {
				org.Identities[u.Role] = append(org.Identities[u.Role], id)
			}
		}
		p.Organizations[o.MSPID] = org
	}
	return p, nil
}

// enrolledIdentity describes u's msp folder if enrolment wrote it.
func enrolledIdentity(dir string, o topology.Org, u topology.User) (connprofile.Identity, bool, error) {
	mspRel := topology.UserMSPDir(o, u)
	mspAbs := filepath.Join(dir, filepath.FromSlash(mspRel))
	if _, err := os.Stat(filepath.Join(mspAbs, "signcerts", "cert.pem")); errors.Is(err, fs.ErrNotExist) {
		return connprofile.Identity{}, false, nil
	}
	id, err := wallet.ImportMSP(mspAbs, o.MSPID)
	if err != nil {
		return connprofile.Identity{}, false, fmt.Errorf("connection file: %w", err)
	}
	keys, err := filepath.Glob(filepath.Join(mspAbs, "keystore", "*_sk"))
	if err != nil || len(keys) != 1 {
		return connprofile.Identity{}, false, fmt.Errorf("connection file: %s: want exactly one key in keystore, found %d", mspRel, len(keys))
	}
	return connprofile.Identity{
		Name:         topology.UserName(o.Domain, u),
		EnrollmentID: id.EnrollmentID(),
		MSPDir:       mspRel,
		Cert:         path.Join(mspRel, "signcerts", "cert.pem"),
		Key:          path.Join(mspRel, "keystore", filepath.Base(keys[0])),
	}, true, nil
}

func (g *generator) connection() error {
	p, err := Profile(g.net, g.dir)
	if err != nil {
		return err
	}
	data, err := p.Marshal()
	if err != nil {
		return err
	}
	return g.write(topology.ConnectionFile, data, 0o644)
}
