package web

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// listLimit bounds how many entries a page gathers from a paginated listing; beyond it the
// page says there is more.
const listLimit = 1000

// collect gathers a paginated listing up to listLimit entries.
func collect[T any](ctx context.Context, fetch func(ledger.Page) ([]T, string, error)) ([]T, bool, error) {
	var out []T
	page := ledger.Page{Size: 200}
	for {
		items, next, err := fetch(page)
		if err != nil {
			return nil, false, err
		}
		out = append(out, items...)
		if next == "" {
			return out, false, nil
		}
		if len(out) >= listLimit || ctx.Err() != nil {
			return out, true, nil
		}
		page.Bookmark = next
	}
}

func (s *server) patientHome(w http.ResponseWriter, r *http.Request, v *viewer) {
	if next, ok := pendingInvitation(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "patient_home", v, "Your health records", nil)
}

// recordRow is one of the patient's records, in words.
type recordRow struct {
	model.Record
	AddedByYou bool
	AddedBy    string
}

func (s *server) patientRecords(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.recordsPage(w, r, v, http.StatusOK, "")
}

func (s *server) recordsPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string) {
	// An erased patient is told so, and when, rather than shown an empty list.
	if er, err := v.client.GetErasure(r.Context(), v.LedgerID); err == nil && er != nil {
		s.renderWith(w, r, http.StatusOK, "patient_records", v, s.csrf.token(v.binding), "My records", map[string]any{"Erased": er}, problem)
		return
	}
	recs, more, err := collect(r.Context(), func(p ledger.Page) ([]model.Record, string, error) {
		rp, err := v.client.ListPatientRecords(r.Context(), v.LedgerID, "", p)
		if err != nil {
			return nil, "", err
		}
		return rp.Records, rp.Bookmark, nil
	})
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	slices.SortFunc(recs, func(a, b model.Record) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	ids := make([]string, 0, len(recs))
	for _, rec := range recs {
		ids = append(ids, rec.CreatedBy.ID)
	}
	n := s.namesOf(r.Context(), v, ids)
	rows := make([]recordRow, 0, len(recs))
	for _, rec := range recs {
		rows = append(rows, recordRow{Record: rec, AddedByYou: rec.CreatedBy.ID == v.LedgerID, AddedBy: s.describe(rec.CreatedBy, v.LedgerID, n)})
	}
	data := map[string]any{"Records": rows, "More": more, "Categories": categoryChoices()}
	s.renderWith(w, r, status, "patient_records", v, s.csrf.token(v.binding), "My records", data, problem)
}

// versionRow is one version of a record, in words.
type versionRow struct {
	model.Version
	Author string
}

// patientRecord shows one of the patient's records readably, with every version and who
// added it. Opening it is a read like any other and appears in the patient's access trail.
func (s *server) patientRecord(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("recordID")
	if !model.ValidID(id) {
		s.fail(w, r, v, http.StatusNotFound, "We could not find that.")
		return
	}
	hist, err := v.client.GetRecordHistory(r.Context(), id)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	rel, err := s.cfg.Service.Read(r.Context(), v.client, id, 0, "", v.reading(id)...)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	view := viewContent(rel.MediaType, rel.Data, s.viewing(r))
	clear(rel.Data)
	ids := make([]string, 0, len(hist.Versions))
	for _, ver := range hist.Versions {
		ids = append(ids, ver.Author.ID)
	}
	n := s.namesOf(r.Context(), v, ids)
	versions := make([]versionRow, 0, len(hist.Versions))
	for i := len(hist.Versions) - 1; i >= 0; i-- {
		ver := hist.Versions[i]
		versions = append(versions, versionRow{Version: ver, Author: s.describe(ver.Author, v.LedgerID, n)})
	}
	data := map[string]any{"Record": hist.Record, "View": view, "Versions": versions, "Purposes": purposeChoices()}
	s.render(w, r, http.StatusOK, "patient_record", v, "Your record: "+categoryWord(hist.Record.Category), data)
}

// grantRow is a grant in words.
type grantRow struct {
	model.Grant
	Who string
	// WhoID is the pseudonym of the person named, shown beside the name.
	WhoID     string
	Kinds     string
	Revocable bool
	// Token is the form token for the revoke button of a revocable grant.
	Token string
}

func (s *server) grantRows(ctx context.Context, v *viewer) ([]grantRow, bool, error) {
	grants, more, err := collect(ctx, func(p ledger.Page) ([]model.Grant, string, error) {
		gp, err := v.client.ListGrants(ctx, "", false, p)
		if err != nil {
			return nil, "", err
		}
		return gp.Grants, gp.Bookmark, nil
	})
	if err != nil {
		return nil, false, err
	}
	// In force first, then newest first: what matters now is at the top.
	rank := map[string]int{model.GrantActive: 0, model.GrantPending: 1, model.GrantExpired: 2, model.GrantRevoked: 3}
	slices.SortStableFunc(grants, func(a, b model.Grant) int {
		if ra, rb := rank[a.Status], rank[b.Status]; ra != rb {
			return ra - rb
		}
		return b.CreatedAt.Compare(a.CreatedAt)
	})
	ids := make([]string, 0, len(grants))
	for _, g := range grants {
		ids = append(ids, g.Grantee.ID, g.GrantedBy.ID)
	}
	n := s.namesOf(ctx, v, ids)
	var recs map[string]model.Record // read only when a grant names single records
	rows := make([]grantRow, 0, len(grants))
	for _, g := range grants {
		row := grantRow{Grant: g, Revocable: v.CanSign && (g.Status == model.GrantActive || g.Status == model.GrantPending)}
		switch {
		case g.Grantee.MSP != "":
			row.Who = "every clinician at " + s.orgName(g.Grantee.MSP)
		case g.Emergency:
			row.Who, row.WhoID = s.describe(g.GrantedBy, v.LedgerID, n), g.GrantedBy.ID
		default:
			row.WhoID = g.Grantee.ID
			if e, ok := n[g.Grantee.ID]; ok {
				row.Who = s.person(e)
			} else {
				row.Who = "a person not in any organisation's directory"
			}
		}
		if len(g.Categories) == len(model.Categories) {
			row.Kinds = "all your records"
		} else if len(g.Categories) > 0 {
			words := make([]string, len(g.Categories))
			for i, c := range g.Categories {
				words[i] = categoryWord(c)
			}
			row.Kinds = strings.Join(words, ", ")
		} else if len(g.RecordIDs) > 0 {
			if recs == nil {
				recs, _ = s.ownRecords(ctx, v)
			}
			row.Kinds = recordWords(recs, g.RecordIDs)
		} else if g.Emergency {
			row.Kinds = "all your records"
		}
		rows = append(rows, row)
	}
	return rows, more, nil
}

// recordWords names single records by kind and date, as the patient's record list does.
func recordWords(recs map[string]model.Record, ids []string) string {
	words := make([]string, 0, len(ids))
	for _, id := range ids {
		if rec, ok := recs[id]; ok {
			words = append(words, "one of your "+categoryWord(rec.Category)+" (added "+calendarDay(rec.CreatedAt, time.UTC)+")")
		} else {
			words = append(words, "one record that no longer exists")
		}
	}
	return strings.Join(words, "; ")
}

// ownRecords are the signed-in patient's records by ID.
func (s *server) ownRecords(ctx context.Context, v *viewer) (map[string]model.Record, error) {
	recs, _, err := collect(ctx, func(p ledger.Page) ([]model.Record, string, error) {
		rp, err := v.client.ListPatientRecords(ctx, v.LedgerID, "", p)
		if err != nil {
			return nil, "", err
		}
		return rp.Records, rp.Bookmark, nil
	})
	out := make(map[string]model.Record, len(recs))
	for _, rec := range recs {
		out[rec.ID] = rec
	}
	return out, err
}

func (s *server) patientSharing(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.sharingPage(w, r, v, http.StatusOK, "")
}

func (s *server) sharingPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string) {
	rows, more, err := s.grantRows(r.Context(), v)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	orgs := make([]map[string]string, 0, len(s.cfg.Orgs))
	for id := range s.cfg.Orgs {
		orgs = append(orgs, map[string]string{"ID": id, "Name": s.orgName(id)})
	}
	slices.SortFunc(orgs, func(a, b map[string]string) int { return strings.Compare(a["Name"], b["Name"]) })
	cats := categoryChoices()
	purposes := purposeChoices()
	token := s.csrf.token(v.binding)
	// What is in force now stays in view; what ended or was taken back folds into a history,
	// so the page stays short however long the patient has used CareLedger.
	var current, past []grantRow
	for _, row := range rows {
		if row.Revocable {
			row.Token = token
		}
		if row.Status == model.GrantActive || row.Status == model.GrantPending {
			current = append(current, row)
		} else {
			past = append(past, row)
		}
	}
	data := map[string]any{"Current": current, "Past": past, "More": more, "Orgs": orgs, "Categories": cats, "Purposes": purposes, "Form": r.PostForm}
	s.renderWith(w, r, status, "patient_sharing", v, token, "Who may see what", data, problem)
}

