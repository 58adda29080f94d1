package api

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/prometheus/client_golang/prometheus"
)

// Org is one consortium organisation as the API knows it.
type Org struct {
	// CACerts are the organisation's root CA certificates (its MSP's cacerts): a client
	// certificate that chains to them belongs to this organisation's MSP. Certificates rather
	// than an x509.CertPool, because pools cannot be merged for the TLS handshake.
	CACerts []*x509.Certificate
	// IntermediateCerts are the organisation's intermediate CA certificates, if any.
	IntermediateCerts []*x509.Certificate
	// Gateway is the organisation's policy-enforcement identity (role gateway). Requests of the
	// organisation's members run through Gateway.For(member certificate). Nil means this server
	// does not serve the organisation's members yet (they get 503 NO_ORG_GATEWAY), except for
	// the offline-signing flow, which needs no gateway identity.
	Gateway *ledger.Client
}

// Config wires the API to its parts. Orgs, Service and Conn are required.
type Config struct {
	// Orgs are the organisations whose members may call the API, by MSP ID.
	Orgs map[string]Org
	// Service is the policy enforcement point that stores and releases record content.
	Service *gateway.Service
	// Conn is the shared ledger connection. Offline signing builds, per request, an SDK
	// gateway for the caller's own identity with no signer on it.
	Conn *ledger.Conn
	// Channel and Chaincode name the CareLedger chaincode ("careledger" when empty).
	Channel, Chaincode string
	// Revoked, if set, is asked about every client certificate that verified; true means 401.
	// Wire it to the organisations' CRLs or an OCSP responder.
	Revoked func(*x509.Certificate) bool
	// CohortFiles serves the data files of published cohorts; nil means 501 on downloads.
	CohortFiles CohortFiles
	// Aggregator answers aggregate queries on cohorts; nil means 501 on queries.
	Aggregator Aggregator
	// Publisher builds and publishes cohorts for the anonymiser; nil means 501.
	Publisher CohortPublisher
	// Directory names clinicians and organisations (GET/PUT /v1/directory/{pseudonym}, GET
	// /v1/organizations); nil means 501 on the directory and MSP IDs as organisation names.
	Directory Directory
	// Feasibility answers manufacturers' feasibility counts; nil means 501.
	Feasibility FeasibilityCounter
	// Ready, if set, replaces the default readiness probe (an evaluation on the ledger).
	Ready func(ctx context.Context) error
	// Health, if set, is asked first on every readiness probe: an error means a local
	// component cannot do its work (the embedded node after a failed block write), and
	// /readyz answers 503 NOT_READY with the reason of a *NotReadyError it returns.
	Health func() error
	// Logger receives structured request logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the API's Prometheus metrics and is served on /metrics; nil means a
	// fresh registry with the Go and process collectors.
	Registry *prometheus.Registry
	// MaxDocumentBytes bounds an uploaded document (default 32 MiB). FHIR resources are bounded
	// by fhir.MaxResourceBytes, JSON request bodies by 1 MiB. Documents are streamed to the
	// record store, never held whole in memory.
	MaxDocumentBytes int64
	// MaxUploadsPerIdentity bounds the uploads (new records and versions) one certificate
	// runs at once (default 2); more get 429 TOO_MANY_REQUESTS with Retry-After.
	MaxUploadsPerIdentity int
	// Now is the clock used to check certificate validity; nil means time.Now.
	Now func() time.Time
}

const (
	defaultChannel     = "careledger"
	defaultChaincode   = "careledger"
	defaultMaxDocument = 32 << 20
	maxJSONBody        = 1 << 20
)

// server holds what every handler needs.
type server struct {
	cfg     Config
	mspIDs  []string // sorted, so certificate matching is deterministic
	roots   map[string]*x509.CertPool
	log     *slog.Logger
	metrics *metrics
	now     func() time.Time
	uploads *uploadLimiter
}

// New returns the API as an http.Handler. Serve it over TLS with ServerTLSConfig so that
// clients can present their certificates.
func New(cfg Config) (http.Handler, error) {
	if len(cfg.Orgs) == 0 {
		return nil, errors.New("new api: no organisations configured")
	}
	if cfg.Service == nil || cfg.Conn == nil {
		return nil, errors.New("new api: gateway service and ledger connection are required")
	}
	s := &server{cfg: cfg, log: cfg.Logger, now: cfg.Now, roots: map[string]*x509.CertPool{}}
	for id, org := range cfg.Orgs {
		if len(org.CACerts) == 0 {
			return nil, fmt.Errorf("new api: organisation %s has no CA certificates", id)
		}
		pool := x509.NewCertPool()
		for _, c := range org.CACerts {
			pool.AddCert(c)
		}
		s.roots[id] = pool
		s.mspIDs = append(s.mspIDs, id)
	}
	slices.Sort(s.mspIDs)
	if s.cfg.Channel == "" {
		s.cfg.Channel = defaultChannel
	}
	if s.cfg.Chaincode == "" {
		s.cfg.Chaincode = defaultChaincode
	}
	if s.cfg.MaxDocumentBytes <= 0 {
		s.cfg.MaxDocumentBytes = defaultMaxDocument
	}
	if s.cfg.MaxUploadsPerIdentity <= 0 {
		s.cfg.MaxUploadsPerIdentity = 2
	}
	s.uploads = newUploadLimiter(s.cfg.MaxUploadsPerIdentity)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	reg := cfg.Registry
	if reg == nil {
		reg = newRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("new api: %w", err)
	}
	s.metrics = m
	return s.routes(), nil
}
