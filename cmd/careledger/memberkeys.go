package main

import (
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet"
)

// enrolByCSR creates a member's key in this process and has the embedded consortium's CA in
// netDir certify it from a signing request, as Fabric CA enrolment does: the CA writes the
// certificate, never the key. The caller stores the identity in the wallet.
func enrolByCSR(netDir string, org network.Org, spec network.UserSpec) (*wallet.Identity, error) {
	key, err := wallet.GenerateKey()
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, fmt.Errorf("create csr: %w", err)
	}
	u, err := network.IssueUserFromCSR(netDir, org, spec, csr)
	if err != nil {
		return nil, err
	}
	chain, err := readPEMDir(filepath.Join(u.Dir, "msp", "cacerts"))
	if err != nil {
		return nil, err
	}
	return wallet.NewIdentity(org.MSPID, u.CertPEM, key, chain)
}

// freeUserName is the first of <base>1, <base>2, ... that names no user of org yet: a
// wallet that lost its demo identity gets a new one rather than fail on the old certificate.
func freeUserName(netDir string, org network.Org, base string) string {
	for i := 1; ; i++ {
		name := fmt.Sprintf("%s%d", base, i)
		if _, err := os.Stat(filepath.Join(network.OrgDir(netDir, org), "users", name+"@"+org.Domain)); errors.Is(err, fs.ErrNotExist) {
			return name
		}
	}
}

func readPEMDir(dir string) ([]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pem"))
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	var out []byte
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, b...)
	}
	return out, nil
}