func categoryChoices() []map[string]string {
	cats := make([]map[string]string, len(model.Categories))
	for i, c := range model.Categories {
		cats[i] = map[string]string{"Code": c, "Word": categoryWord(c), "Hint": categoryHints[c]}
	}
	return cats
}

func purposeChoices() []map[string]string {
	purposes := make([]map[string]string, len(grantPurposes))
	for i, p := range grantPurposes {
		purposes[i] = map[string]string{"Code": p, "Word": purposeWord(p)}
	}
	return purposes
}

// needSignature tells a certificate-only viewer that consent changes need their own key.
const needSignature = "Changes to who may see your records must be signed with your own key. Please sign in with your wallet name and passphrase to do this."

// consentChange makes a change the patient signs with their own key (a grant, a revocation, a
// delegate) and sends the browser to done; a refusal is shown on page, where the form was.
func (s *server) consentChange(w http.ResponseWriter, r *http.Request, v *viewer, page func(int, string), done string, change func() error) {
	if !v.CanSign {
		page(http.StatusForbidden, needSignature)
		return
	}
	if err := change(); err != nil {
		page(s.explain(err))
		return
	}
	http.Redirect(w, r, done, http.StatusSeeOther)
}

func (s *server) sharingProblem(w http.ResponseWriter, r *http.Request, v *viewer) func(int, string) {
	return func(status int, problem string) { s.sharingPage(w, r, v, status, problem) }
}

