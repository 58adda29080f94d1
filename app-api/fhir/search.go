package fhir

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/go-chi/chi/v5"
)

// readAhead is how many records a search reads at once: the reads run concurrently, so the
// audit queue writes them in one batch, at the cost of reading (and auditing) up to that
// many records past the last one a page returns.
const readAhead = 50

// observationCategories narrows an Observation search by category to the ledger categories
// gateway/fhir files those observations under, so fewer records are read.
var observationCategories = map[string]string{
	"laboratory": "lab", "vital-signs": "vital-signs", "imaging": "imaging", "survey": "questionnaire",
}

const observationCategorySystem = "http://terminology.hl7.org/CodeSystem/observation-category"

// categories returns the ledger categories a search on t with q must read.
func categories(t *resourceType, q *query) []string {
	if t.name != "Observation" {
		return t.categories
	}
	for _, f := range q.tokens {
		if f.param.name != "category" {
			continue
		}
		var narrowed []string
		for _, tok := range f.any {
			cat, ok := observationCategories[tok.code]
			if !ok || (tok.hasSystem && tok.system != observationCategorySystem) {
				return t.categories
			}
			narrowed = append(narrowed, cat)
		}
		return narrowed
	}
	return t.categories
}

// search serves GET /fhir/{type}: a searchset Bundle of what the ledger releases to the
// caller and matches, a page at a time.
func (h *handler) search(w http.ResponseWriter, r *http.Request) {
	t, ok := typeNamed(chi.URLParam(r, "type"))
	var err error
	switch {
	case !ok:
		err = &fhirError{http.StatusNotFound, "not-supported", "resource type " + strconv.Quote(chi.URLParam(r, "type")) + " is not served here", nil}
	case !t.search:
		err = errMethod
	case responseType(r) == "":
		err = errNotAcceptable
	}
	var q *query
	if err == nil {
		q, err = parseSearch(t, r.URL.Query())
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, m := r.Context(), memberFrom(r.Context())
	var b *Bundle
	switch t.name {
	case "Consent":
		b, err = h.searchConsents(ctx, r, m, q)
	case "AuditEvent":
		b, err = h.searchAudit(ctx, r, m, q)
	case "Patient":
		b, err = h.searchPatients(ctx, r, m, q)
	default:
		b, err = h.searchRecords(ctx, r, m, t, q)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeResource(w, r, http.StatusOK, b)
}

// subject is the patient a search is about: the one named, or the calling patient.
func subject(m *Member, q *query, param string) (string, error) {
	switch {
	case q.patient != "":
		return q.patient, nil
	case m.Role == model.RolePatient:
		return m.Pseudonym, nil
	}
	return "", badRequest(param, "%s is required: searches are per patient", param)
}

func (h *handler) searchRecords(ctx context.Context, r *http.Request, m *Member, t *resourceType, q *query) (*Bundle, error) {
	patient, err := subject(m, q, "patient")
	if err != nil {
		return nil, err
	}
	b := newBundle("searchset", h.now())
	keep := func(s *served) bool { return s.Type == t.name && q.matches(s, h.now()) }
	found, next, err := h.collect(ctx, m, patient, categories(t, q), q, keep, b)
	if err != nil {
		return nil, err
	}
	for _, s := range found {
		b.add(r, s, "match")
	}
	pageLinks(r, b, q, next)
	return b, nil
}

// pageLinks adds the self link and, when there is more, the next link.
func pageLinks(r *http.Request, b *Bundle, q *query, next *cursor) {
	self := cloneValues(q.params)
	if q.cursor != (cursor{}) {
		self.Set("_cursor", q.cursor.encode())
	}
	path := r.URL.EscapedPath()
	b.link(r, "self", withQuery(path, self.Encode()))
	if next != nil {
		p := cloneValues(q.params)
		p.Set("_cursor", next.encode())
		b.link(r, "next", withQuery(path, p.Encode()))
	}
}

func withQuery(path, q string) string {
	if q == "" {
		return path
	}
	return path + "?" + q
}

// collect reads the patient's records of the categories from q's cursor on, through the
// policy enforcement point, and keeps up to q.count that pass keep. It returns the cursor of
// the next page, or nil at the end. A record the caller could list but not read (a grant
// revoked a moment ago) is left out; one that fails otherwise degrades to a warning entry.
func (h *handler) collect(ctx context.Context, m *Member, patient string, cats []string, q *query, keep func(*served) bool, b *Bundle) ([]*served, *cursor, error) {
	var out []*served
	for ci := q.cursor.Cat; ci < len(cats); ci++ {
		bookmark, skip := "", 0
		if ci == q.cursor.Cat {
			bookmark, skip = q.cursor.Bookmark, q.cursor.Skip
		}
		for {
			page, err := m.Ledger.GetPatientHistory(ctx, patient, cats[ci], ledgerPageAt(bookmark))
			if err != nil {
				return nil, nil, err
			}
			recs := page.Records
			last := page.Bookmark == "" || len(recs) == 0
			for i := min(skip, len(recs)); i < len(recs); {
				n := min(len(recs)-i, readAhead, max(q.count-len(out), 4))
				results := h.readAll(ctx, m, recs[i:i+n])
				for j, res := range results {
					switch {
					case res.err != nil && (hidden(res.err) || errors.Is(res.err, gateway.ErrErased)):
					case res.err != nil:
						b.warn("record " + recs[i+j].Record.ID + " could not be read: " + diagnostics(res.err))
					case keep(res.s):
						out = append(out, res.s)
					}
					if len(out) == q.count {
						consumed := i + j + 1
						if consumed == len(recs) && last && ci == len(cats)-1 {
							return out, nil, nil
						}
						return out, &cursor{Cat: ci, Bookmark: bookmark, Skip: consumed}, nil
					}
				}
				i += n
			}
			if last {
				break
			}
			bookmark = page.Bookmark
		}
	}
	return out, nil, nil
}

// diagnostics is what a warning says about a failed read: the outcome's text, never an
// internal error's.
func diagnostics(err error) string {
	_, oo, _ := outcome(err)
	return oo.Issue[0].Diagnostics
}

type readResult struct {
	s   *served
	err error
}

// readAll releases the latest version of each listed record through the policy enforcement
// point (gateway.Service.ReadPage: decision, hash check, decryption, audit).
func (h *handler) readAll(ctx context.Context, m *Member, recs []model.RecordHistory) []readResult {
	out := make([]readResult, len(recs))
	for i, p := range h.cfg.Service.ReadPage(ctx, m.Ledger, recs, "") {
		if p.Err != nil {
			out[i].err = p.Err
			continue
		}
		out[i].s, out[i].err = serve(p.Release)
		clear(p.Data)
	}
	return out
}

// searchPatients serves GET /fhir/Patient?_id=...: the Patients the caller may read.
func (h *handler) searchPatients(ctx context.Context, r *http.Request, m *Member, q *query) (*Bundle, error) {
	ids := q.ids
	if len(ids) == 0 {
		if m.Role != model.RolePatient {
			return nil, badRequest("_id", "_id is required: the patient's pseudonym")
		}
		ids = []string{m.Pseudonym}
	}
	b := newBundle("searchset", h.now())
	for _, id := range ids {
		s, err := h.patient(ctx, m, id, 0)
		switch {
		case err != nil && !isNotAccessible(err):
			return nil, err
		case err == nil:
			b.add(r, s, "match")
		}
	}
	pageLinks(r, b, q, nil)
	return b, nil
}

func isNotAccessible(err error) bool {
	fe, ok := err.(*fhirError)
	return ok && fe.status == http.StatusNotFound
}

// everything serves GET /fhir/Patient/{id}/$everything: every record of the patient the
// caller may read, Patient first when it is on the first page, in pages of _count.
func (h *handler) everything(w http.ResponseWriter, r *http.Request) {
	_, id, err := target(r)
	var q *query
	if err == nil {
		q, err = parseSearch(&resourceType{name: "Patient"}, r.URL.Query())
	}
	if err == nil && responseType(r) == "" {
		err = errNotAcceptable
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, m := r.Context(), memberFrom(r.Context())
	b := newBundle("searchset", h.now())
	found, next, err := h.collect(ctx, m, id, []string{""}, q, func(*served) bool { return true }, b)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	hasPatient := false
	for _, s := range found {
		hasPatient = hasPatient || s.Type == "Patient"
	}
	if !hasPatient && q.cursor == (cursor{}) && m.Pseudonym == id {
		b.add(r, bare(id), "match")
	}
	for _, s := range found {
		b.add(r, s, "match")
	}
	if len(b.Entry) == 0 && m.Pseudonym != id {
		// Nothing the caller may read: the same answer as for a patient who does not exist.
		h.fail(w, r, notAccessible("Patient", id))
		return
	}
	pageLinks(r, b, q, next)
	writeResource(w, r, http.StatusOK, b)
}

func ledgerPageAt(bookmark string) ledger.Page {
	return ledger.Page{Size: ledgerPage, Bookmark: bookmark}
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vals := range v {
		out[k] = append([]string(nil), vals...)
	}
	return out
}
