package api

import (
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// routes builds the router. Everything under /v1 needs a client certificate; the operational
// endpoints do not.
func (s *server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(s.observe, s.recoverer, securityHeaders)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &requestError{http.StatusNotFound, "NOT_FOUND", "no such resource"})
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.writeError(w, r, &requestError{http.StatusMethodNotAllowed, CodeMethodNotAllowed, "method not allowed on this resource"})
	})

	r.Get("/healthz", s.healthz)
	r.Get("/readyz", s.readyz)
	// Metrics count requests per route and status: traffic a member must not see about others.
	r.With(s.authenticate, s.adminOnly).Method(http.MethodGet, "/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
	r.Get("/openapi.yaml", serveOpenAPI)
	r.Mount("/fhir", s.fhirHandler())

	r.Route("/v1", func(r chi.Router) {
		r.Use(s.authenticate, middleware.NoCache)
		r.Get("/me", s.me)
		r.Get("/me/grants", s.grantsToMe)

		r.Post("/records", s.upload)
		r.Get("/records/{recordID}", s.record)
		r.Get("/records/{recordID}/content", s.content)
		r.Get("/records/{recordID}/versions", s.versions)
		r.Post("/records/{recordID}/versions", s.appendVersion)
		r.Get("/records/{recordID}/verify", s.verify)

		r.Get("/patients/{patientID}/records", s.patientRecords)
		r.Get("/patients/{patientID}/history", s.patientHistory)
		r.Get("/patients/{patientID}/content", s.patientContent)
		r.Get("/patients/{patientID}/erasure", s.erasure)

		r.Get("/grants", s.grants)
		r.Post("/grants", s.prepareGrant)
		r.Get("/grants/{grantID}", s.grant)
		r.Delete("/grants/{grantID}", s.prepareRevoke)
		r.Get("/grants/{grantID}/consent", s.grantConsent)
		r.Get("/consents", s.consents)

		r.Post("/emergency-access", s.emergency)
		r.Get("/audit", s.audit)

		r.Get("/research-consent", s.researchConsent)
		r.Put("/research-consent", s.prepareResearchConsent)
		r.Get("/delegates", s.delegates)
		r.Post("/delegates", s.prepareAddDelegate)
		r.Delete("/delegates/{delegateID}", s.prepareRemoveDelegate)
		r.Post("/erasure", s.prepareErasure)
		r.Post("/erasure/complete", s.finishErasure)

		r.Get("/organizations", s.organizations)
		r.Get("/directory/{pseudonym}", s.directoryGet)
		r.Put("/directory/{pseudonym}", s.directoryPut)

		r.Post("/transactions/endorse", s.endorse)
		r.Post("/transactions/submit", s.submit)
		r.Post("/transactions/commit", s.commit)

		r.Get("/cohorts", s.cohorts)
		r.Post("/cohorts", s.publishCohort)
		r.Get("/cohorts/{cohortID}", s.cohort)
		r.Get("/cohorts/{cohortID}/files", s.cohortFiles)
		r.Get("/cohorts/{cohortID}/files/{fileName}", s.cohortFile)
		r.Post("/cohorts/{cohortID}/query", s.cohortQuery)

		r.Post("/feasibility", s.feasibility)
		r.Get("/privacy-budget", s.privacyBudget)
		r.Put("/privacy-budget", s.prepareBudget)
		r.Get("/disclosures", s.disclosures)
	})
	return r
}

// securityHeaders stop browsers from sniffing or framing responses: documents are served with
// the media type they were uploaded with, which must never turn into active content.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("Strict-Transport-Security", HSTS)
		next.ServeHTTP(w, r)
	})
}

// HSTS is the Strict-Transport-Security value of every response: the API and the web UI are
// served over TLS only, and a browser must never be talked into plain HTTP for them.
const HSTS = "max-age=31536000"

// adminOnly lets only an admin's certificate (the operator's monitoring) through.
func (s *server) adminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if callerFrom(r.Context()).Role != model.RoleAdmin {
			s.writeError(w, r, &requestError{http.StatusForbidden, string(model.CodeForbidden), "only an admin certificate may read the metrics"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// recoverer turns a panic into a 500 with the request ID, logged, instead of a dropped
// connection.
func (s *server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				// The stack says where; the panic value may hold request data and is not logged.
				s.log.LogAttrs(r.Context(), slog.LevelError, "handler panicked", slog.String("request_id", requestID(r.Context())), slog.String("stack", string(debug.Stack())))
				s.writeError(w, r, panicError{v})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

type panicError struct{ v any }

func (p panicError) Error() string { return "panic in handler" }
