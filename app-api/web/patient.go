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
	s.render(w, r, http.StatusOK, "patient_home", v, "Your health records", nil)
}

// recordRow is one of the patient's records, in words.
type recordRow struct {
	model.Record
	AddedByYou bool
	AddedBy    string
}

func (s *server) describeParty(p model.Party, me string) string {
	if p.ID == me {
		return "you"
	}
	return roleWord(string(p.Role)) + " at " + s.orgName(p.MSP)
}

func (s *server) patientRecords(w http.ResponseWriter, r *http.Request, v *viewer) {
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
	rows := make([]recordRow, 0, len(recs))
	for _, rec := range recs {
		rows = append(rows, recordRow{Record: rec, AddedByYou: rec.CreatedBy.ID == v.LedgerID, AddedBy: s.describeParty(rec.CreatedBy, v.LedgerID)})
	}
	s.render(w, r, http.StatusOK, "patient_records", v, "My records", map[string]any{"Records": rows, "More": more})
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
	versions := make([]versionRow, 0, len(hist.Versions))
	for i := len(hist.Versions) - 1; i >= 0; i-- {
		ver := hist.Versions[i]
		versions = append(versions, versionRow{Version: ver, Author: s.describeParty(ver.Author, v.LedgerID)})
	}
	data := map[string]any{"Record": hist.Record, "View": view, "Versions": versions}
	s.render(w, r, http.StatusOK, "patient_record", v, "Your record: "+categoryWord(hist.Record.Category), data)
}

// grantRow is a grant in words.
type grantRow struct {
	model.Grant
	Who       string
	Kinds     string
	Revocable bool
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
	rows := make([]grantRow, 0, len(grants))
	for _, g := range grants {
		row := grantRow{Grant: g, Revocable: v.CanSign && (g.Status == model.GrantActive || g.Status == model.GrantPending)}
		if g.Grantee.MSP != "" {
			row.Who = "every clinician at " + s.orgName(g.Grantee.MSP)
		} else if g.Emergency {
			row.Who = "a clinician at " + s.orgName(g.GrantedBy.MSP)
		} else {
			row.Who = "the person with ID " + g.Grantee.ID
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
			row.Kinds = "some single records"
		} else if g.Emergency {
			row.Kinds = "all your records"
		}
		rows = append(rows, row)
	}
	return rows, more, nil
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
	cats := make([]map[string]string, len(model.Categories))
	for i, c := range model.Categories {
		cats[i] = map[string]string{"Code": c, "Word": categoryWord(c), "Hint": categoryHints[c]}
	}
	purposes := make([]map[string]string, len(grantPurposes))
	for i, p := range grantPurposes {
		purposes[i] = map[string]string{"Code": p, "Word": purposeWord(p)}
	}
	data := map[string]any{"Grants": rows, "More": more, "Orgs": orgs, "Categories": cats, "Purposes": purposes, "Form": r.PostForm}
	token := s.csrf.token(v.binding)
	s.renderWith(w, r, status, "patient_sharing", v, token, "Who may see what", data, problem)
}

// needSignature tells a certificate-only viewer that consent changes need their own key.
const needSignature = "Changes to who may see your records must be signed with your own key. Please sign in with your wallet name and passphrase to do this."

func (s *server) patientGrant(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.CanSign {
		s.sharingPage(w, r, v, http.StatusForbidden, needSignature)
		return
	}
	g, err := parseGrantForm(r.PostForm, s.now())
	if err == nil {
		_, err = v.client.Grant(r.Context(), g)
	}
	if err != nil {
		status, msg := s.explain(err)
		s.sharingPage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/patient/sharing?done=granted", http.StatusSeeOther)
}

func (s *server) patientRevoke(w http.ResponseWriter, r *http.Request, v *viewer) {
	if !v.CanSign {
		s.sharingPage(w, r, v, http.StatusForbidden, needSignature)
		return
	}
	id := r.PathValue("grantID")
	if !model.ValidID(id) {
		s.sharingPage(w, r, v, http.StatusBadRequest, "That access does not exist.")
		return
	}
	if _, err := v.client.RevokeGrant(r.Context(), id); err != nil {
		status, msg := s.explain(err)
		s.sharingPage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/patient/sharing?done=revoked", http.StatusSeeOther)
}

// accessRow is one entry of the access trail, in words.
type accessRow struct {
	model.AccessEntry
	Who       string
	What      string
	Emergency bool
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
	cats := map[string]string{}
	if recs, _, err := collect(ctx, func(p ledger.Page) ([]model.Record, string, error) {
		rp, err := v.client.ListPatientRecords(ctx, v.LedgerID, "", p)
		if err != nil {
			return nil, "", err
		}
		return rp.Records, rp.Bookmark, nil
	}); err == nil {
		for _, rec := range recs {
			cats[rec.ID] = rec.Category
		}
	}
	rows := make([]accessRow, 0, len(entries))
	emergencies := 0
	for i := len(entries) - 1; i >= 0; i-- { // newest first
		e := entries[i]
		row := accessRow{AccessEntry: e, Who: s.describeParty(e.Accessor, v.LedgerID), Emergency: e.Basis == model.BasisEmergency}
		if c, ok := cats[e.RecordID]; ok {
			row.What = categoryWord(c)
		} else {
			row.What = "a record"
		}
		if row.Emergency {
			emergencies++
		}
		rows = append(rows, row)
	}
	s.render(w, r, http.StatusOK, "patient_access", v, "Who looked at my records", map[string]any{"Entries": rows, "More": more, "Emergencies": emergencies})
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
