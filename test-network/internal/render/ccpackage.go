package render

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"time"

	"github.com/careledger/careledger/test-network/internal/topology"
)

// ConnectionTemplate is the connection.json inside the chaincode package. Every value is a
// template that Fabric's ccaas builder fills from the peer's CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG,
// so one package (one package ID) serves every peer while each organisation's peers dial their
// own organisation's chaincode server with their own client certificate.
var ConnectionTemplate = map[string]any{
	"address":              "{{.address}}",
	"dial_timeout":         "10s",
	"tls_required":         true,
	"client_auth_required": true,
	"root_cert":            "{{.root_cert}}",
	"client_key":           "{{.client_key}}",
	"client_cert":          "{{.client_cert}}",
}

// labelPattern is what Fabric's lifecycle accepts as a package label.
var labelPattern = regexp.MustCompile(`^[[:alnum:]][[:alnum:]_.+-]*$`)

// CCAASPackage builds a chaincode-as-a-service package: a tar.gz holding metadata.json
// (type "ccaas") and code.tar.gz, which holds connection.json. The archive is byte-for-byte
// reproducible (fixed times, owners and order), so its package ID is stable across builds
// and machines and can be computed here instead of by `peer lifecycle chaincode
// calculatepackageid`.
func CCAASPackage(label string) ([]byte, error) {
	if !labelPattern.MatchString(label) {
		return nil, fmt.Errorf("chaincode package: label %q is not a valid Fabric package label", label)
	}
	conn, err := json.MarshalIndent(ConnectionTemplate, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("chaincode package: %w", err)
	}
	code, err := tarGz([]tarEntry{{"connection.json", append(conn, '\n')}})
	if err != nil {
		return nil, fmt.Errorf("chaincode package: code.tar.gz: %w", err)
	}
	meta, err := json.Marshal(struct {
		Type  string `json:"type"`
		Label string `json:"label"`
	}{"ccaas", label})
	if err != nil {
		return nil, fmt.Errorf("chaincode package: %w", err)
	}
	pkg, err := tarGz([]tarEntry{{"metadata.json", meta}, {"code.tar.gz", code}})
	if err != nil {
		return nil, fmt.Errorf("chaincode package: %w", err)
	}
	return pkg, nil
}

// PackageID is Fabric's package ID: the label, a colon, and the hex SHA-256 of the package.
func PackageID(label string, pkg []byte) string {
	sum := sha256.Sum256(pkg)
	return label + ":" + hex.EncodeToString(sum[:])
}

type tarEntry struct {
	name string
	data []byte
}

func tarGz(entries []tarEntry) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf) // a zero header: no name, no modification time
	tw := tar.NewWriter(zw)
	for _, e := range entries {
		hdr := &tar.Header{
			Name: e.name, Mode: 0o644, Size: int64(len(e.data)),
			ModTime: time.Unix(0, 0).UTC(), Typeflag: tar.TypeReg, Format: tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// BuilderConfigFile is, in each peer's node folder, the JSON the peer must get as
// CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG. It holds the peer's TLS key, so it is private.
const BuilderConfigFile = "ccaas-builder.json"

// builderConfigs writes each peer's builder configuration once its TLS material and its
// organisation's chaincode server certificate exist (after enrolment).
func (g *generator) builderConfigs() error {
	read := func(rel string) (string, bool, error) {
		b, err := os.ReadFile(filepath.Join(g.dir, filepath.FromSlash(rel)))
		if errors.Is(err, fs.ErrNotExist) {
			return "", false, nil
		}
		if err != nil {
			return "", false, fmt.Errorf("ccaas builder config: %w", err)
		}
		return string(b), true, nil
	}
	for _, o := range g.net.Orgs {
		if o.CCServer == nil {
			continue
		}
		root, ok, err := read(path.Join(topology.CCServerDir(o), "tls", "ca.crt"))
		if err != nil || !ok {
			return err
		}
		for _, p := range o.Peers {
			tlsDir := path.Join(topology.PeerDir(o, p), "tls")
			cert, okc, err := read(path.Join(tlsDir, "server.crt"))
			if err != nil {
				return err
			}
			key, okk, err := read(path.Join(tlsDir, "server.key"))
			if err != nil {
				return err
			}
			if !okc || !okk {
				continue
			}
			cfg, err := json.Marshal(map[string]string{
				"address":     topology.Addr(g.opts.Mode, o.CCServer.Host, o.CCServer.Port),
				"root_cert":   root,
				"client_cert": cert,
				"client_key":  key,
			})
			if err != nil {
				return fmt.Errorf("ccaas builder config: %w", err)
			}
			if err := g.write(path.Join(topology.NodeConfigDir(p.Host), BuilderConfigFile), append(cfg, '\n'), 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}
