// Package topology describes the CareLedger test network: its organisations, their CAs, peers
// and identities, the Raft ordering service, and the ports every node listens on. It is the
// one place the generator, the enrolment step and the connection file take names and
// addresses from, so they cannot disagree.
package topology

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Mode says how the nodes run, which decides the addresses nodes use to reach each other and
// the paths inside their configuration.
type Mode string

const (
	// Native runs Fabric's binaries as local processes; every node listens on 127.0.0.1.
	Native Mode = "native"
	// Docker runs Fabric's official images with Compose; nodes reach each other by host name
	// on a private bridge network and publish their ports on the host's 127.0.0.1 only.
	Docker Mode = "docker"
)

// ParseMode accepts "native" or "docker".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Native, Docker:
		return m, nil
	}
	return "", fmt.Errorf("parse mode %q: want %q or %q", s, Native, Docker)
}

// Loopback is the only address ports are bound to on the host, in both modes.
const Loopback = "127.0.0.1"

// ContainerRoot is where the build directory is mounted inside the Docker containers.
const ContainerRoot = "/etc/hyperledger/careledger"

// Network is the whole consortium.
type Network struct {
	// Domain is the DNS suffix of every node; .test is reserved (RFC 2606), so it can never
	// collide with a real name.
	Domain string
	// Channel and Chaincode are the names the CareLedger gateway uses.
	Channel   string
	Chaincode string
	// ChaincodeVersion and ChaincodeLabel identify the CCAAS package.
	ChaincodeVersion string
	ChaincodeLabel   string
	// EndorsementPolicy is the chaincode's signature policy: no single organisation can
	// produce a valid transaction.
	EndorsementPolicy string
	// Orderer is the ordering organisation; Orgs the application organisations.
	Orderer OrdererOrg
	Orgs    []Org
}

// CA is one fabric-ca-server.
type CA struct {
	// Name is the CA name (--ca.name), also the container name's first label.
	Name string
	// Host is its DNS name, Port the API port, OpsPort the operations (metrics) port.
	Host    string
	Port    int
	OpsPort int
}

// URL is the address enrolment uses from the host.
func (c CA) URL() string { return "https://" + Loopback + ":" + strconv.Itoa(c.Port) }

// OrdererOrg is the ordering service's organisation.
type OrdererOrg struct {
	Name   string // short name, e.g. "orderer"
	MSPID  string
	Domain string
	CA     CA
	Nodes  []Orderer
}

// Orderer is one Raft consenter.
type Orderer struct {
	Name      string // e.g. "orderer1"
	Host      string // e.g. "orderer1.orderer.careledger.test"
	Port      int    // broadcast/deliver and Raft cluster traffic
	AdminPort int    // channel participation API (osnadmin)
	OpsPort   int
}

// Org is an application organisation.
type Org struct {
	Name   string // short name, e.g. "patients"
	MSPID  string
	Domain string // e.g. "patients.careledger.test"
	CA     CA
	// Peers is empty for organisations that hold no ledger copy (manufacturers).
	Peers []Peer
	// CCServer is the organisation's own chaincode server (CCAAS), nil without peers: each
	// organisation's peers only talk to the chaincode process their organisation runs.
	CCServer *CCServer
	// Users are the client identities enrolled for the organisation.
	Users []User
}

// Peer is one peer node.
type Peer struct {
	Name          string // e.g. "peer0"
	Host          string // e.g. "peer0.patients.careledger.test"
	Port          int    // gRPC: endorsement, gateway, deliver, gossip
	ChaincodePort int    // listener for chaincode launched by the peer (unused with CCAAS, still bound)
	OpsPort       int
}

// CCServer is a chaincode-as-a-service process.
type CCServer struct {
	Host string // e.g. "ccaas.patients.careledger.test"
	Port int
}

// User is a client identity registered with the organisation's CA.
type User struct {
	// Label names the identity's folder and its entry in the connection file; it never
	// reaches a certificate for patients, whose enrollment IDs are random.
	Label string
	// Role is the CareLedger role written as the ecert attribute "role".
	Role string
	// Type is the Fabric CA identity type, which becomes the node OU channel policies name:
	// "admin" for organisation administrators (the admin OU makes them MSP admins), "peer"
	// for the gateway service of an organisation that runs peers (it follows blocks and
	// events, which StreamReaders grants to peers), "client" otherwise, also for the gateway
	// of a client-only organisation (it only acts for its members; it never streams).
	Type string
	// Pseudonymous users get a random enrollment ID instead of Label.
	Pseudonymous bool
}

