package network

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

// Default names of the CareLedger consortium, shared by every component of the project.
const (
	DefaultChannel   = "careledger"
	DefaultChaincode = "careledger"
	PatientsMSP      = "PatientsMSP"
	ClinicMSP        = "ClinicMSP"
	PharmaMSP        = "PharmaMSP"
)

// Roles carried in the Fabric CA "role" attribute of CareLedger certificates.
const (
	RolePatient      = "patient"
	RoleClinician    = "clinician"
	RoleManufacturer = "manufacturer"
	RoleAnonymizer   = "anonymizer"
	RoleAdmin        = "admin"
	RoleGateway      = "gateway"
)

// Org describes one consortium member.
type Org struct {
	// MSPID is the identifier the organisation's identities carry, e.g. "PatientsMSP".
	MSPID string
	// Domain names the organisation's folder in the crypto material layout
	// (organizations/peerOrganizations/<Domain>), e.g. "patients.careledger.local".
	Domain string
	// Peer is true for organisations that hold a copy of the ledger. Client-only organisations
	// (manufacturers) never run a peer.
	Peer bool
	// CACertsPEM are extra trusted root or intermediate CA certificates of this MSP, e.g. the
	// root of the organisation's Fabric CA, so identities it issues are accepted alongside the
	// identities of the generated CA.
	CACertsPEM [][]byte
	// EndorsementPolicy is the organisation's Endorsement policy (Fabric's
	// /Channel/Application/<Org>/Endorsement), which an implicit-meta chaincode endorsement
	// policy such as "MAJORITY Endorsement" counts. Empty means OR('<MSPID>.peer').
	EndorsementPolicy string
}

// Consortium is the static description of the network: its members, channel and chaincode.
type Consortium struct {
	// Orgs lists the members. The first organisation with Peer set is the operator: its peer
	// serves the node's TLS endpoint and signs blocks. Every organisation with Peer set has a
	// peer the node hosts, which endorses as EndorsementPolicy asks.
	Orgs []Org
	// Channel is the single channel the node serves.
	Channel string
	// Chaincode is the name the chaincode is invoked by.
	Chaincode string
	// Policies are the channel's named signature policies (Fabric's
	// /Channel/Application/<name>), in Fabric's policy language, e.g.
	// "OR('PatientsMSP.peer', 'PatientsMSP.admin')". Nil means DefaultPolicies(Orgs).
	Policies map[string]string
	// ACLs maps each resource (ResourceBlock, ResourceFilteredBlock, ResourceChaincodeEvents,
	// ResourceCommitStatus) to the name of the policy in Policies that guards it, like the
	// ACLs section of a Fabric channel's configuration. Every resource must be mapped. Nil
	// means DefaultACLs().
	ACLs map[string]string
	// EndorsementPolicy is the chaincode definition's endorsement policy: a signature policy
	// in Fabric's policy language, e.g. "AND('PatientsMSP.peer','ClinicMSP.peer')", or an
	// implicit-meta policy over the organisations' Endorsement policies, "MAJORITY
	// Endorsement" (Fabric's default for a chaincode approved without a policy), "ANY
	// Endorsement" or "ALL Endorsement". Empty means DefaultEndorsementPolicy(Orgs).
	EndorsementPolicy string
}

// Resources of Fabric's core/aclmgmt that the node guards with a channel policy. A Deliver
// request for blocks with private data is checked against ResourceBlock, as on a Fabric peer.
const (
	ResourceBlock           = "event/Block"
	ResourceFilteredBlock   = "event/FilteredBlock"
	ResourceChaincodeEvents = "gateway/ChaincodeEvents"
	// ResourceCommitStatus guards asking for the status of any transaction. The creator of a
	// transaction may always learn its status, because a client needs it to submit at all.
	ResourceCommitStatus = "gateway/CommitStatus"
)

// Resources lists every resource the node guards; a configuration must map each of them.
var Resources = []string{ResourceBlock, ResourceFilteredBlock, ResourceChaincodeEvents, ResourceCommitStatus}

// PolicyStreamReaders is the name of CareLedger's default policy for streaming the ledger.
const PolicyStreamReaders = "StreamReaders"

// DefaultPolicies returns CareLedger's channel policies for orgs: StreamReaders admits the
// peers (the gateway services among them, which carry the peer node OU) and the admins of
// the organisations that run peers. A client-only organisation never holds a ledger copy, so
// nobody of it may stream blocks or events; members learn only what the chaincode answers
// them.
func DefaultPolicies(orgs []Org) map[string]string {
	var principals []string
	for _, o := range orgs {
		if o.Peer {
			principals = append(principals, "'"+o.MSPID+".peer'", "'"+o.MSPID+".admin'")
		}
	}
	return map[string]string{PolicyStreamReaders: "OR(" + strings.Join(principals, ", ") + ")"}
}

// DefaultACLs maps every resource to StreamReaders.
func DefaultACLs() map[string]string {
	acls := map[string]string{}
	for _, r := range Resources {
		acls[r] = PolicyStreamReaders
	}
	return acls
}

