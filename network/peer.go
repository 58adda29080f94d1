package network

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// peerIdentity is the signing identity and TLS key pair of an organisation's peer.
type peerIdentity struct {
	user       *User
	tlsCertPEM []byte
	tlsKeyPEM  []byte
	tlsCAPEM   []byte
}

// writePeer creates peers/peer0.<domain> with an MSP and a TLS server certificate whose SANs
// include the given extra hosts.
func writePeer(orgDir string, o Org, ca, tlsca *caPair, hosts []string) error {
	name := PeerName(o)
	peerDir := filepath.Join(orgDir, "peers", name)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	certPEM, _, err := signCert(leafTemplate(name, "peer"), ca, &key.PublicKey)
	if err != nil {
		return err
	}
	tlsKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := leafTemplate(name, "peer")
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	tmpl.DNSNames = []string{name, "peer0", "localhost"}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	tlsPEM, _, err := signCert(tmpl, tlsca, &tlsKey.PublicKey)
	if err != nil {
		return err
	}
	return writeFiles(peerDir, map[string][]byte{
		"msp/signcerts/" + name + "-cert.pem":            certPEM,
		"msp/keystore/" + keyFileName:                    mustKeyPEM(key),
		"msp/cacerts/ca." + o.Domain + "-cert.pem":       ca.certPEM,
		"msp/tlscacerts/tlsca." + o.Domain + "-cert.pem": tlsca.certPEM,
		"msp/config.yaml":                                nodeOUConfig(o),
		"tls/ca.crt":                                     tlsca.certPEM,
		"tls/server.crt":                                 tlsPEM,
		"tls/server.key":                                 mustKeyPEM(tlsKey),
	})
}

// loadPeer reads the peer of organisation o, first regenerating its TLS certificate if extra
// host names are wanted that it does not cover.
func loadPeer(dir string, o Org, hosts []string) (*peerIdentity, error) {
	od := OrgDir(dir, o)
	name := PeerName(o)
	peerDir := filepath.Join(od, "peers", name)
	u, err := readPeerCert(dir, o)
	if err != nil {
		return nil, err
	}
	key, err := readKey(keystoreFile(filepath.Join(peerDir, "msp")))
	if err != nil {
		return nil, fmt.Errorf("load peer %s: %w", name, err)
	}
	tlsCertPEM, err := os.ReadFile(filepath.Join(peerDir, "tls", "server.crt"))
	if err != nil {
		return nil, fmt.Errorf("load peer %s: %w", name, err)
	}
	if len(hosts) > 0 {
		tlsCert, err := parseCertPEM(tlsCertPEM)
		if err != nil {
			return nil, fmt.Errorf("load peer %s: %w", name, err)
		}
		for _, h := range hosts {
			if tlsCert.VerifyHostname(h) != nil {
				if err := reissuePeerTLS(od, o, hosts); err != nil {
					return nil, fmt.Errorf("load peer %s: reissue tls certificate: %w", name, err)
				}
				return loadPeer(dir, o, nil)
			}
		}
	}
	tlsKeyPEM, err := os.ReadFile(filepath.Join(peerDir, "tls", "server.key"))
	if err != nil {
		return nil, fmt.Errorf("load peer %s: %w", name, err)
	}
	tlsCAPEM, err := os.ReadFile(filepath.Join(peerDir, "tls", "ca.crt"))
	if err != nil {
		return nil, fmt.Errorf("load peer %s: %w", name, err)
	}
	return &peerIdentity{
		user:       &User{MSPID: o.MSPID, Name: name, EnrollmentID: name, Dir: peerDir, CertPEM: u.CertPEM, Cert: u.Cert, Key: key},
		tlsCertPEM: tlsCertPEM, tlsKeyPEM: tlsKeyPEM, tlsCAPEM: tlsCAPEM,
	}, nil
}

// readPeerCert reads the signing certificate of organisation o's peer, without its keys.
func readPeerCert(dir string, o Org) (*User, error) {
	name := PeerName(o)
	peerDir := filepath.Join(OrgDir(dir, o), "peers", name)
	certPEM, err := os.ReadFile(signCertFile(filepath.Join(peerDir, "msp"), name))
	if err != nil {
		return nil, fmt.Errorf("load peer %s: %w", name, err)
	}
	cert, err := parseCertPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("load peer %s: %w", name, err)
	}
	return &User{MSPID: o.MSPID, Name: name, EnrollmentID: name, Dir: peerDir, CertPEM: certPEM, Cert: cert}, nil
}