// SuitePrefix starts the labels of the identities that only the end-to-end suite uses. They
// come after each organisation's other users, so that `careledger up --fabric`, which acts
// as the first identity of each role, starts with a patient, clinician and manufacturer the
// suite never wrote anything for.
const SuitePrefix = "e2e-"

// EnrollmentID is the ID the user is registered under, unless Pseudonymous.
func (u User) EnrollmentID(org Org) string { return org.Name + "-" + u.Label }

// Default is the CareLedger consortium of ARCHITECTURE.md: PatientsMSP (operator, one peer),
// ClinicMSP (two peers), PharmaMSP (CA and client identities only) and three Raft orderers.
func Default() Network {
	const domain = "careledger.test"
	ca := func(org string, port, ops int) CA {
		return CA{Name: "ca-" + org, Host: "ca." + org + "." + domain, Port: port, OpsPort: ops}
	}
	peer := func(name, org string, port, ops int) Peer {
		return Peer{Name: name, Host: name + "." + org + "." + domain, Port: port, ChaincodePort: port + 1, OpsPort: ops}
	}
	orderer := func(n, port, ops int) Orderer {
		name := "orderer" + strconv.Itoa(n)
		return Orderer{Name: name, Host: name + ".orderer." + domain, Port: port, AdminPort: port + 3, OpsPort: ops}
	}
	admin := User{Label: "admin", Role: "admin", Type: "admin"}
	gateway := User{Label: "gateway", Role: "gateway", Type: "peer"}
	return Network{
		Domain:            domain,
		Channel:           "careledger",
		Chaincode:         "careledger",
		ChaincodeVersion:  "1.0",
		ChaincodeLabel:    "careledger_1.0",
		EndorsementPolicy: "AND('PatientsMSP.peer','ClinicMSP.peer')",
		Orderer: OrdererOrg{
			Name: "orderer", MSPID: "OrdererMSP", Domain: "orderer." + domain,
			CA: ca("orderer", 6054, 9450),
			Nodes: []Orderer{
				orderer(1, 7050, 9443),
				orderer(2, 7150, 9444),
				orderer(3, 7250, 9445),
			},
		},
		Orgs: []Org{
			{
				Name: "patients", MSPID: "PatientsMSP", Domain: "patients." + domain,
				CA:       ca("patients", 7054, 9451),
				Peers:    []Peer{peer("peer0", "patients", 7051, 9446)},
				CCServer: &CCServer{Host: "ccaas.patients." + domain, Port: 7060},
				Users: []User{
					admin, gateway,
					{Label: "anonymizer", Role: "anonymizer", Type: "client"},
					{Label: "patient1", Role: "patient", Type: "client", Pseudonymous: true},
					{Label: "patient2", Role: "patient", Type: "client", Pseudonymous: true},
					{Label: SuitePrefix + "patient", Role: "patient", Type: "client", Pseudonymous: true},
				},
			},
			{
				Name: "clinic", MSPID: "ClinicMSP", Domain: "clinic." + domain,
				CA: ca("clinic", 9054, 9452),
				Peers: []Peer{
					peer("peer0", "clinic", 9051, 9447),
					peer("peer1", "clinic", 10051, 9448),
				},
				CCServer: &CCServer{Host: "ccaas.clinic." + domain, Port: 9060},
				Users: []User{
					admin, gateway,
					{Label: "clinician1", Role: "clinician", Type: "client"},
					{Label: "clinician2", Role: "clinician", Type: "client"},
					{Label: SuitePrefix + "clinician", Role: "clinician", Type: "client"},
				},
			},
			{
				Name: "pharma", MSPID: "PharmaMSP", Domain: "pharma." + domain,
				CA: ca("pharma", 11054, 9453),
				Users: []User{
					admin,
					// A client: its organisation holds no ledger copy, so it streams nothing.
					{Label: "gateway", Role: "gateway", Type: "client"},
					{Label: "manufacturer1", Role: "manufacturer", Type: "client"},
					{Label: SuitePrefix + "manufacturer", Role: "manufacturer", Type: "client"},
				},
			},
		},
	}
}

// StreamReaders is the channel's signature policy of who may stream blocks and chaincode
// events and read blocks through qscc: the peers (gateway services among them) and admins of
// the organisations that run peers. A client-only organisation never holds a ledger copy.
func (n Network) StreamReaders() string {
	return "OR(" + strings.Join(n.streamPrincipals(), ", ") + ")"
}