// DefaultEndorsementPolicy is CareLedger's chaincode endorsement policy: the peer of every
// organisation that runs one must endorse, so that no single organisation, the operator
// included, can write to the ledger alone. For the default consortium it is the test
// network's AND('PatientsMSP.peer','ClinicMSP.peer').
func DefaultEndorsementPolicy(orgs []Org) string {
	var principals []string
	for _, o := range orgs {
		if o.Peer {
			principals = append(principals, "'"+o.MSPID+".peer'")
		}
	}
	return "AND(" + strings.Join(principals, ",") + ")"
}

// withDefaults fills nil policies and ACLs and an empty endorsement policy with CareLedger's
// defaults.
func (c Consortium) withDefaults() Consortium {
	if c.Policies == nil {
		c.Policies = DefaultPolicies(c.Orgs)
	}
	if c.ACLs == nil {
		c.ACLs = DefaultACLs()
	}
	if c.EndorsementPolicy == "" {
		c.EndorsementPolicy = DefaultEndorsementPolicy(c.Orgs)
	}
	return c
}

// orgEndorsementPolicies maps every organisation to its Endorsement policy.
func (c Consortium) orgEndorsementPolicies() map[string]string {
	out := map[string]string{}
	for _, o := range c.Orgs {
		out[o.MSPID] = o.EndorsementPolicy
		if out[o.MSPID] == "" {
			out[o.MSPID] = "OR('" + o.MSPID + ".peer')"
		}
	}
	return out
}

// compileEndorsement parses the chaincode endorsement policy. Like channel policies, it may
// name only the consortium's organisations.
func (c Consortium) compileEndorsement() (*endorsementPolicy, error) {
	c = c.withDefaults()
	p, err := compileEndorsementPolicy(c.EndorsementPolicy, c.orgEndorsementPolicies())
	if err != nil {
		return nil, fmt.Errorf("%w: endorsement policy: %w", ErrInvalidConfig, err)
	}
	for _, mspID := range p.mspIDs() {
		if _, ok := c.Org(mspID); !ok {
			return nil, fmt.Errorf("%w: endorsement policy names %s, which is not a member", ErrInvalidConfig, mspID)
		}
	}
	return p, nil
}

// compileACLs parses the policy guarding each resource. Policies may name only the
// consortium's organisations: a misspelt MSP ID would silently admit nobody.
func (c Consortium) compileACLs() (map[string]*Policy, error) {
	c = c.withDefaults()
	policies := map[string]*Policy{}
	for name, expr := range c.Policies {
		if !nameRE.MatchString(name) {
			return nil, fmt.Errorf("%w: policy name %q", ErrInvalidConfig, name)
		}
		p, err := ParsePolicy(expr)
		if err != nil {
			return nil, fmt.Errorf("%w: policy %s: %w", ErrInvalidConfig, name, err)
		}
		for _, mspID := range p.MSPIDs() {
			if _, ok := c.Org(mspID); !ok {
				return nil, fmt.Errorf("%w: policy %s names %s, which is not a member", ErrInvalidConfig, name, mspID)
			}
		}
		policies[name] = p
	}
	acls := map[string]*Policy{}
	for res, name := range c.ACLs {
		if !slices.Contains(Resources, res) {
			return nil, fmt.Errorf("%w: ACL for unknown resource %q", ErrInvalidConfig, res)
		}
		p, ok := policies[name]
		if !ok {
			return nil, fmt.Errorf("%w: ACL %s names policy %q, which is not defined", ErrInvalidConfig, res, name)
		}
		acls[res] = p
	}
	for _, res := range Resources {
		if acls[res] == nil {
			return nil, fmt.Errorf("%w: no ACL for resource %s", ErrInvalidConfig, res)
		}
	}
	return acls, nil
}

// DefaultConsortium returns the CareLedger default: PatientsMSP (operator, runs a peer),
// ClinicMSP (runs a peer) and PharmaMSP (client identities only) on channel "careledger",
// with DefaultPolicies and DefaultACLs.
func DefaultConsortium() Consortium {
	return Consortium{
		Orgs: []Org{
			{MSPID: PatientsMSP, Domain: "patients.careledger.local", Peer: true},
			{MSPID: ClinicMSP, Domain: "clinic.careledger.local", Peer: true},
			{MSPID: PharmaMSP, Domain: "pharma.careledger.local", Peer: false},
		},
		Channel:   DefaultChannel,
		Chaincode: DefaultChaincode,
	}.withDefaults()
}

// ErrInvalidConfig is returned, wrapped, when a configuration cannot be used.
var ErrInvalidConfig = errors.New("invalid network configuration")

