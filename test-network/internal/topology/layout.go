package topology

import "path"

// Layout names every file of the build directory, in the folder layout of fabric-samples
// (organizations/peerOrganizations/<domain>/peers/<host>/{msp,tls}, users/<name>@<domain>/msp)
// so Fabric's own tools and documentation apply unchanged. Paths are slash-separated and
// relative to the build directory; Layout.Root turns them into the paths a node sees.
type Layout struct {
	// Root is prefixed to every path: the absolute build directory for native nodes,
	// ContainerRoot inside containers, "" for paths relative to the build directory.
	Root string
}

// P joins Root and the relative path rel.
func (l Layout) P(rel string) string {
	if l.Root == "" {
		return rel
	}
	return path.Join(l.Root, rel)
}

// OrgDir is the organisation's folder (application organisations).
func OrgDir(o Org) string { return path.Join("organizations", "peerOrganizations", o.Domain) }

// OrdererOrgDir is the ordering organisation's folder.
func OrdererOrgDir(o OrdererOrg) string {
	return path.Join("organizations", "ordererOrganizations", o.Domain)
}

// PeerDir is a peer's folder, holding msp/ and tls/.
func PeerDir(o Org, p Peer) string { return path.Join(OrgDir(o), "peers", p.Host) }

// OrdererDir is an orderer's folder, holding msp/ and tls/.
func OrdererDir(o OrdererOrg, n Orderer) string {
	return path.Join(OrdererOrgDir(o), "orderers", n.Host)
}

// CCServerDir is the folder of the organisation's chaincode server, holding tls/.
func CCServerDir(o Org) string { return path.Join(OrgDir(o), "ccaas") }

// UserName is the folder name of a user, fabric-samples style: Admin@domain for the admin.
func UserName(domain string, u User) string {
	if u.Label == "admin" {
		return "Admin@" + domain
	}
	return u.Label + "@" + domain
}

// UserMSPDir is a user's msp folder.
func UserMSPDir(o Org, u User) string {
	return path.Join(OrgDir(o), "users", UserName(o.Domain, u), "msp")
}

// OrdererAdmin is the ordering organisation's administrator.
var OrdererAdmin = User{Label: "admin", Role: "admin", Type: "admin"}

// OrdererAdminMSPDir is the ordering organisation administrator's msp folder.
func OrdererAdminMSPDir(o OrdererOrg) string {
	return path.Join(OrdererOrgDir(o), "users", UserName(o.Domain, OrdererAdmin), "msp")
}

// CAHome is a CA's home directory (its key, certificate and database).
func CAHome(ca CA) string { return path.Join("ca", ca.Name) }

// CACert is the CA certificate fabric-ca-server writes on first start; the CA signs its own
// TLS certificate with it, so it is also the root enrolment trusts.
func CACert(ca CA) string { return path.Join(CAHome(ca), "ca-cert.pem") }

// CASecret is the file holding the CA's bootstrap administrator secret, random per build.
func CASecret(ca CA) string { return path.Join(CAHome(ca), "bootstrap-secret") }

// NodeConfigDir is a node's FABRIC_CFG_PATH (core.yaml or orderer.yaml).
func NodeConfigDir(host string) string { return path.Join("nodes", host) }

// DataDir is where a native node keeps its ledger.
func DataDir(host string) string { return path.Join("data", host) }

// Files of the build directory that are not per node.
const (
	ConfigtxDir      = "configtx"
	GenesisBlock     = "channel-artifacts/genesis.block"
	ChaincodePackage = "chaincode/careledger.tar.gz"
	PackageIDFile    = "chaincode/package-id"
	RolePolicyFile   = "chaincode/role-policy.json"
	ConnectionFile   = "careledger-connection.json"
	ComposeEnvFile   = "compose.env"
)