// ChannelReaders is the channel's /Channel/Readers policy, which the orderers check for
// Deliver: the ordering service's own members (to replicate the chain) and StreamReaders.
// The default, ANY Readers, would let every member of every organisation pull blocks.
func (n Network) ChannelReaders() string {
	return "OR(" + strings.Join(append([]string{"'" + n.Orderer.MSPID + ".member'"}, n.streamPrincipals()...), ", ") + ")"
}

func (n Network) streamPrincipals() []string {
	var out []string
	for _, o := range n.PeerOrgs() {
		out = append(out, "'"+o.MSPID+".peer'", "'"+o.MSPID+".admin'")
	}
	return out
}

// PeerOrgs returns the organisations that run peers.
func (n Network) PeerOrgs() []Org {
	var out []Org
	for _, o := range n.Orgs {
		if len(o.Peers) > 0 {
			out = append(out, o)
		}
	}
	return out
}

// Addr is how other nodes reach host:port in mode: the loopback address natively, the host
// name on the Compose network.
func Addr(mode Mode, host string, port int) string {
	if mode == Docker {
		return host + ":" + strconv.Itoa(port)
	}
	return Loopback + ":" + strconv.Itoa(port)
}

// HostAddr is how programs on the host reach a published port, in either mode.
func HostAddr(port int) string { return Loopback + ":" + strconv.Itoa(port) }

// ListenAddr is the address a node binds: loopback natively, every interface of the
// container under Docker (Compose publishes it on the host's loopback only).
func ListenAddr(mode Mode, port int) string {
	if mode == Docker {
		return "0.0.0.0:" + strconv.Itoa(port)
	}
	return Loopback + ":" + strconv.Itoa(port)
}

// Ports lists every port the network binds on the host, for the prerequisite check and the
// uniqueness test.
func (n Network) Ports() []int {
	var ps []int
	ps = append(ps, n.Orderer.CA.Port, n.Orderer.CA.OpsPort)
	for _, o := range n.Orderer.Nodes {
		ps = append(ps, o.Port, o.AdminPort, o.OpsPort)
	}
	for _, org := range n.Orgs {
		ps = append(ps, org.CA.Port, org.CA.OpsPort)
		for _, p := range org.Peers {
			ps = append(ps, p.Port, p.ChaincodePort, p.OpsPort)
		}
		if org.CCServer != nil {
			ps = append(ps, org.CCServer.Port)
		}
	}
	return ps
}

// Org returns the organisation with the given MSP ID.
func (n Network) Org(mspID string) (Org, bool) {
	for _, o := range n.Orgs {
		if o.MSPID == mspID {
			return o, true
		}
	}
	return Org{}, false
}

// RoleRule lists the MSPs allowed to issue one CareLedger role.
type RoleRule struct {
	Role string   `json:"role"`
	MSPs []string `json:"msps"`
}

// RolePolicy is the chaincode's role policy for this consortium (SetRolePolicy): patients
// and the anonymiser only from the operator, clinicians only from the clinic, manufacturers
// only from pharma, gateways from every organisation that enrols one (a gateway acts only for
// its own organisation's members, so the API can serve manufacturers too), and an
// administrator in every organisation. Without it a manufacturer's CA could mint a clinician.
func (n Network) RolePolicy() []RoleRule {
	var all []string
	for _, o := range n.Orgs {
		all = append(all, o.MSPID)
	}
	issuers := map[string][]string{}
	for _, o := range n.Orgs {
		for _, u := range o.Users {
			if u.Role == "admin" {
				continue
			}
			if !slices.Contains(issuers[u.Role], o.MSPID) {
				issuers[u.Role] = append(issuers[u.Role], o.MSPID)
			}
		}
	}
	// The chaincode's order of roles and sorted MSP IDs, so the file reads exactly as
	// GetRolePolicy returns the stored policy.
	slices.Sort(all)
	for role := range issuers {
		slices.Sort(issuers[role])
	}
	rules := []RoleRule{}
	for _, role := range []string{"patient", "clinician", "manufacturer", "anonymizer", "admin", "gateway"} {
		switch role {
		case "admin":
			rules = append(rules, RoleRule{Role: role, MSPs: all})
		default:
			if len(issuers[role]) > 0 {
				rules = append(rules, RoleRule{Role: role, MSPs: issuers[role]})
			}
		}
	}
	return rules
}
