package web

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
)

// patientAccess sums up what the grants to a clinician say about one patient.
type patientAccess struct {
	Patient   string
	Active    bool
	Emergency bool
	Read      bool
	Append    bool
	Kinds     []string
	Purposes  []string
	// Categories are the categories in force, as codes.
	Categories []string
	// Person is who the patient is, from their own details record, when they shared it.
	Person *patientView
	// Granted says a grant the patient gave is in force; GrantUntil is when the last of them
	// ends (nil: when the patient takes it back). EmergencyUntil is when the emergency access
	// in force ends. Each basis keeps its own window: an emergency hour is never shown with a
	// grant's end date.
	Granted        bool
	GrantUntil     *time.Time
	EmergencyUntil *time.Time
	// Status is the best status among the grants: in force, starts later, ended, taken back.
	Status string
	// Since is when the latest grant changed (created, or revoked).
	Since time.Time
}

func (s *server) grantsToMe(ctx context.Context, v *viewer) ([]model.Grant, error) {
	grants, _, err := collect(ctx, func(p ledger.Page) ([]model.Grant, string, error) {
		gp, err := v.client.ListGrantsToMe(ctx, false, p)
		if err != nil {
			return nil, "", err
		}
		return gp.Grants, gp.Bookmark, nil
	})
	return grants, err
}

// summarise groups grants by patient, patients with access in force first.
func summarise(grants []model.Grant) []*patientAccess {
	rank := map[string]int{model.GrantActive: 0, model.GrantPending: 1, model.GrantExpired: 2, model.GrantRevoked: 3}
	byPatient := map[string]*patientAccess{}
	var order []*patientAccess
	for _, g := range grants {
		pa, ok := byPatient[g.Patient]
		if !ok {
			pa = &patientAccess{Patient: g.Patient, Status: g.Status}
			byPatient[g.Patient] = pa
			order = append(order, pa)
		}
		changed := g.CreatedAt
		if g.RevokedAt != nil {
			changed = *g.RevokedAt
		}
		if changed.After(pa.Since) {
			pa.Since = changed
		}
		if rank[g.Status] < rank[pa.Status] {
			pa.Status = g.Status
		}
		if g.Status != model.GrantActive {
			continue
		}
		pa.Active = true
		pa.Emergency = pa.Emergency || g.Emergency
		pa.Read = pa.Read || slices.Contains(g.Actions, model.ActionRead)
		pa.Append = pa.Append || slices.Contains(g.Actions, model.ActionAppend)
		cats := g.Categories
		if g.Emergency {
			cats = model.Categories
		}
		for _, c := range cats {
			if !slices.Contains(pa.Categories, c) {
				pa.Categories = append(pa.Categories, c)
			}
			if w := categoryWord(c); !slices.Contains(pa.Kinds, w) {
				pa.Kinds = append(pa.Kinds, w)
			}
		}
		if w := purposeWord(g.Purpose); !slices.Contains(pa.Purposes, w) {
			pa.Purposes = append(pa.Purposes, w)
		}
		if g.Emergency {
			if g.ValidUntil != nil && (pa.EmergencyUntil == nil || g.ValidUntil.After(*pa.EmergencyUntil)) {
				pa.EmergencyUntil = g.ValidUntil
			}
			continue
		}
		switch {
		case !pa.Granted:
			pa.Granted, pa.GrantUntil = true, g.ValidUntil
		case pa.GrantUntil == nil:
		case g.ValidUntil == nil || g.ValidUntil.After(*pa.GrantUntil):
			pa.GrantUntil = g.ValidUntil
		}
	}
	slices.SortStableFunc(order, func(a, b *patientAccess) int {
		if ra, rb := rank[a.Status], rank[b.Status]; ra != rb {
			return ra - rb
		}
		return b.Since.Compare(a.Since)
	})
	return order
}

// listDetailsLimit bounds how many patients' details the patient list reads: each is a read
// of the patient's record, written to their access trail.
const listDetailsLimit = 25

