// Package networktest provides test fixtures for the embedded ledger node.
package networktest

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/careledger/careledger/network"
)

// Members gives the consortium c in dir the demo members tests and benchmarks sign as:
// patient1 in the operator's organisation, clinician1 in ClinicMSP (or another organisation
// with a peer) and manufacturer1 in each organisation without a peer. Unlike the product, which
// enrols members by CSR and never writes their keys, it writes each key in clear to
// users/<name>@<domain>/msp/keystore/priv_sk (0600), as the release before did, so
// network.LoadUser finds it: a fixture for tests only. Members already there are kept.
func Members(dir string, c network.Consortium) error {
	for _, o := range c.Orgs {
		var spec network.UserSpec
		switch {
		case o.MSPID == network.PharmaMSP || !o.Peer:
			spec = network.UserSpec{Name: "manufacturer1", Role: network.RoleManufacturer}
		case o.MSPID == network.ClinicMSP:
			spec = network.UserSpec{Name: "clinician1", Role: network.RoleClinician}
		}
		specs := []network.UserSpec{spec}
		if o.MSPID == c.Operator().MSPID {
			specs = append(specs, network.UserSpec{Name: "patient1", Role: network.RolePatient})
		}
		for _, spec := range specs {
			if spec.Name == "" {
				continue
			}
			if err := member(dir, o, spec); err != nil {
				return fmt.Errorf("test member %s of %s: %w", spec.Name, o.MSPID, err)
			}
		}
	}
	return nil
}

func member(dir string, o network.Org, spec network.UserSpec) error {
	if u, err := network.LoadUser(dir, o, spec.Name); err == nil && u.Key != nil {
		return nil
	} else if err != nil && !errors.Is(err, network.ErrNotFound) {
		return err
	}
	u, err := network.IssueUser(dir, o, spec)
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKCS8PrivateKey(u.Key)
	if err != nil {
		return err
	}
	ks := filepath.Join(u.Dir, "msp", "keystore")
	if err := os.MkdirAll(ks, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(ks, "priv_sk"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}
