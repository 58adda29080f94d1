package web

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/careledger/careledger/gateway/ledger"
)

// pageData is what every page template gets.
type pageData struct {
	Title   string
	Viewer  *viewer
	CSRF    string
	Problem string
	Notice  string
	// Warn shows the notice as a warning (emergency access).
	Warn bool
	Nav  []navItem
	Data any
	// Zone names the time zone the page's times are written in.
	Zone string
}

type navItem struct {
	Href, Label string
	Current     bool
}

var navs = map[string][]navItem{
	rolePatient: {
		{Href: "/patient", Label: "Start"},
		{Href: "/patient/records", Label: "My records"},
		{Href: "/patient/sharing", Label: "Who may see what"},
		{Href: "/patient/access", Label: "Who looked at my records"},
		{Href: "/patient/delegates", Label: "Who may act for me"},
		{Href: "/patient/research", Label: "Research"},
		{Href: "/patient/erase", Label: "Delete my data"},
	},
	roleClinician: {
		{Href: "/clinician", Label: "My patients"},
		{Href: "/clinician/invite", Label: "Invite a patient"},
		{Href: "/clinician/profile", Label: "How patients see me"},
	},
	roleManufacturer: {{Href: "/manufacturer", Label: "Cohorts"}},
}

// notices are the confirmations a redirect may ask for (?done=key): a fixed list, so no text
// from the address bar is ever shown on a page.
var notices = map[string]string{
	"granted":    "Done. The access you gave is now on the ledger.",
	"revoked":    "Done. This access has been taken back. It stops from the next request on.",
	"research":   "Done. Your research choice is saved on the ledger.",
	"added":      "Done. The entry was added to the patient's record.",
	"uploaded":   "Done. Your record is stored, encrypted, and registered on the ledger.",
	"version":    "Done. The new version was added; the earlier ones stay readable.",
	"delegate":   "Done. They may now act for you; this is on the ledger.",
	"undelegate": "Done. They no longer act for you; this is on the ledger.",
	"profile":    "Done. Patients now see you under these words.",
	"emergency":  "Emergency access is open. The patient will see that you used it and why.",
	"out":        "You are signed out.",
}

var funcs = template.FuncMap{
	// date and day are replaced per time zone in pageSets.page; these write UTC.
	"date":      func(t time.Time) string { return moment(t, time.UTC) },
	"day":       func(t time.Time) string { return calendarDay(t, time.UTC) },
	"dateInput": func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"short":     shortID,
	"purpose":   purposeWord,
	"category":  categoryWord,
	"role":      roleWord,
	"basis":     basisWord,
	"assurance": assuranceWord,
	"actions":   actionsWord,
	"research":  researchWord,
	"reason":    reasonWord,
	"join":      strings.Join,
	"num":       func(f float64) string { return trimFloat(f) },
	"status":    statusWord,
	"inc":       func(n int) int { return n + 1 },
	"has":       slices.Contains[[]string],
}

// pageSets holds the page templates, and clones of them whose date and day functions write
// in one time zone each. The parsed pages themselves are never executed, because
// html/template cannot clone a template once it has run; a zone's clone of a page is made
// the first time the page is shown in that zone. zones bounds how many zones there are.
type pageSets struct {
	base  map[string]*template.Template
	mu    sync.Mutex
	zoned map[string]map[string]*template.Template // zone name → page name → template
}

func newPageSets() (*pageSets, error) {
	base, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &pageSets{base: base, zoned: map[string]map[string]*template.Template{}}, nil
}

