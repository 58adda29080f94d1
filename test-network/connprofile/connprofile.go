// Package connprofile is the connection file test-network/network.sh writes
// (build/careledger-connection.json) and CareLedger reads to run its gateway and API against
// a real Fabric network instead of the embedded ledger: per organisation its MSP ID, its
// peers' endpoints and TLS settings, its CA, and the identities enrolled for each role.
//
// Paths in the file are relative to the file's own folder, so the build directory can be
// moved or mounted elsewhere; Load resolves them to absolute paths.
package connprofile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Version is the format version this package reads and writes.
const Version = 1

// ErrInvalid is wrapped by every error about the content of a connection file.
var ErrInvalid = errors.New("invalid connection file")

// Profile is a connection file.
type Profile struct {
	// Version of the format, currently 1.
	Version int `json:"version"`
	// Name of the network, informational.
	Name string `json:"name"`
	// Channel and Chaincode the gateway submits to.
	Channel   string `json:"channel"`
	Chaincode string `json:"chaincode"`
	// Organizations, keyed by MSP ID.
	Organizations map[string]*Organization `json:"organizations"`
}

// Organization is one member organisation.
type Organization struct {
	MSPID string `json:"mspId"`
	// TLSCACert is the PEM root that issued the TLS certificates of the organisation's
	// peers and CA.
	TLSCACert string `json:"tlsCACert"`
	// Peers is empty for organisations that run none (manufacturers); their members use
	// another organisation's peer as gateway.
	Peers []Peer `json:"peers"`
	// CA is the organisation's Fabric CA.
	CA *CA `json:"ca,omitempty"`
	// Identities enrolled for the organisation, keyed by CareLedger role.
	Identities map[string][]Identity `json:"identities"`
}

// Peer is a Fabric Gateway endpoint.
type Peer struct {
	Name string `json:"name"`
	// Endpoint is host:port as reachable from where CareLedger runs.
	Endpoint string `json:"endpoint"`
	// TLSServerName is the name to verify the peer's certificate against (gRPC's
	// ssl_target_name_override), its host name in the network.
	TLSServerName string `json:"tlsServerName"`
}

// CA is a Fabric CA server.
type CA struct {
	Name string `json:"name"`
	// URL is https://host:port.
	URL string `json:"url"`
	// TLSCACert is the PEM certificate that verifies the CA's TLS certificate.
	TLSCACert string `json:"tlsCACert"`
}

// Identity is an enrolled identity in the fabric-samples MSP layout.
type Identity struct {
	// Name is the identity's folder name, e.g. "Admin@patients.careledger.test".
	Name string `json:"name"`
	// EnrollmentID is the CA's ID for it (a random pseudonym for patients).
	EnrollmentID string `json:"enrollmentId"`
	// MSPDir is the msp folder; Cert and Key are its signcerts and keystore files.
	MSPDir string `json:"mspDir"`
	Cert   string `json:"cert"`
	Key    string `json:"key"`
}

// Roles a connection file may list identities for; the chaincode's vocabulary.
var Roles = []string{"patient", "clinician", "manufacturer", "anonymizer", "admin", "gateway"}