func reissuePeerTLS(orgDir string, o Org, hosts []string) error {
	return withNewPeer(orgDir, o, hosts, func(fresh string) error {
		// Keep the peer's signing identity: only the TLS pair changes.
		dst := filepath.Join(orgDir, "peers", PeerName(o), "tls")
		for _, f := range []string{"server.crt", "server.key"} {
			b, err := os.ReadFile(filepath.Join(fresh, "tls", f))
			if err != nil {
				return err
			}
			if err := writeFileSync(filepath.Join(dst, f), b, 0o600); err != nil {
				return err
			}
		}
		return nil
	})
}

// withNewPeer issues a new peer of o with the organisation's CAs into a temporary folder
// beside orgDir's material and calls use with the new peer's folder, which is removed after.
func withNewPeer(orgDir string, o Org, hosts []string, use func(fresh string) error) error {
	ca, err := loadCA(filepath.Join(orgDir, "ca"))
	if err != nil {
		return err
	}
	tlsca, err := loadCA(filepath.Join(orgDir, "tlsca"))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(orgDir, ".peer-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := writePeer(tmp, o, ca, tlsca, hosts); err != nil {
		return err
	}
	return use(filepath.Join(tmp, "peers", PeerName(o)))
}

// hostedPeer is an endorsing peer identity the node hosts, one per peer organisation: the
// embedded node stands in for every organisation's peer, so that a chaincode's endorsement
// policy is met as on a real network, by one signature of each organisation it names.
type hostedPeer struct {
	user *User
	// creator is the serialized identity endorsements carry.
	creator []byte
}

// ensurePeers issues the peer identity of every peer organisation that has none yet (a data
// directory from before the node hosted a peer per organisation, or an organisation that
// became a peer organisation), signed by the organisation's CA. It returns the peers it
// issued.
func ensurePeers(dir string, c Consortium) ([]string, error) {
	var issued []string
	for _, o := range c.Orgs {
		if !o.Peer {
			continue
		}
		if _, err := readPeerCert(dir, o); err == nil {
			continue
		} else if !errors.Is(err, os.ErrNotExist) {
			return issued, err
		}
		if err := issuePeer(OrgDir(dir, o), o); err != nil {
			return issued, fmt.Errorf("issue peer %s: %w", PeerName(o), err)
		}
		issued = append(issued, PeerName(o))
	}
	return issued, nil
}

// issuePeer writes peers/peer0.<domain> into the organisation folder orgDir, aside first and
// renamed into place, so an interrupted start never leaves half a peer.
func issuePeer(orgDir string, o Org) error {
	return withNewPeer(orgDir, o, nil, func(fresh string) error {
		if err := syncTree(fresh); err != nil {
			return err
		}
		dst := filepath.Join(orgDir, "peers", PeerName(o))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.RemoveAll(dst); err != nil { // a folder without a certificate
			return err
		}
		if err := os.Rename(fresh, dst); err != nil {
			return err
		}
		return syncDir(filepath.Dir(dst))
	})
}

// loadHostedPeers reads the peer identity of every peer organisation, the operator's first.
func loadHostedPeers(dir string, c Consortium, operator *peerIdentity) ([]*hostedPeer, error) {
	var out []*hostedPeer
	add := func(u *User) error {
		creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: u.MSPID, IdBytes: u.CertPEM})
		if err != nil {
			return err
		}
		out = append(out, &hostedPeer{user: u, creator: creator})
		return nil
	}
	if err := add(operator.user); err != nil {
		return nil, err
	}
	for _, o := range c.Orgs {
		if !o.Peer || o.MSPID == operator.user.MSPID {
			continue
		}
		p, err := loadPeer(dir, o, nil)
		if err != nil {
			return nil, err
		}
		if err := add(p.user); err != nil {
			return nil, err
		}
	}
	return out, nil
}
