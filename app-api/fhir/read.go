package fhir

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/go-chi/chi/v5"
)

// fhirIDPattern is FHIR R4's id type, widened to the ledger's record IDs (up to 128
// characters, '_' allowed) so that records uploaded through /v1 are served too.
var fhirIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// target reads {type} and {id} from the path: a served type, and an id of the right form
// (a pseudonym for Patient).
func target(r *http.Request) (*resourceType, string, error) {
	name, id := chi.URLParam(r, "type"), chi.URLParam(r, "id")
	if name == "" {
		name = "Patient" // Patient/{id}/$everything
	}
	t, ok := typeNamed(name)
	if !ok {
		return nil, "", &fhirError{http.StatusNotFound, "not-supported", "resource type " + strconv.Quote(name) + " is not served here; GET /fhir/metadata lists the types that are", nil}
	}
	switch {
	case name == "Patient" && !model.ValidPseudonym(id):
		return nil, "", badRequest("", "a Patient's id is the patient's pseudonym: 32 lowercase hex digits")
	case !fhirIDPattern.MatchString(id):
		return nil, "", badRequest("", "the id must be 1-128 letters, digits, '-', '.' or '_'")
	}
	return t, id, nil
}

// release reads one version (0: the latest) of a record through the policy enforcement point
// and serves it as a resource of type t; anything the caller may not have, or that is not a
// t, is notAccessible.
func (h *handler) release(ctx context.Context, m *Member, t *resourceType, id string, version int) (*served, error) {
	if t.name == "Patient" {
		return h.patient(ctx, m, id, version)
	}
	rel, err := h.cfg.Service.Read(ctx, m.Ledger, id, version, "")
	if err != nil {
		return nil, h.refusal(ctx, m, t.name, id, err)
	}
	defer clear(rel.Data)
	s, err := serve(rel)
	if err != nil {
		return nil, err
	}
	if s.Type != t.name {
		return nil, notAccessible(t.name, id)
	}
	return s, nil
}

// refusal is what a read answers when the enforcement point refused it: notAccessible for
// every refusal and absence, and 410 Gone for an erased record only to the erased patient
// herself. The ledger refuses an erased patient's records to everyone as "erased", so
// answering 410 to anyone else would tell a stranger that a made-up-looking id existed.
func (h *handler) refusal(ctx context.Context, m *Member, typ, id string, err error) error {
	if errors.Is(err, gateway.ErrErased) {
		if m.Role == model.RolePatient {
			if _, e := m.Ledger.GetErasure(ctx, m.Pseudonym); e == nil {
				return err
			}
		}
		return notAccessible(typ, id)
	}
	if hidden(err) {
		return notAccessible(typ, id)
	}
	return err
}

// patientRecord finds the record holding the patient's Patient resource among the records of
// its category the caller may read.
func (h *handler) patientRecord(ctx context.Context, m *Member, pseudonym string) (*served, error) {
	pt, _ := typeNamed("Patient")
	var found *served
	err := h.eachRecord(ctx, m, pseudonym, pt.categories, func(rec model.Record) (bool, error) {
		rel, err := h.cfg.Service.Read(ctx, m.Ledger, rec.ID, 0, "")
		if err != nil {
			return true, nil // one record the caller cannot have does not end the search
		}
		defer clear(rel.Data)
		if s, err := serve(rel); err == nil && s.Type == "Patient" {
			found = s
			return false, nil
		}
		return true, nil
	})
	return found, err
}

// patient serves Patient/{pseudonym}: the patient's Patient record, or for the patient
// themselves, when they have none, a Patient that says only who they are on the ledger.
func (h *handler) patient(ctx context.Context, m *Member, pseudonym string, version int) (*served, error) {
	rec, err := h.patientRecord(ctx, m, pseudonym)
	if err != nil {
		if hidden(err) {
			return nil, notAccessible("Patient", pseudonym)
		}
		return nil, err
	}
	switch {
	case rec != nil && version == 0:
		return rec, nil
	case rec != nil:
		rel, err := h.cfg.Service.Read(ctx, m.Ledger, rec.Record.ID, version, "")
		if err != nil {
			return nil, h.refusal(ctx, m, "Patient", pseudonym, err)
		}
		defer clear(rel.Data)
		return serve(rel)
	case m.Pseudonym == pseudonym && version <= 1:
		return bare(pseudonym), nil
	}
	return nil, notAccessible("Patient", pseudonym)
}

