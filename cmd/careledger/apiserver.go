package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
)

// apiTLSFiles are the API's TLS material under the data directory: a local CA that clients
// trust (ca.pem) and the server's certificate for loopback names signed by it.
func apiTLSFiles(dataDir string) (caPEM, certPEM, keyPEM string) {
	d := filepath.Join(dataDir, "api")
	return filepath.Join(d, "ca.pem"), filepath.Join(d, "server.pem"), filepath.Join(d, "server-key.pem")
}

// ensureAPITLS creates, on first start, a CA for the API and a server certificate for
// localhost and the loopback addresses, and returns the server certificate.
func ensureAPITLS(dataDir string) (tls.Certificate, error) {
	caFile, certFile, keyFile := apiTLSFiles(dataDir)
	if cert, err := tls.LoadX509KeyPair(certFile, keyFile); err == nil {
		if leaf, err := x509.ParseCertificate(cert.Certificate[0]); err == nil && time.Until(leaf.NotAfter) > 24*time.Hour {
			return cert, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(caFile), 0o700); err != nil {
		return tls.Certificate{}, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "CareLedger API local CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(2, 0, 0),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	host, _ := os.Hostname()
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: "careledger-api"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"localhost", host},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	files := map[string][]byte{
		caFile:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		certFile: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyFile:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}
	for path, data := range files {
		if err := writeTo(path, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
			return tls.Certificate{}, err
		}
		if err := os.Chmod(path, 0o600); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.X509KeyPair(files[certFile], files[keyFile])
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

// orgCACerts reads an organisation's root CA certificates from the msp/cacerts folder of one
// of its identities.
func orgCACerts(users userSource, msp string) ([]*x509.Certificate, error) {
	for _, role := range model.Roles {
		dir, err := users.mspDir(msp, role)
		if errors.Is(err, errNoSuchUser) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out, err := mspCerts(msp, dir, "cacerts")
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
	return nil, fmt.Errorf("no CA certificate found for %s", msp)
}

// mspCerts reads the PEM certificates of an msp folder's sub-folder (cacerts,
// intermediatecerts); a missing folder holds none.
func mspCerts(msp, dir, sub string) ([]*x509.Certificate, error) {
	files, err := filepath.Glob(filepath.Join(dir, sub, "*.pem"))
	if err != nil {
		return nil, err
	}
	var out []*x509.Certificate
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s CA certificate %s: %w", msp, f, err)
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// serveAPI starts the HTTPS API on addr; Close shuts it down gracefully.
func (s *stack) serveAPI(addr string) error {
	orgs := map[string]api.Org{}
	for _, msp := range s.users.orgs() {
		cas, err := orgCACerts(s.users, msp)
		if err != nil {
			return err
		}
		orgs[msp] = api.Org{CACerts: cas, Gateway: s.gateways[msp]}
	}
	// Organisation names and the clinician directory live in the data directory, off the
	// ledger; operators rename organisations in directory/organisations.json.
	orgNames, err := directory.LoadOrgs(filepath.Join(s.cfg.DataDir, "directory", "organisations.json"), directory.DefaultOrgs())
	if err != nil {
		return err
	}
	dir, err := directory.Open(filepath.Join(s.cfg.DataDir, "directory", "directory.db"), orgNames)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, dir.Close)
	feasibility, err := s.feasibility()
	if err != nil {
		s.log.Warn("feasibility counts are off: no anonymiser identity", "err", err)
	}
	cfg := api.Config{
		Orgs: orgs, Service: s.svc, Conn: s.conn, Channel: s.channel, Chaincode: s.chaincode, Directory: dir, Feasibility: feasibility,
		CohortFiles: cohortStore{blobs: s.blobs}, Aggregator: cohortStore{blobs: s.blobs},
		Publisher: cohortPublisher{svc: s.svc, blobs: s.blobs, log: s.log.With("component", "anonymizer")},
		Logger:    s.log.With("component", "api"),
	}
	if s.node != nil {
		node := s.node
		cfg.Health = func() error {
			if err := node.Err(); err != nil {
				return &api.NotReadyError{Reason: "the ledger node cannot commit blocks (is the disk full?); it retries by itself", Err: err}
			}
			return nil
		}
	}
	apiHandler, err := api.New(cfg)
	if err != nil {
		return err
	}
	webOrgs := map[string]web.Org{}
	for msp, o := range orgs {
		webOrgs[msp] = web.Org{Name: dir.OrgName(msp), CACerts: o.CACerts, Gateway: o.Gateway}
	}
	ui, err := web.New(web.Config{
		Wallet: s.wallet, Conn: s.conn, Service: s.svc, Orgs: webOrgs, Directory: dir,
		CohortFiles: webCohorts{store: cohortStore{blobs: s.blobs}}, Aggregator: webCohorts{store: cohortStore{blobs: s.blobs}},
		Logger: s.log.With("component", "web"),
	})
	if err != nil {
		return err
	}
	// The API owns /v1, /fhir and its operational endpoints; the web UI everything else.
	mux := http.NewServeMux()
	for _, p := range []string{"/v1/", "/fhir", "/fhir/", "/healthz", "/readyz", "/metrics", "/openapi.yaml"} {
		mux.Handle(p, apiHandler)
	}
	mux.Handle("/", ui)
	handler := mux
	cert, err := ensureAPITLS(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("api TLS certificate: %w", err)
	}
	tlsCfg, err := api.ServerTLSConfig(cfg, cert)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("api listen: %w", err)
	}
	srv := api.NewHTTPServer(addr, handler, tlsCfg, slog.NewLogLogger(s.log.With("component", "http").Handler(), slog.LevelDebug), s.cfg.HTTPLimits) // TLS handshake errors of port scanners and closed clients at debug
	s.apiAddr = ln.Addr().String()
	go func() {
		if err := srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server", "err", err)
		}
	}()
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	return nil
}
