package wallet

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/careledger/careledger/wallet/internal/atrest"
)

// ImportMSP reads an identity from a directory in the fabric-samples MSP layout, as written
// by cryptogen and fabric-ca-client: signcerts/*.pem holds the certificate, keystore/*_sk the
// PEM private key, and cacerts/*.pem (optional) the CA certificates. dir is the msp folder
// itself. When keystore holds several keys (left by re-enrolments), the one matching the
// certificate is used.
func ImportMSP(dir, mspID string) (*Identity, error) {
	certs, err := readPEMFiles(filepath.Join(dir, "signcerts"), "*.pem")
	if err != nil {
		return nil, fmt.Errorf("import msp %s: %w", dir, err)
	}
	if len(certs) != 1 {
		return nil, fmt.Errorf("import msp %s: %w: signcerts holds %d certificates, want 1", dir, ErrInvalidIdentity, len(certs))
	}
	cert, err := parseCertPEM(certs[0])
	if err != nil {
		return nil, fmt.Errorf("import msp %s: signcerts: %w", dir, err)
	}
	keys, err := readPEMFiles(filepath.Join(dir, "keystore"), "*_sk")
	if err != nil {
		return nil, fmt.Errorf("import msp %s: %w", dir, err)
	}
	var key *ecdsa.PrivateKey
	for _, k := range keys {
		block, _ := pem.Decode(k)
		if block == nil {
			continue
		}
		pk, err := parsePrivateKey(block.Bytes)
		if err != nil {
			continue
		}
		if pub, ok := cert.PublicKey.(*ecdsa.PublicKey); ok && pub.Equal(&pk.PublicKey) {
			key = pk
			break
		}
	}
	if key == nil {
		return nil, fmt.Errorf("import msp %s: %w: no key in keystore matches the certificate", dir, ErrInvalidIdentity)
	}
	chains, err := readPEMFiles(filepath.Join(dir, "cacerts"), "*.pem")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("import msp %s: %w", dir, err)
	}
	id, err := NewIdentity(mspID, certs[0], key, bytes.Join(chains, nil))
	if err != nil {
		return nil, fmt.Errorf("import msp %s: %w", dir, err)
	}
	return id, nil
}

// ExportMSP writes id to dir in the fabric-samples MSP layout: signcerts/cert.pem,
// keystore/<SKI>_sk (PKCS#8, the name Fabric's BCCSP derives from the public key) and, when
// the CA chain is known, cacerts/ca.pem. The key is written in clear with mode 0600, as Fabric
// tools expect it; keep the directory on encrypted storage or remove it after use. It fails
// with ErrExists rather than mix two identities in one folder.
func ExportMSP(id *Identity, dir string) error {
	for _, sub := range []string{"signcerts", "keystore"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if err == nil && len(entries) > 0 {
			return fmt.Errorf("export msp %s: %w: %s is not empty", dir, ErrExists, sub)
		}
	}
	keyName, err := ski(&id.key.PublicKey)
	if err != nil {
		return fmt.Errorf("export msp %s: key identifier: %w", dir, err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(id.key)
	if err != nil {
		return fmt.Errorf("export msp %s: encode key: %w", dir, err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	defer clear(keyPEM)
	files := []struct {
		sub, name string
		data      []byte
		perm      os.FileMode
	}{
		{"keystore", keyName + "_sk", keyPEM, 0o600},
		{"signcerts", "cert.pem", id.certPEM, 0o644},
	}
	if len(id.chain) > 0 {
		files = append(files, struct {
			sub, name string
			data      []byte
			perm      os.FileMode
		}{"cacerts", "ca.pem", id.chain, 0o644})
	}
	for _, f := range files {
		d := filepath.Join(dir, f.sub)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("export msp %s: %w", dir, err)
		}
		if err := atrest.WriteFileAtomic(filepath.Join(d, f.name), f.data, f.perm); err != nil {
			return fmt.Errorf("export msp %s: %w", dir, err)
		}
	}
	return nil
}

// ski is Fabric's subject key identifier for an ECDSA key: SHA-256 of the uncompressed point.
func ski(pub *ecdsa.PublicKey) (string, error) {
	raw, err := pub.Bytes()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

func readPEMFiles(dir, pattern string) ([][]byte, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	names, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var out [][]byte
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, data)
	}
	return out, nil
}