// personOf reads who the patient is from their newest personal details record (a FHIR
// Patient, category demographics), as the clinician, so the read is decided and audited like
// any other. It returns nil when there is none the clinician may read, or it cannot be read.
func (s *server) personOf(ctx context.Context, v *viewer, pid string, at viewing) *patientView {
	hp, err := v.client.GetPatientHistory(ctx, pid, model.CategoryDemographics, ledger.Page{Size: 20})
	if err != nil || len(hp.Records) == 0 {
		return nil
	}
	newest := hp.Records[0].Record
	for _, h := range hp.Records[1:] {
		if h.Record.UpdatedAt.After(newest.UpdatedAt) {
			newest = h.Record
		}
	}
	rel, err := s.cfg.Service.Read(ctx, v.client, newest.ID, 0, "", v.reading(newest.ID)...)
	if err != nil {
		return nil
	}
	defer clear(rel.Data)
	return viewContent(rel.MediaType, rel.Data, at).Patient
}

// viewing is how the request's reader sees times: their time zone, and now.
func (s *server) viewing(r *http.Request) viewing {
	return viewing{zone: s.zones.of(r), now: s.now()}
}

func (s *server) clinicianHome(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.clinicianHomePage(w, r, v, http.StatusOK, "")
}

func (s *server) clinicianHomePage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string) {
	grants, err := s.grantsToMe(r.Context(), v)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	reasons := make([]map[string]string, len(model.EmergencyReasons))
	for i, c := range model.EmergencyReasons {
		reasons[i] = map[string]string{"Code": c, "Word": reasonWord(c)}
	}
	patients := summarise(grants)
	at, shown := s.viewing(r), 0
	for _, pa := range patients {
		if shown == listDetailsLimit || r.Context().Err() != nil {
			break
		}
		if pa.Active && slices.Contains(pa.Categories, model.CategoryDemographics) {
			pa.Person = s.personOf(r.Context(), v, pa.Patient, at)
			shown++
		}
	}
	data := map[string]any{"Patients": patients, "Reasons": reasons, "Durations": emergencyDurations, "Details": shown > 0}
	s.renderWith(w, r, status, "clinician_home", v, s.csrf.token(v.binding), "My patients", data, problem)
}

// timelineLimit is how many records a timeline shows (and reads) at first.
const timelineLimit = 50

// timelineEntry is one record in a patient's timeline.
type timelineEntry struct {
	Record  model.Record
	Version model.Version
	Author  string
	View    entryView
	// Refused is the reason this record was not shown, in words.
	Refused string
}

func (s *server) clinicianPatient(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.patientPage(w, r, v, http.StatusOK, "")
}