var (
	mspIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	namePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,248}$`)
)

// Parse decodes a connection file and checks it. Paths stay as written.
func Parse(data []byte) (*Profile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Profile
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse connection file: %w: %w", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse connection file: %w: data after the JSON object", ErrInvalid)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("parse connection file: %w", err)
	}
	return &p, nil
}

// Load reads and checks the connection file at path and makes every path in it absolute,
// relative to the file's folder. It does not check that the files exist: the network may
// still be enrolling.
func Load(path string) (*Profile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load connection file: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("load connection file: %w", err)
	}
	p.resolve(dir)
	return p, nil
}

func (p *Profile) resolve(dir string) {
	abs := func(s *string) {
		if *s != "" && !filepath.IsAbs(*s) {
			*s = filepath.Join(dir, filepath.FromSlash(*s))
		}
	}
	for _, o := range p.Organizations {
		abs(&o.TLSCACert)
		if o.CA != nil {
			abs(&o.CA.TLSCACert)
		}
		for _, ids := range o.Identities {
			for i := range ids {
				abs(&ids[i].MSPDir)
				abs(&ids[i].Cert)
				abs(&ids[i].Key)
			}
		}
	}
}

// Validate checks the profile's structure: version, names, endpoints, roles and that every
// identity names its files. It touches no file.
func (p *Profile) Validate() error {
	if p.Version != Version {
		return fmt.Errorf("%w: version %d, want %d", ErrInvalid, p.Version, Version)
	}
	if !namePattern.MatchString(p.Channel) {
		return fmt.Errorf("%w: channel %q", ErrInvalid, p.Channel)
	}
	if !namePattern.MatchString(p.Chaincode) {
		return fmt.Errorf("%w: chaincode %q", ErrInvalid, p.Chaincode)
	}
	if len(p.Organizations) == 0 {
		return fmt.Errorf("%w: no organizations", ErrInvalid)
	}
	peers := 0
	for key, o := range p.Organizations {
		if o == nil {
			return fmt.Errorf("%w: organization %q is null", ErrInvalid, key)
		}
		if o.MSPID != key || !mspIDPattern.MatchString(o.MSPID) {
			return fmt.Errorf("%w: organization %q has mspId %q", ErrInvalid, key, o.MSPID)
		}
		if err := checkPath(o.TLSCACert, len(o.Peers) > 0); err != nil {
			return fmt.Errorf("%w: %s tlsCACert: %w", ErrInvalid, key, err)
		}
		for i, pe := range o.Peers {
			if err := checkEndpoint(pe.Endpoint); err != nil {
				return fmt.Errorf("%w: %s peers[%d]: %w", ErrInvalid, key, i, err)
			}
			if pe.TLSServerName == "" || strings.ContainsAny(pe.TLSServerName, ":/ ") {
				return fmt.Errorf("%w: %s peers[%d]: tlsServerName %q", ErrInvalid, key, i, pe.TLSServerName)
			}
		}
		peers += len(o.Peers)
		if o.CA != nil {
			if !strings.HasPrefix(o.CA.URL, "https://") {
				return fmt.Errorf("%w: %s ca url %q: want https://host:port", ErrInvalid, key, o.CA.URL)
			}
			if err := checkEndpoint(strings.TrimPrefix(o.CA.URL, "https://")); err != nil {
				return fmt.Errorf("%w: %s ca url: %w", ErrInvalid, key, err)
			}
			if err := checkPath(o.CA.TLSCACert, true); err != nil {
				return fmt.Errorf("%w: %s ca tlsCACert: %w", ErrInvalid, key, err)
			}
		}
		for role, ids := range o.Identities {
			if !slices.Contains(Roles, role) {
				return fmt.Errorf("%w: %s: unknown role %q", ErrInvalid, key, role)
			}
			for i, id := range ids {
				for field, v := range map[string]string{"mspDir": id.MSPDir, "cert": id.Cert, "key": id.Key} {
					if err := checkPath(v, true); err != nil {
						return fmt.Errorf("%w: %s %s[%d] %s: %w", ErrInvalid, key, role, i, field, err)
					}
				}
				if id.EnrollmentID == "" {
					return fmt.Errorf("%w: %s %s[%d]: empty enrollmentId", ErrInvalid, key, role, i)
				}
			}
		}
	}
	if peers == 0 {
		return fmt.Errorf("%w: no organization has a peer", ErrInvalid)
	}
	return nil
}

func checkEndpoint(ep string) error {
	host, port, ok := strings.Cut(ep, ":")
	if !ok || host == "" || strings.ContainsAny(host, "/ @") {
		return fmt.Errorf("endpoint %q: want host:port", ep)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("endpoint %q: bad port", ep)
	}
	return nil
}

func checkPath(p string, required bool) error {
	if p == "" {
		if required {
			return errors.New("missing path")
		}
		return nil
	}
	if strings.ContainsRune(p, 0) {
		return errors.New("path contains NUL")
	}
	return nil
}

// Org returns the organisation with mspID.
func (p *Profile) Org(mspID string) (*Organization, bool) {
	o, ok := p.Organizations[mspID]
	return o, ok
}

// Identity returns the first identity of role in the organisation mspID.
func (p *Profile) Identity(mspID, role string) (Identity, bool) {
	o, ok := p.Organizations[mspID]
	if !ok || len(o.Identities[role]) == 0 {
		return Identity{}, false
	}
	return o.Identities[role][0], true
}

// GatewayPeer returns the peer a member of mspID should connect to: its own organisation's
// first peer, or, for organisations without peers, the first peer of the first organisation
// in MSP ID order that has one (a stable choice).
func (p *Profile) GatewayPeer(mspID string) (Peer, *Organization, bool) {
	if o, ok := p.Organizations[mspID]; ok && len(o.Peers) > 0 {
		return o.Peers[0], o, true
	}
	keys := make([]string, 0, len(p.Organizations))
	for k := range p.Organizations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if o := p.Organizations[k]; len(o.Peers) > 0 {
			return o.Peers[0], o, true
		}
	}
	return Peer{}, nil, false
}

// Marshal encodes the profile as indented JSON with a trailing newline.
func (p *Profile) Marshal() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("marshal connection file: %w", err)
	}
	out, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal connection file: %w", err)
	}
	return append(out, '\n'), nil
}