func (s *server) patientGrant(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.consentChange(w, r, v, s.sharingProblem(w, r, v), "/patient/sharing?done=granted", func() error {
		g, err := parseGrantForm(r.PostForm, s.now())
		if err == nil {
			_, err = v.client.Grant(r.Context(), g)
		}
		return err
	})
}

func (s *server) patientRevoke(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.consentChange(w, r, v, s.sharingProblem(w, r, v), "/patient/sharing?done=revoked", func() error {
		id := r.PathValue("grantID")
		if !model.ValidID(id) {
			return badForm("that access does not exist.")
		}
		_, err := v.client.RevokeGrant(r.Context(), id)
		return err
	})
}

// accessRow is one entry of the patient's trail, in words: a read of a record, or a version
// someone else added to one.
type accessRow struct {
	model.AccessEntry
	Who       string
	What      string
	Emergency bool
	// Added marks a version someone else added (AccessEntry holds its time, author, record and
	// version); otherwise the row is a read, or a refused attempt (basis refused).
	Added bool
	// Refused is why an attempt was refused, in words; empty for reads and additions.
	Refused string
}

func (s *server) patientAccess(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	entries, more, err := collect(ctx, func(p ledger.Page) ([]model.AccessEntry, string, error) {
		ap, err := v.client.ListAccessLog(ctx, "", p)
		if err != nil {
			return nil, "", err
		}
		return ap.Entries, ap.Bookmark, nil
	})
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	recs, _ := s.ownRecords(ctx, v)
	rows := make([]accessRow, 0, len(entries))
	for _, e := range entries {
		rows = append(rows, accessRow{AccessEntry: e, Emergency: e.Basis == model.BasisEmergency})
	}
	rows = append(rows, s.additions(ctx, v, recs)...)
	ids := make([]string, 0, len(rows))
	for _, row := range rows {
		ids = append(ids, row.Accessor.ID)
	}
	n := s.namesOf(ctx, v, ids)
	emergencies, refused := 0, 0
	for i := range rows {
		row := &rows[i]
		if row.Basis == model.BasisRefused {
			row.Refused = refusalWord(row.Reason)
			refused++
		}
		row.Who = s.describe(row.Accessor, v.LedgerID, n)
		row.What = "a record"
		if rec, ok := recs[row.RecordID]; ok {
			row.What = categoryWord(rec.Category)
		}
		if row.Emergency && !row.Added {
			emergencies++
		}
	}
	slices.SortStableFunc(rows, func(a, b accessRow) int { return b.AccessedAt.Compare(a.AccessedAt) }) // newest first
	s.render(w, r, http.StatusOK, "patient_access", v, "Who looked at my records", map[string]any{"Entries": rows, "More": more, "Emergencies": emergencies, "Refused": refused})
}