func (s *server) patientPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string) {
	ctx := r.Context()
	pid := r.PathValue("patientID")
	if !model.ValidPseudonym(pid) {
		s.fail(w, r, v, http.StatusNotFound, "A patient's CareLedger ID is 32 characters, digits 0-9 and letters a-f.")
		return
	}
	grants, err := s.grantsToMe(ctx, v)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	var access *patientAccess
	for _, pa := range summarise(grants) {
		if pa.Patient == pid {
			access = pa
		}
	}
	hist, _, err := collect(ctx, func(p ledger.Page) ([]model.RecordHistory, string, error) {
		hp, err := v.client.GetPatientHistory(ctx, pid, "", p)
		if err != nil {
			return nil, "", err
		}
		return hp.Records, hp.Bookmark, nil
	})
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	// Newest first by the ledger's metadata, which is cheap; only the records shown are read
	// (and so audited), the newest timelineLimit unless the clinician asks for all.
	latest := func(h model.RecordHistory) time.Time {
		if n := len(h.Versions); n > 0 {
			return h.Versions[n-1].CreatedAt
		}
		return h.Record.UpdatedAt
	}
	slices.SortStableFunc(hist, func(a, b model.RecordHistory) int { return latest(b).Compare(latest(a)) })
	hidden := 0
	if len(hist) > timelineLimit && r.URL.Query().Get("show") != "all" {
		hidden = len(hist) - timelineLimit
		hist = hist[:timelineLimit]
	}
	entries := make([]timelineEntry, 0, len(hist))
	at := s.viewing(r)
	var person *patientView
	authors := make([]string, 0, len(hist))
	for _, h := range hist {
		if n := len(h.Versions); n > 0 {
			authors = append(authors, h.Versions[n-1].Author.ID)
		}
	}
	known := s.namesOf(ctx, v, authors)
	for _, h := range hist {
		e := timelineEntry{Record: h.Record}
		if n := len(h.Versions); n > 0 {
			e.Version = h.Versions[n-1]
			e.Author = s.describe(e.Version.Author, v.LedgerID, known)
		}
		rel, err := s.cfg.Service.Read(ctx, v.client, h.Record.ID, 0, "", v.reading(h.Record.ID)...)
		if err != nil {
			_, e.Refused = s.explain(err)
		} else {
			e.View = viewContent(rel.MediaType, rel.Data, at)
			clear(rel.Data)
		}
		if person == nil && e.View.Patient != nil {
			person = e.View.Patient // the newest Patient resource among the records shown
		}
		entries = append(entries, e)
	}
	detailsGranted := access != nil && access.Active && slices.Contains(access.Categories, model.CategoryDemographics)
	if person == nil && detailsGranted {
		person = s.personOf(ctx, v, pid, at)
	}
	// The ledger only lists what this clinician may read now; when that is nothing, say why
	// in the ledger's terms rather than show an empty page.
	refusal := ""
	if len(entries) == 0 {
		switch {
		case access == nil:
			refusal = "You have no access: this patient has not given you access to their records."
		case access.Status == model.GrantRevoked:
			refusal = "Access was revoked: the patient took back your access on " + moment(access.Since, at.zone) + "."
		case access.Status == model.GrantExpired:
			refusal = "Your access to this patient's records has ended."
		case access.Status == model.GrantPending:
			refusal = "Your access to this patient's records has not started yet."
		}
		if refusal != "" && status == http.StatusOK {
			status = http.StatusForbidden
		}
	}
	title := "Patient " + shortID(pid)
	if person != nil && person.Name != "" {
		title = person.Name
	}
	canAppend := access != nil && access.Active && access.Append
	data := map[string]any{"Patient": pid, "Person": person, "DetailsGranted": detailsGranted, "Access": access, "Entries": entries, "Refusal": refusal, "Hidden": hidden, "CanAppend": canAppend}
	s.renderWith(w, r, status, "clinician_patient", v, s.csrf.token(v.binding), title, data, problem)
}

func (s *server) clinicianAdd(w http.ResponseWriter, r *http.Request, v *viewer) {
	pid := r.PathValue("patientID")
	if !model.ValidPseudonym(pid) {
		s.fail(w, r, v, http.StatusNotFound, "A patient's CareLedger ID is 32 characters, digits 0-9 and letters a-f.")
		return
	}
	data, err := parseEntryForm(r.PostForm, s.now())
	if err == nil {
		_, err = s.cfg.Service.Upload(r.Context(), v.client, gateway.Upload{Owner: pid, Content: gateway.Content{MediaType: fhir.MediaType, Data: data}})
	}
	if err != nil {
		status, msg := s.explain(err)
		s.patientPage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/clinician/patients/"+pid+"?done=added", http.StatusSeeOther)
}

func (s *server) clinicianEmergency(w http.ResponseWriter, r *http.Request, v *viewer) {
	req, err := parseEmergencyForm(r.PostForm)
	if err == nil {
		_, err = v.client.OpenEmergencyAccess(r.Context(), req)
	}
	if err != nil {
		status, msg := s.explain(err)
		s.clinicianHomePage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/clinician/patients/"+req.Patient+"?done=emergency", http.StatusSeeOther)
}

// download releases one record version as a file; the gateway decides and audits the read.
func (s *server) download(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("recordID")
	if !model.ValidID(id) {
		s.fail(w, r, v, http.StatusNotFound, "We could not find that.")
		return
	}
	version := 0
	if q := r.URL.Query().Get("v"); q != "" {
		n, err := parsePositive(q)
		if err != nil {
			s.fail(w, r, v, http.StatusBadRequest, "There is no such version.")
			return
		}
		version = n
	}
	rel, err := s.cfg.Service.Read(r.Context(), v.client, id, version, "", v.reading(id)...)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	defer clear(rel.Data)
	mt := rel.MediaType
	if !model.ValidMediaType(mt) {
		mt = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", mt)
	h.Set("Content-Disposition", `attachment; filename="`+downloadName(rel)+`"`)
	// Documents are whatever was uploaded: never let the browser run them in our origin.
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rel.Data)
}