// bare is the Patient of a patient who has uploaded no Patient resource: their pseudonym.
func bare(pseudonym string) *served {
	raw := []byte(`{"resourceType":"Patient","id":"` + pseudonym + `","meta":{"versionId":"1"},"identifier":[{"system":"` + SystemPseudonym + `","value":"` + pseudonym + `"}]}`)
	return &served{Type: "Patient", ID: pseudonym, JSON: raw}
}

// eachRecord calls fn with each record of the patient in the categories that the ledger
// lists to the caller, in ledger order, until fn says stop.
func (h *handler) eachRecord(ctx context.Context, m *Member, patient string, categories []string, fn func(model.Record) (bool, error)) error {
	for _, cat := range categories {
		bookmark := ""
		for {
			page, err := m.Ledger.ListPatientRecords(ctx, patient, cat, ledger.Page{Size: ledgerPage, Bookmark: bookmark})
			if err != nil {
				return err
			}
			for _, rec := range page.Records {
				more, err := fn(rec)
				if err != nil || !more {
					return err
				}
			}
			if page.Bookmark == "" || len(page.Records) == 0 {
				break
			}
			bookmark = page.Bookmark
		}
	}
	return nil
}

// ledgerPage is how many records a search asks the ledger for at a time.
const ledgerPage = 100

// read serves GET /fhir/{type}/{id}; a Binary is the document itself unless the client
// asks for FHIR JSON (IHE MHD ITI-68, Retrieve Document).
func (h *handler) read(w http.ResponseWriter, r *http.Request) {
	h.readVersion(w, r, 0)
}

// vread serves GET /fhir/{type}/{id}/_history/{vid}.
func (h *handler) vread(w http.ResponseWriter, r *http.Request) {
	vid, err := strconv.Atoi(chi.URLParam(r, "vid"))
	if err != nil || vid < 1 || vid > 1<<30 {
		h.fail(w, r, badRequest("", "the versionId must be a whole number from 1"))
		return
	}
	h.readVersion(w, r, vid)
}

func (h *handler) readVersion(w http.ResponseWriter, r *http.Request, version int) {
	t, id, err := target(r)
	if err == nil && !t.read {
		err = errMethod
	}
	if err == nil {
		err = noParams(r)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	m := memberFrom(r.Context())
	if t.name == "Consent" {
		h.consent(w, r, m, id)
		return
	}
	s, err := h.release(r.Context(), m, t, id, version)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if s.document != nil && !acceptsFHIR(r) {
		writeDocument(w, s)
		return
	}
	if responseType(r) == "" {
		h.fail(w, r, errNotAcceptable)
		return
	}
	setVersionHeaders(w, s)
	writeResource(w, r, http.StatusOK, s)
}

// writeDocument sends a document's bytes with its media type, never to be rendered in the
// API's origin.
func writeDocument(w http.ResponseWriter, s *served) {
	h := w.Header()
	h.Set("Content-Type", s.document.MediaType)
	h.Set("Content-Length", strconv.Itoa(len(s.document.Data)))
	h.Set("Content-Disposition", `attachment; filename="`+s.ID+`"`)
	setVersionHeaders(w, s)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.document.Data)
}

func setVersionHeaders(w http.ResponseWriter, s *served) {
	if s.Version.Number == 0 {
		return
	}
	w.Header().Set("ETag", `W/"`+strconv.Itoa(s.Version.Number)+`"`)
	w.Header().Set("Last-Modified", s.Version.CreatedAt.UTC().Format(http.TimeFormat))
	w.Header().Set("Content-Location", s.Type+"/"+s.ID+"/_history/"+strconv.Itoa(s.Version.Number))
}

// history serves GET /fhir/{type}/{id}/_history: every version, newest first, each read
// through the policy enforcement point.
func (h *handler) history(w http.ResponseWriter, r *http.Request) {
	t, id, err := target(r)
	if err == nil && (!t.read || t.categories == nil) {
		err = errMethod
	}
	if err == nil {
		err = noParams(r)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, m := r.Context(), memberFrom(r.Context())
	latest, err := h.release(ctx, m, t, id, 0)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b := newBundle("history", h.now())
	b.add(r, latest, "")
	for v := latest.Version.Number - 1; v >= 1; v-- {
		s, err := h.release(ctx, m, t, id, v)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		b.add(r, s, "")
	}
	b.link(r, "self", r.URL.RequestURI())
	writeResource(w, r, http.StatusOK, b)
}

// noParams refuses query parameters other than the general ones.
func noParams(r *http.Request) error {
	for name := range r.URL.Query() {
		if !generalParams[name] {
			return badRequest(name, "unknown parameter %s", strconv.Quote(name))
		}
	}
	return nil
}

// generalParams apply to every interaction.
var generalParams = map[string]bool{"_format": true, "_pretty": true}