var (
	nameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	domainRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$`)
	// channelRE is Fabric's channel name rule.
	channelRE = regexp.MustCompile(`^[a-z][a-z0-9.-]*$`)
)

// Validate reports the first problem that would stop the consortium from working.
func (c Consortium) Validate() error {
	if !channelRE.MatchString(c.Channel) || len(c.Channel) > 249 {
		return fmt.Errorf("%w: channel name %q", ErrInvalidConfig, c.Channel)
	}
	if !nameRE.MatchString(c.Chaincode) {
		return fmt.Errorf("%w: chaincode name %q", ErrInvalidConfig, c.Chaincode)
	}
	if len(c.Orgs) == 0 {
		return fmt.Errorf("%w: no organisations", ErrInvalidConfig)
	}
	seen := map[string]bool{}
	peers := 0
	for _, o := range c.Orgs {
		if !nameRE.MatchString(o.MSPID) {
			return fmt.Errorf("%w: MSP ID %q", ErrInvalidConfig, o.MSPID)
		}
		if !domainRE.MatchString(o.Domain) || len(o.Domain) > 200 {
			return fmt.Errorf("%w: domain %q of %s", ErrInvalidConfig, o.Domain, o.MSPID)
		}
		key := strings.ToLower(o.MSPID)
		if seen[key] || seen["domain:"+o.Domain] {
			return fmt.Errorf("%w: duplicate organisation %s", ErrInvalidConfig, o.MSPID)
		}
		seen[key], seen["domain:"+o.Domain] = true, true
		if o.Peer {
			peers++
		}
	}
	if peers == 0 {
		return fmt.Errorf("%w: no organisation runs a peer", ErrInvalidConfig)
	}
	if _, err := c.compileACLs(); err != nil {
		return err
	}
	_, err := c.compileEndorsement()
	return err
}

// Operator returns the first peer organisation, which runs the embedded node.
func (c Consortium) Operator() Org {
	for _, o := range c.Orgs {
		if o.Peer {
			return o
		}
	}
	return Org{}
}

// Org returns the organisation with the given MSP ID.
func (c Consortium) Org(mspID string) (Org, bool) {
	for _, o := range c.Orgs {
		if o.MSPID == mspID {
			return o, true
		}
	}
	return Org{}, false
}

// Config is everything the embedded node needs.
type Config struct {
	// Consortium describes the members, channel and chaincode name.
	Consortium Consortium
	// Dir holds the crypto material (Dir/organizations/...) and the ledger (Dir/ledger).
	// Missing crypto material is generated on first use.
	Dir string
	// ListenAddr is the gRPC listen address; "127.0.0.1:0" picks a free loopback port.
	ListenAddr string
	// InsecureNoTLS serves plain gRPC. TLS is on by default, as on a Fabric peer.
	InsecureNoTLS bool
	// TLSHosts are extra DNS names or IP addresses for the node's TLS server certificate;
	// localhost, 127.0.0.1 and the peer's own host name are always included.
	TLSHosts []string
	// Chaincode is the in-process chaincode invoked for Config.Consortium.Chaincode.
	Chaincode shim.Chaincode
	// External, used instead of Chaincode, is a chaincode server (chaincode as a service) the
	// node dials like a Fabric peer with the ccaas builder.
	External *ExternalChaincode
	// ExecuteTimeout bounds one chaincode execution (Fabric's chaincode.executetimeout).
	ExecuteTimeout time.Duration
	// BatchSize is the most transactions cut into one block (Fabric's MaxMessageCount).
	BatchSize int
	// BatchBytes is the size at which a block is cut even if BatchSize is not reached
	// (Fabric's PreferredMaxBytes); a single larger transaction gets a block of its own.
	BatchBytes int
	// MaxTxBytes is the largest transaction envelope Submit accepts (Fabric's AbsoluteMaxBytes).
	MaxTxBytes int
	// BatchTimeout is how long the orderer waits for more transactions once a block has been
	// started. Zero cuts a block as soon as the committer is free, which keeps single-client
	// latency low while load still batches naturally behind the fsync of the previous block.
	BatchTimeout time.Duration
	// MaxClockSkew is how far a proposal's timestamp may be from the node's clock before it is
	// rejected as stale (or as from the future).
	MaxClockSkew time.Duration
}

// Defaults applied by New for zero fields.
const (
	DefaultBatchSize    = 500
	DefaultBatchBytes   = 2 << 20
	DefaultMaxTxBytes   = 10 << 20
	DefaultMaxClockSkew = 15 * time.Minute
	DefaultListenAddr   = "127.0.0.1:7051"
	DefaultExecTimeout  = 30 * time.Second
)

func (c *Config) applyDefaults() {
	if c.Consortium.Orgs == nil {
		def := DefaultConsortium()
		c.Consortium.Orgs = def.Orgs
	}
	if c.Consortium.Channel == "" {
		c.Consortium.Channel = DefaultChannel
	}
	if c.Consortium.Chaincode == "" {
		c.Consortium.Chaincode = DefaultChaincode
	}
	c.Consortium = c.Consortium.withDefaults()
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchBytes <= 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.MaxTxBytes <= 0 {
		c.MaxTxBytes = DefaultMaxTxBytes
	}
	if c.ExecuteTimeout <= 0 {
		c.ExecuteTimeout = DefaultExecTimeout
	}
	if c.MaxClockSkew <= 0 {
		c.MaxClockSkew = DefaultMaxClockSkew
	}
}
