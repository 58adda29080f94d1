package fhir

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/go-chi/chi/v5"
)

// Member is an authenticated caller as this package needs it.
type Member struct {
	Role model.Role
	// Pseudonym is the caller's ledger ID.
	Pseudonym string
	// Ledger is the caller's organisation's gateway acting for the caller.
	Ledger *ledger.Client
}

// AuthError is returned by Config.Identify when the caller is not authenticated (401).
type AuthError struct{ Err error }

func (e *AuthError) Error() string { return e.Err.Error() }
func (e *AuthError) Unwrap() error { return e.Err }

// ErrNoGateway is returned (wrapped) by Config.Identify when this server cannot act for the
// caller's organisation (503).
var ErrNoGateway = errors.New("this server has no gateway identity for the caller's organisation")

// Proposal is an unsigned transaction proposal for the caller to sign on their own device,
// as /v1 prepares them (see app-api/README.md, "Signing consent on your own device").
type Proposal struct {
	TransactionID string
	Function      string
	Proposal      []byte
	Digest        []byte
}

// Config wires the FHIR interface to the API it is part of.
type Config struct {
	// Service is the policy enforcement point.
	Service *gateway.Service
	// Identify authenticates a request (a *AuthError when it cannot) and returns the caller.
	// Any other error means the server cannot act for the caller (503).
	Identify func(r *http.Request) (*Member, error)
	// Prepare builds an unsigned proposal of fn for the authenticated caller (offline
	// signing). Nil means Consent create answers 501.
	Prepare func(r *http.Request, fn string, args ...string) (*Proposal, error)
	// RequestID returns the ID the API gave the request (logged with the server's own
	// errors and quoted to the client in them); nil means none.
	RequestID func(context.Context) string
	// Logger receives errors that are the server's own; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

type handler struct {
	cfg Config
	log *slog.Logger
	now func() time.Time
}

// New returns the FHIR interface, to be mounted at /fhir. Its routes are chi routes, so
// chi.Walk lists them under the mount point.
func New(cfg Config) (http.Handler, error) {
	if cfg.Service == nil || cfg.Identify == nil {
		return nil, errors.New("fhir: service and identify are required")
	}
	h := &handler{cfg: cfg, log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.cfg.RequestID == nil {
		h.cfg.RequestID = func(context.Context) string { return "" }
	}
	r := chi.NewRouter()
	r.Use(noStore)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, errUnknownPath)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, errMethod)
	})
	r.Get("/metadata", h.metadata)
	r.Group(func(r chi.Router) {
		r.Use(h.authenticate)
		r.Post("/", h.transaction)
		r.Get("/{type}", h.search)
		r.Post("/{type}", h.create)
		r.Get("/{type}/{id}", h.read)
		r.Put("/{type}/{id}", h.update)
		r.Get("/{type}/{id}/_history", h.history)
		r.Get("/{type}/{id}/_history/{vid}", h.vread)
		r.Get("/Patient/{id}/$everything", h.everything)
	})
	return r, nil
}

// noStore keeps health data out of caches. Unlike chi's NoCache it leaves the request's
// conditional headers alone: If-Match guards updates.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Pragma", "no-cache")
		next.ServeHTTP(w, r)
	})
}

type memberKey struct{}

func memberFrom(ctx context.Context) *Member {
	m, _ := ctx.Value(memberKey{}).(*Member)
	return m
}

// authenticate identifies the caller; refusals come back as OperationOutcome.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m, err := h.cfg.Identify(r)
		if err == nil && m.Role != model.RolePatient && m.Role != model.RoleClinician {
			// Records are for patients and clinicians; manufacturers and the anonymiser have
			// their own API (cohorts). Refusing here only narrows what the ledger allows.
			err = errRole
		}
		if err != nil {
			h.fail(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), memberKey{}, m)))
	})
}
