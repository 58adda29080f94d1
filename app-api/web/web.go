package web

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// server holds what every page needs.
type server struct {
	cfg      Config
	sessions *sessions
	csrf     *csrf
	pages    *pageSets
	zones    *zones
	log      *slog.Logger
	now      func() time.Time
	// unlock bounds concurrent wallet unlocks: each costs tens of MiB and much CPU (argon2id),
	// so a burst of sign-ins must not starve the server or push its memory up. queue bounds
	// the unlocks running or waiting; sign-ins beyond it are refused at once.
	unlock chan struct{}
	queue  chan struct{}
	roots  map[string]certRoots
	// guard slows down passphrase guessing per wallet name, byAddr per client address.
	guard  *throttle
	byAddr *throttle
}

// New returns the web interface as an http.Handler to mount at "/". Serve it over TLS only:
// its cookies are Secure and its pages show health data.
func New(cfg Config) (http.Handler, error) {
	if cfg.Wallet == nil || cfg.Conn == nil || cfg.Service == nil {
		return nil, errors.New("new web: wallet, ledger connection and gateway service are required")
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 15 * time.Minute
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 2 * time.Hour
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 1000
	}
	if cfg.MaxUnlocks <= 0 {
		cfg.MaxUnlocks = 2
	}
	s := &server{
		cfg:      cfg,
		sessions: newSessions(cfg.SessionIdle, cfg.SessionMax, cfg.MaxSessions),
		csrf:     newCSRF(),
		log:      cfg.Logger,
		now:      cfg.Now,
		unlock:   make(chan struct{}, cfg.MaxUnlocks),
		queue:    make(chan struct{}, 4*cfg.MaxUnlocks),
		guard:    newThrottle(),
		byAddr:   newAddressThrottle(),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	var err error
	if s.pages, err = newPageSets(); err != nil {
		return nil, fmt.Errorf("new web: %w", err)
	}
	if cfg.TimeZone == nil {
		cfg.TimeZone = defaultZone()
	}
	s.zones = newZones(cfg.TimeZone)
	s.roots = buildRoots(cfg.Orgs)
	return s.routes(), nil
}

// routes builds the page router.
func (s *server) routes() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(http.FileServerFS(static))))

	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, s.viewer(r), http.StatusNotFound, "There is no such page.")
	})
	mux.HandleFunc("GET /signin", s.signinPage)
	mux.HandleFunc("POST /signin", s.signin)
	mux.HandleFunc("POST /signout", s.signout)

	mux.Handle("GET /records/{recordID}/content", s.signedIn(s.download))

	mux.Handle("GET /patient", s.role(rolePatient, s.patientHome))
	mux.Handle("GET /patient/records", s.role(rolePatient, s.patientRecords))
	mux.Handle("POST /patient/records", limitBody(maxUploadBytes, s.role(rolePatient, s.patientUpload)))
	mux.Handle("GET /patient/records/{recordID}", s.role(rolePatient, s.patientRecord))
	mux.HandleFunc("GET /patient/invite", s.patientInvite)
	mux.Handle("GET /patient/delegates", s.role(rolePatient, s.patientDelegates))
	mux.Handle("POST /patient/delegates", s.role(rolePatient, s.patientAddDelegate))
	mux.Handle("POST /patient/delegates/{delegateID}/remove", s.role(rolePatient, s.patientRemoveDelegate))
	mux.Handle("GET /patient/sharing", s.role(rolePatient, s.patientSharing))
	mux.Handle("POST /patient/grants", s.role(rolePatient, s.patientGrant))
	mux.Handle("POST /patient/grants/{grantID}/revoke", s.role(rolePatient, s.patientRevoke))
	mux.Handle("GET /patient/access", s.role(rolePatient, s.patientAccess))
	mux.Handle("GET /patient/research", s.role(rolePatient, s.patientResearch))
	mux.Handle("POST /patient/research", s.role(rolePatient, s.patientSetResearch))
	mux.Handle("GET /patient/erase", s.role(rolePatient, s.patientErasePage))
	mux.Handle("POST /patient/erase", s.role(rolePatient, s.patientErase))

	mux.Handle("GET /clinician", s.role(roleClinician, s.clinicianHome))
	mux.Handle("GET /clinician/patients/{patientID}", s.role(roleClinician, s.clinicianPatient))
	mux.Handle("POST /clinician/patients/{patientID}/entries", s.role(roleClinician, s.clinicianAdd))
	mux.Handle("POST /clinician/emergency", s.role(roleClinician, s.clinicianEmergency))
	mux.Handle("POST /clinician/records/{recordID}/versions", limitBody(maxUploadBytes, s.role(roleClinician, s.clinicianAddVersion)))
	mux.Handle("GET /clinician/invite", s.role(roleClinician, s.clinicianInvite))
	mux.Handle("GET /clinician/profile", s.role(roleClinician, s.clinicianProfile))
	mux.Handle("POST /clinician/profile", s.role(roleClinician, s.clinicianSaveProfile))

	mux.Handle("GET /manufacturer", s.role(roleManufacturer, s.manufacturerHome))
	mux.Handle("GET /manufacturer/cohorts/{cohortID}/files/{name}", s.role(roleManufacturer, s.manufacturerFile))
	mux.Handle("GET /manufacturer/cohorts/{cohortID}/query", s.role(roleManufacturer, s.manufacturerQueryPage))
	mux.Handle("POST /manufacturer/cohorts/{cohortID}/query", s.role(roleManufacturer, s.manufacturerQuery))
	return pageHeaders(mux)
}

// pageHeaders keep pages out of caches, frames and plain HTTP and allow only the server's own
// CSS and script: pages show health data, and nothing they show may turn into active content.
func pageHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		// Served over TLS only (the cookies are Secure): a browser must never fall back to HTTP.
		h.Set("Strict-Transport-Security", "max-age=31536000")
		next.ServeHTTP(w, r)
	})
}

// staticHandler lets the embedded assets be cached briefly: they change only with the binary.
func staticHandler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cacheWriter{ResponseWriter: w}, r)
	})
}

type cacheWriter struct{ http.ResponseWriter }

func (c *cacheWriter) WriteHeader(code int) {
	if code == http.StatusOK {
		c.Header().Set("Cache-Control", "public, max-age=300")
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cacheWriter) Write(b []byte) (int, error) {
	if c.Header().Get("Cache-Control") == "no-store" {
		c.Header().Set("Cache-Control", "public, max-age=300")
	}
	return c.ResponseWriter.Write(b)
}

// home sends people to their role's start page, or to sign-in.
func (s *server) home(w http.ResponseWriter, r *http.Request) {
	v := s.viewer(r)
	if v == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	if start := startPage(v.Role); start != "" {
		http.Redirect(w, r, start, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "norole", v, "CareLedger", nil)
}