// additionsLimit bounds how many records' version histories the trail reads for additions.
const additionsLimit = 200

// additions are the versions others added to the patient's records (a clinician's result or
// note, a new version), newest records first; the patient's own uploads are not listed.
func (s *server) additions(ctx context.Context, v *viewer, recs map[string]model.Record) []accessRow {
	var ids []string
	for id, rec := range recs {
		if rec.CreatedBy.ID != v.LedgerID || rec.Versions > 1 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b string) int { return recs[b].UpdatedAt.Compare(recs[a].UpdatedAt) })
	if len(ids) > additionsLimit {
		ids = ids[:additionsLimit]
	}
	var out []accessRow
	for _, id := range ids {
		hist, err := v.client.GetRecordHistory(ctx, id)
		if err != nil {
			continue // one unreadable history degrades that record, not the trail
		}
		for _, ver := range hist.Versions {
			if ver.Author.ID == v.LedgerID {
				continue
			}
			out = append(out, accessRow{Added: true, AccessEntry: model.AccessEntry{
				RecordID: id, Version: ver.Number, Accessor: ver.Author, AccessedAt: ver.CreatedAt, TxID: ver.TxID,
			}})
		}
	}
	return out
}

func (s *server) patientResearch(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.researchPage(w, r, v, http.StatusOK, "")
}

func (s *server) researchPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string) {
	rc, err := v.client.GetResearchConsent(r.Context(), "")
	if err != nil && !errors.Is(err, &model.Error{Code: model.CodeNotFound}) {
		s.failErr(w, r, v, err)
		return
	}
	active := rc != nil && rc.OptIn && (rc.Until == nil || s.now().Before(*rc.Until))
	purposes := make([]map[string]any, len(model.ResearchPurposes))
	for i, p := range model.ResearchPurposes {
		purposes[i] = map[string]any{"Code": p, "Word": researchWord(p), "On": active && slices.Contains(rc.Purposes, p)}
	}
	data := map[string]any{"Consent": rc, "Active": active, "Purposes": purposes}
	s.renderWith(w, r, status, "patient_research", v, s.csrf.token(v.binding), "Research", data, problem)
}

func (s *server) patientSetResearch(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.CanSign {
		s.researchPage(w, r, v, http.StatusForbidden, needSignature)
		return
	}
	req, err := parseResearchForm(r.PostForm)
	if err == nil {
		_, err = v.client.SetResearchConsent(r.Context(), req)
	}
	if err != nil {
		status, msg := s.explain(err)
		s.researchPage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/patient/research?done=research", http.StatusSeeOther)
}

// erasePhrase must be typed to confirm erasure: a click alone is too easy to make by mistake.
const erasePhrase = "delete my data"

func (s *server) patientErasePage(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.renderWith(w, r, http.StatusOK, "patient_erase", v, s.csrf.token(v.binding), "Delete my data", map[string]any{"Phrase": erasePhrase}, "")
}

func (s *server) patientErase(w http.ResponseWriter, r *http.Request, v *viewer) {
	problem, status := "", http.StatusOK
	switch {
	case !v.CanSign:
		problem, status = "Deleting your data must be signed with your own key. Please sign in with your wallet name and passphrase.", http.StatusForbidden
	case strings.ToLower(strings.TrimSpace(r.PostFormValue("confirm"))) != erasePhrase:
		problem, status = `Nothing was deleted. To confirm, type the words "`+erasePhrase+`" exactly.`, http.StatusBadRequest
	}
	if problem != "" {
		s.renderWith(w, r, status, "patient_erase", v, s.csrf.token(v.binding), "Delete my data", map[string]any{"Phrase": erasePhrase}, problem)
		return
	}
	// Erasure must finish even if the browser goes away half-way; it is idempotent, so a
	// failure can be retried from this page.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 2*time.Minute)
	defer cancel()
	if err := s.cfg.Service.Erase(ctx, v.client); err != nil {
		s.failErr(w, r, v, err)
		return
	}
	s.sessions.end(v.sessionID)
	clearCookie(w, sessionCookie)
	s.render(w, r, http.StatusOK, "erased", nil, "Your data is deleted", nil)
}
