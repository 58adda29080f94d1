package network

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ImportOrganizations copies the peer organisations of a fabric-samples style organizations/
// tree (peerOrganizations/<domain>/{msp,peers,users}, as cryptogen or Fabric CA's
// registerEnroll steps write it) into the node's data directory dir and describes them, so that a node serves the network those
// identities belong to. An organisation with a peers/ folder runs a peer; the first of them
// in domain order is the operator. The MSP ID is taken from a connection profile in the
// organisation's folder (connection-*.json, as fabric-samples' test-network writes them) or
// else follows fabric-samples' convention: org1.example.com is Org1MSP.
//
// An organisation already in dir is kept as it is, unless its CA certificates differ from the
// imported ones, which is an error: a data directory belongs to one network.
func ImportOrganizations(dir, src string) ([]Org, error) {
	root := filepath.Join(src, "peerOrganizations")
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("import organizations: %w", err)
	}
	var orgs []Org
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		from := filepath.Join(root, e.Name())
		o := Org{Domain: e.Name(), MSPID: importedMSPID(from, e.Name())}
		if _, err := os.Stat(filepath.Join(from, "peers")); err == nil {
			o.Peer = true
		}
		if err := importOrg(dir, from, o); err != nil {
			return nil, fmt.Errorf("import organization %s: %w", o.Domain, err)
		}
		orgs = append(orgs, o)
	}
	if len(orgs) == 0 {
		return nil, fmt.Errorf("import organizations: %w: no organisation in %s", ErrNotFound, root)
	}
	slices.SortStableFunc(orgs, func(a, b Org) int {
		// Peer organisations first, so that the operator is the first of them.
		switch {
		case a.Peer && !b.Peer:
			return -1
		case b.Peer && !a.Peer:
			return 1
		}
		return strings.Compare(a.Domain, b.Domain)
	})
	return orgs, nil
}

// importOrg copies one organisation's folder into dir unless it is there already.
func importOrg(dir, from string, o Org) error {
	cacerts, err := readPEMDir(filepath.Join(from, "msp", "cacerts"))
	if err != nil || len(cacerts) == 0 {
		return fmt.Errorf("%w: no msp/cacerts", ErrNotFound)
	}
	// The node hosts peer0 of a peer organisation; without it, it must be able to issue one.
	if o.Peer && !fileExists(filepath.Join(from, "peers", PeerName(o))) && !fileExists(filepath.Join(from, "ca", keyFileName)) {
		return fmt.Errorf("%w: no peers/%s, and no CA key (ca/%s) to issue it", ErrInvalidConfig, PeerName(o), keyFileName)
	}
	to := OrgDir(dir, o)
	if _, err := os.Stat(to); err == nil {
		have, err := readPEMDir(filepath.Join(to, "msp", "cacerts"))
		if err != nil {
			return err
		}
		if !slices.EqualFunc(have, cacerts, bytes.Equal) {
			return fmt.Errorf("%w: the data directory holds another organisation %s (its CA certificates differ)", ErrInvalidConfig, o.Domain)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(to), "."+o.Domain+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	// Copied through writeFiles, so private keys stay readable by the owner only.
	files := map[string][]byte{}
	err = fs.WalkDir(os.DirFS(from), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		files[p], err = os.ReadFile(filepath.Join(from, filepath.FromSlash(p)))
		return err
	})
	if err != nil {
		return err
	}
	if err := writeFiles(tmp, files); err != nil {
		return err
	}
	if err := syncTree(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, to); err != nil {
		return err
	}
	return syncDir(filepath.Dir(to))
}

// importedMSPID finds the MSP ID of the organisation in folder from.
func importedMSPID(from, domain string) string {
	profiles, _ := filepath.Glob(filepath.Join(from, "connection-*.json"))
	for _, p := range profiles {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var ccp struct {
			Organizations map[string]struct {
				MSPID string `json:"mspid"`
			} `json:"organizations"`
		}
		if json.Unmarshal(b, &ccp) != nil || len(ccp.Organizations) != 1 {
			continue
		}
		for _, org := range ccp.Organizations {
			if org.MSPID != "" {
				return org.MSPID
			}
		}
	}
	label, _, _ := strings.Cut(domain, ".")
	r, n := utf8.DecodeRuneInString(label)
	return string(unicode.ToUpper(r)) + label[n:] + "MSP"
}