// page returns the named page with its dates written in zone.
func (p *pageSets) page(name string, zone *time.Location) (*template.Template, error) {
	base, ok := p.base[name]
	if !ok {
		return nil, fmt.Errorf("no template %q", name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	key := zone.String()
	if t := p.zoned[key][name]; t != nil {
		return t, nil
	}
	t, err := base.Clone()
	if err != nil {
		return nil, fmt.Errorf("clone template %q: %w", name, err)
	}
	t.Funcs(template.FuncMap{
		"date": func(t time.Time) string { return moment(t, zone) },
		"day":  func(t time.Time) string { return calendarDay(t, zone) },
	})
	if p.zoned[key] == nil {
		p.zoned[key] = map[string]*template.Template{}
	}
	p.zoned[key][name] = t
	return t, nil
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", base, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render shows a page to a viewer; the CSRF token is the viewer's.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *viewer, title string, data any) {
	token := ""
	if v != nil {
		token = s.csrf.token(v.binding)
	}
	s.renderWith(w, r, status, page, v, token, title, data, "")
}

func (s *server) renderWith(w http.ResponseWriter, r *http.Request, status int, page string, v *viewer, token, title string, data any, problem string) {
	zone := s.zones.of(r)
	t, err := s.pages.page(page, zone)
	if err != nil {
		s.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	pd := pageData{Title: title, Viewer: v, CSRF: token, Problem: problem, Data: data, Notice: notices[r.URL.Query().Get("done")], Zone: zoneWords(zone)}
	pd.Warn = r.URL.Query().Get("done") == "emergency"
	if r.URL.Query().Has("out") {
		pd.Notice = notices["out"]
	}
	if v != nil {
		for _, n := range navs[v.Role] {
			n.Current = n.Href == r.URL.Path
			pd.Nav = append(pd.Nav, n)
		}
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", pd); err != nil {
		s.log.Error("render page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail shows a page that says, in plain words, what went wrong.
func (s *server) fail(w http.ResponseWriter, r *http.Request, v *viewer, status int, msg string) {
	token := ""
	if v != nil {
		token = s.csrf.token(v.binding)
	}
	s.renderWith(w, r, status, "problem", v, token, "That did not work", nil, msg)
}

// failErr shows an error from the ledger, the gateway or a form.
func (s *server) failErr(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	status, msg := s.explain(err)
	s.fail(w, r, v, status, msg)
}

// formError is a form field that is missing or wrong; its text is for the person.
type formError struct{ msg string }

func (e *formError) Error() string { return e.msg }

func badForm(format string, args ...any) error { return &formError{fmt.Sprintf(format, args...)} }

// explain turns an error into an HTTP status and a sentence for the person; it is the one
// place where errors meet people. Internal errors are logged and never shown.
func (s *server) explain(err error) (int, string) {
	var fe *formError
	var me *model.Error
	switch {
	case errors.As(err, &fe):
		return http.StatusBadRequest, "Please check the form: " + fe.msg
	case errors.Is(err, gateway.ErrGrantRevoked):
		return http.StatusForbidden, "Access was revoked: the patient has taken back your access to these records."
	case errors.Is(err, gateway.ErrGrantExpired), errors.Is(err, &model.Error{Code: model.CodeGrantExpired}):
		return http.StatusForbidden, "Your access to these records has expired."
	case errors.Is(err, gateway.ErrGrantNotYetValid):
		return http.StatusForbidden, "Your access to these records has not started yet."
	case errors.Is(err, gateway.ErrNoGrant):
		return http.StatusForbidden, "You have no access: the patient has not given you access to these records."
	case errors.Is(err, gateway.ErrNotPermitted):
		return http.StatusForbidden, "Your role may not see patient records."
	case errors.Is(err, gateway.ErrNoResearchConsent):
		return http.StatusForbidden, "The patient has not agreed to research use."
	case errors.Is(err, gateway.ErrErased):
		return http.StatusGone, "This patient's data has been deleted at their request."
	case errors.Is(err, gateway.ErrNotFound):
		return http.StatusNotFound, "We could not find that."
	case errors.Is(err, gateway.ErrIntegrity):
		s.log.Error("integrity", "err", err)
		return http.StatusInternalServerError, "The stored copy does not match the ledger, so it is not shown. The operator has been told."
	case errors.Is(err, gateway.ErrInvalidContent):
		return http.StatusBadRequest, "The entry is not valid: " + err.Error()
	case errors.Is(err, directory.ErrInvalid):
		return http.StatusBadRequest, "Please check the form: " + strings.TrimPrefix(err.Error(), directory.ErrInvalid.Error()+": ") + "."
	case errors.Is(err, directory.ErrForbidden):
		return http.StatusForbidden, "The directory does not let you change this entry."
	case errors.Is(err, ErrQueryRefused):
		return http.StatusUnprocessableEntity, "The query was refused: " + err.Error()
	case errors.Is(err, ErrNoSuchFile):
		return http.StatusNotFound, "This cohort has no such file."
	case errors.Is(err, ledger.ErrUnavailable):
		return http.StatusServiceUnavailable, "The ledger cannot be reached right now. Please try again in a few minutes."
	case errors.As(err, &me):
		switch me.Code {
		case model.CodeForbidden:
			return http.StatusForbidden, "The ledger refused this: " + me.Message
		case model.CodeInvalidArgument:
			return http.StatusBadRequest, "Please check the form: " + me.Message
		case model.CodeNotFound:
			return http.StatusNotFound, "We could not find that."
		case model.CodeConflict:
			return http.StatusConflict, "Someone changed this at the same moment. Please reload the page and try again."
		case model.CodeErased:
			return http.StatusGone, "This patient's data has been deleted at their request."
		case model.CodeUnauthenticated:
			return http.StatusUnauthorized, "The ledger does not accept your identity."
		}
	}
	s.log.Error("web request", "err", err)
	return http.StatusInternalServerError, "Something went wrong on our side. Please try again later."
}
