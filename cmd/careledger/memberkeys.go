package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

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

// migrateMemberKeys moves into w, encrypted with pass, the member keys that releases before
// enrolment by CSR wrote in clear into the node's material (users/<label>@<domain>/msp/keystore
// and tls/client.key), then deletes the plaintext files. A key already in the wallet (the demo
// identities and `admin enrol` put a copy there) is not stored twice. The node's own service
// identities keep their keys. It returns the number of key files removed, and what it could
// not move, which it leaves in place.
func migrateMemberKeys(netDir string, cons network.Consortium, w *wallet.Wallet, pass []byte) (int, error) {
	moved := 0
	var errs []error
	for _, o := range cons.Orgs {
		entries, err := os.ReadDir(filepath.Join(network.OrgDir(netDir, o), "users"))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return moved, fmt.Errorf("move member keys into the wallet: %w", err)
		}
		for _, e := range entries {
			name, ok := strings.CutSuffix(e.Name(), "@"+o.Domain)
			if !e.IsDir() || !ok || network.ServiceUser(cons, o, name) {
				continue
			}
			n, err := migrateUser(filepath.Join(network.OrgDir(netDir, o), "users", e.Name()), o, name, w, pass)
			moved += n
			if err != nil {
				errs = append(errs, fmt.Errorf("move the keys of %s of %s into the wallet: %w", name, o.MSPID, err))
			}
		}
	}
	return moved, errors.Join(errs...)
}

func migrateUser(userDir string, o network.Org, name string, w *wallet.Wallet, pass []byte) (int, error) {
	keyFiles, err := filepath.Glob(filepath.Join(userDir, "msp", "keystore", "*"))
	if err != nil {
		return 0, err
	}
	tlsKey := filepath.Join(userDir, "tls", "client.key")
	if _, err := os.Stat(tlsKey); err == nil {
		keyFiles = append(keyFiles, tlsKey)
	}
	if len(keyFiles) == 0 {
		return 0, nil
	}
	var label string
	if _, err := os.Stat(filepath.Join(userDir, "msp", "keystore")); err == nil {
		id, err := wallet.ImportMSP(filepath.Join(userDir, "msp"), o.MSPID)
		if err != nil {
			return 0, err
		}
		if label, err = keepInWallet(w, id, pass, name, name+"@"+o.Domain); err != nil {
			return 0, err
		}
	}
	if slices.Contains(keyFiles, tlsKey) {
		id, err := importTLS(userDir, o.MSPID)
		if err != nil {
			return 0, err
		}
		if label == "" {
			label = name
		}
		if _, err := keepInWallet(w, id, pass, label+"-tls", name+"@"+o.Domain+"-tls"); err != nil {
			return 0, err
		}
	}
	removed := 0
	for _, f := range keyFiles {
		if err := wallet.RemovePlaintextKey(f); err != nil {
			return removed, err
		}
		removed++
	}
	return removed, nil
}

func importTLS(userDir, mspID string) (*wallet.Identity, error) {
	var files [3][]byte
	for i, n := range []string{"client.crt", "client.key", "ca.crt"} {
		b, err := os.ReadFile(filepath.Join(userDir, "tls", n))
		if err != nil && !(n == "ca.crt" && errors.Is(err, fs.ErrNotExist)) {
			return nil, err
		}
		files[i] = b
	}
	defer clear(files[1])
	return wallet.ImportKeyPair(mspID, files[0], files[1], files[2])
}

// keepInWallet makes sure w holds id, under the label that already holds its certificate or
// else under the first free label of labels, and that it opens with pass before the
// plaintext key goes. It returns the label.
func keepInWallet(w *wallet.Wallet, id *wallet.Identity, pass []byte, labels ...string) (string, error) {
	have, err := w.List()
	if err != nil {
		return "", err
	}
	for _, l := range have {
		if _, cert, err := w.Certificate(l); err == nil && bytes.Equal(cert.Raw, id.Certificate().Raw) {
			return l, nil
		}
	}
	for _, l := range labels {
		if slices.Contains(have, l) {
			continue
		}
		if err := w.Put(l, id, pass); err != nil {
			return "", err
		}
		if _, err := w.Get(l, pass); err != nil {
			return "", fmt.Errorf("check the stored key: %w", err)
		}
		return l, nil
	}
	return "", fmt.Errorf("the wallet labels %v are taken by other identities", labels)
}
