package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
)

// ServerTLSConfig returns the server side TLS configuration for the API: the server's
// certificates, TLS 1.2 or later, and client certificates requested and verified against the
// union of the organisations' CA pools when given (tls.VerifyClientCertIfGiven), so that
// /healthz, /readyz, /metrics and /openapi.yaml work without one. A certificate from an
// unknown CA, or an expired one, is refused during the handshake; the API verifies the chain
// again per request (to learn the MSP, and so that a deployment which terminates with
// tls.RequestClientCert gets a JSON 401 instead of a handshake failure).
func ServerTLSConfig(cfg Config, serverCerts ...tls.Certificate) (*tls.Config, error) {
	if len(cfg.Orgs) == 0 {
		return nil, errors.New("server tls config: no organisations configured")
	}
	pool := x509.NewCertPool()
	for id, org := range cfg.Orgs {
		if len(org.CACerts) == 0 {
			return nil, fmt.Errorf("server tls config: organisation %s has no CA certificates", id)
		}
		for _, c := range org.CACerts {
			pool.AddCert(c)
		}
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: tls12Suites,
		Certificates: serverCerts,
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
	}, nil
}

// tls12Suites are the only suites offered for TLS 1.2: ECDHE with an AEAD cipher, so
// forward secrecy always, and none of the CBC-SHA1 suites Go still enables by default. TLS 1.3
// suites are all AEAD and not configurable.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// ParseCertificates reads every PEM certificate in the given blocks, for Org.CACerts.
func ParseCertificates(pems ...[]byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for _, b := range pems {
		for {
			var block *pem.Block
			block, b = pem.Decode(b)
			if block == nil {
				break
			}
			if block.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("parse certificates: %w", err)
			}
			certs = append(certs, c)
		}
	}
	if len(certs) == 0 {
		return nil, errors.New("parse certificates: no PEM certificate found")
	}
	return certs, nil
}

// caller is the authenticated member behind a request.
type caller struct {
	MSPID   string
	Cert    *x509.Certificate
	CertPEM []byte
	// Role is the certificate's role attribute, Pseudonym the member's ledger ID derived from
	// MSP and enrollment ID. Neither is ever logged.
	Role      model.Role
	Pseudonym string
}

// LogValue keeps the pseudonym and certificate out of logs.
func (c *caller) LogValue() slog.Value {
	return slog.GroupValue(slog.String("msp", c.MSPID), slog.String("role", string(c.Role)))
}

type callerKey struct{}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// Authentication failures; all are 401 with the code UNAUTHENTICATED.
var (
	errNoCertificate = errors.New("a TLS client certificate issued by a consortium CA is required")
	errUnknownCA     = errors.New("the client certificate was not issued by a consortium CA")
	errExpired       = errors.New("the client certificate is expired or not yet valid")
	errRevoked       = errors.New("the client certificate has been revoked")
	errAmbiguous     = errors.New("the client certificate chains to more than one organisation")
)

// authError marks an authentication failure for the error mapper.
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// authenticate verifies the client certificate against every organisation and attaches the
// caller to the request context.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.identify(r)
		if err != nil {
			s.writeError(w, r, &authError{err})
			return
		}
		setLogCaller(r.Context(), c)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

func (s *server) identify(r *http.Request) (*caller, error) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errNoCertificate
	}
	leaf := r.TLS.PeerCertificates[0]
	now := s.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, errExpired
	}
	var matched []string
	for _, id := range s.mspIDs {
		inter := x509.NewCertPool()
		for _, c := range s.cfg.Orgs[id].IntermediateCerts {
			inter.AddCert(c)
		}
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: s.roots[id], Intermediates: inter, CurrentTime: now,
			// Fabric identities are signing certificates; Fabric's MSP does not look at EKU.
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			matched = append(matched, id)
		}
	}
	switch len(matched) {
	case 0:
		return nil, errUnknownCA
	case 1:
	default:
		return nil, errAmbiguous
	}
	if s.cfg.Revoked != nil && s.cfg.Revoked(leaf) {
		return nil, errRevoked
	}
	c := &caller{
		MSPID:   matched[0],
		Cert:    leaf,
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw}),
	}
	enrollmentID := leaf.Subject.CommonName
	if attrs, err := attrmgr.New().GetAttributesFromCert(leaf); err == nil && attrs != nil {
		if v, ok, _ := attrs.Value("role"); ok {
			c.Role = model.Role(v)
		}
		if v, ok, _ := attrs.Value("hf.EnrollmentID"); ok && v != "" {
			enrollmentID = v
		}
	}
	c.Pseudonym = model.PseudonymFor(c.MSPID, enrollmentID)
	return c, nil
}

// errNoOrgGateway means the caller's organisation has no gateway identity on this server.
var errNoOrgGateway = errors.New("this server has no gateway identity for the caller's organisation")

// ledgerFor returns the client through which the caller's organisation's gateway acts for the
// caller.
func (s *server) ledgerFor(c *caller) (*ledger.Client, error) {
	gw := s.cfg.Orgs[c.MSPID].Gateway
	if gw == nil {
		return nil, fmt.Errorf("%s: %w", c.MSPID, errNoOrgGateway)
	}
	return gw.For(c.CertPEM), nil
}
