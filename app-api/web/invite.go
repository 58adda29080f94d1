package web

import (
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
	"rsc.io/qr"
)

// An invitation is how a clinician asks a patient for access without the patient typing a
// 32-character ID: the clinician's page shows a QR code and a link holding the clinician's
// pseudonym, their display name and a suggested scope (kinds of records, actions, purpose,
// days). The patient opens it, sees who it is and what is asked, and gives access in one step,
// signed with their own key as every grant is.
//
// The link is not signed or MAC'd. Everything in it is shown to the patient in full before
// they sign, and the grant is exactly what the page shows: altering the link in transit can
// change only what is asked, in plain view, never what is granted behind the patient's back.
// Who the clinician is comes from their organisation's directory, not from the link; the
// link's name is used only to warn when it differs from the directory's, or when the
// directory has no entry. A MAC by this server would add nothing the patient can check: it
// would prove only that some clinician of some organisation made the link, which the
// directory already says.

// invitation is a clinician's request for access, as carried in the link.
type invitation struct {
	Clinician  string
	Name       string
	Categories []string
	Actions    []string
	Purpose    string
	// Days is how long the access should last, 1 to maxInvitationDays.
	Days int
}

const (
	maxInvitationDays = 3650
	maxInvitationName = directory.MaxNameRunes
	// inviteCookie keeps an invitation across sign-in, for a patient who opened it signed out.
	inviteCookie = "__Host-careledger-invite"
)

// invitationDays are the lengths a clinician may suggest.
var invitationDays = []int{7, 30, 90, 365}

// parseInvitation reads an invitation from a link's query, refusing anything out of bounds.
func parseInvitation(q url.Values) (invitation, error) {
	inv := invitation{Clinician: q.Get("c"), Name: strings.TrimSpace(q.Get("n")), Purpose: q.Get("p")}
	if !model.ValidPseudonym(inv.Clinician) {
		return inv, badForm("the invitation does not name a clinician's CareLedger ID.")
	}
	if !utf8.ValidString(inv.Name) || utf8.RuneCountInString(inv.Name) > maxInvitationName || strings.IndexFunc(inv.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return inv, badForm("the invitation's name is not readable text.")
	}
	for _, c := range strings.Split(q.Get("cat"), ",") {
		if !slices.Contains(model.Categories, c) {
			return inv, badForm("the invitation asks for an unknown kind of record.")
		}
		if !slices.Contains(inv.Categories, c) {
			inv.Categories = append(inv.Categories, c)
		}
	}
	for _, a := range strings.Split(q.Get("a"), ",") {
		if !slices.Contains(model.Actions, a) {
			return inv, badForm("the invitation asks for an unknown kind of access.")
		}
		if !slices.Contains(inv.Actions, a) {
			inv.Actions = append(inv.Actions, a)
		}
	}
	if !slices.Contains(grantPurposes, inv.Purpose) {
		return inv, badForm("the invitation asks for an unknown purpose.")
	}
	d, err := strconv.Atoi(q.Get("d"))
	if err != nil || d < 1 || d > maxInvitationDays {
		return inv, badForm("the invitation asks for between 1 and %d days.", maxInvitationDays)
	}
	inv.Days = d
	return inv, nil
}

// query is the invitation as a link's query; parseInvitation reads it back.
func (inv invitation) query() url.Values {
	q := url.Values{}
	q.Set("c", inv.Clinician)
	if inv.Name != "" {
		q.Set("n", inv.Name)
	}
	q.Set("cat", strings.Join(inv.Categories, ","))
	q.Set("a", strings.Join(inv.Actions, ","))
	q.Set("p", inv.Purpose)
	q.Set("d", strconv.Itoa(inv.Days))
	return q
}

// qrSVG draws text as a QR code in SVG, with the four-module quiet zone readers need. The
// SVG holds only rectangles drawn from the code's bits, so it is safe to put in a page.
func qrSVG(text, label string) (template.HTML, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("encode QR code: %w", err)
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="%s" shape-rendering="crispEdges">`, n, n, template.HTMLEscapeString(label))
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := range code.Size {
		for x := range code.Size {
			if code.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return template.HTML(b.String()), nil
}

// clinicianInvite shows the clinician's invitation for the scope chosen on the page.
func (s *server) clinicianInvite(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	if !q.Has("cat") {
		q = url.Values{"cat": {"lab,medication,diagnosis,note"}, "a": {model.ActionRead}, "p": {"TREAT"}, "d": {"90"}}
	} else {
		q.Set("cat", strings.Join(q["cat"], ","))
		q.Set("a", strings.Join(q["a"], ","))
	}
	q.Set("c", v.LedgerID)
	var entry *directory.Entry
	if s.cfg.Directory != nil {
		entry, _ = s.cfg.Directory.Get(r.Context(), v.member(), v.LedgerID)
	}
	if entry != nil {
		q.Set("n", entry.Name)
	}
	data := map[string]any{"Entry": entry, "Categories": categoryChoices(), "Purposes": purposeChoices(), "Days": invitationDays, "Org": s.orgName(v.MSPID), "ID": v.LedgerID}
	inv, err := parseInvitation(q)
	problem, status := "", http.StatusOK
	if err != nil {
		status, problem = s.explain(err)
	} else {
		link := "https://" + r.Host + "/patient/invite?" + inv.query().Encode()
		svg, err := qrSVG(link, "QR code of your invitation link")
		if err != nil {
			s.failErr(w, r, v, err)
			return
		}
		data["Link"], data["QR"], data["Invitation"] = link, svg, s.invitationView(inv)
	}
	if inv.Categories == nil {
		inv.Categories = []string{}
	}
	data["Chosen"] = inv
	s.renderWith(w, r, status, "clinician_invite", v, s.csrf.token(v.binding), "Invite a patient", data, problem)
}

// invitationView is what an invitation asks, in words.
func (s *server) invitationView(inv invitation) map[string]any {
	kinds := make([]string, len(inv.Categories))
	for i, c := range inv.Categories {
		kinds[i] = categoryWord(c)
	}
	return map[string]any{"Kinds": strings.Join(kinds, ", "), "Actions": actionsWord(inv.Actions), "Purpose": purposeWord(inv.Purpose), "Days": inv.Days}
}

// patientInvite shows an invitation to the patient: who asks (from the directory) and what,
// with one button that gives exactly that. A patient who is not signed in is sent to sign in
// and brought back.
func (s *server) patientInvite(w http.ResponseWriter, r *http.Request) {
	v := s.viewer(r)
	inv, err := parseInvitation(r.URL.Query())
	if err != nil {
		_, msg := s.explain(err)
		s.fail(w, r, v, http.StatusBadRequest, msg+" Please ask the clinician for a new invitation.")
		return
	}
	if v == nil {
		http.SetCookie(w, &http.Cookie{
			Name: inviteCookie, Value: inv.query().Encode(), Path: "/", MaxAge: 15 * 60,
			HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
		})
		// A link opened from another site (a QR reader, an e-mail) does not carry the
		// session cookie, which is SameSite=Strict: one click here does.
		if site := r.Header.Get("Sec-Fetch-Site"); site == "cross-site" || site == "same-site" {
			s.render(w, r, http.StatusOK, "invite_continue", nil, "Your invitation", map[string]any{"Query": inv.query().Encode()})
			return
		}
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	clearCookie(w, inviteCookie)
	if v.Role != rolePatient {
		s.fail(w, r, v, http.StatusForbidden, "This invitation is for a patient; you are signed in as "+roleWord(v.Role)+".")
		return
	}
	data := map[string]any{"Invitation": s.invitationView(inv), "Chosen": inv, "Linked": inv.Name}
	if inv.Clinician == v.LedgerID {
		s.fail(w, r, v, http.StatusBadRequest, "This is an invitation to give access to yourself.")
		return
	}
	if s.cfg.Directory != nil {
		if e, err := s.cfg.Directory.Get(r.Context(), v.member(), inv.Clinician); err == nil {
			data["Entry"], data["Who"], data["Org"] = e, e.Name, s.orgName(e.MSP)
			data["Mismatch"] = inv.Name != "" && inv.Name != e.Name
		}
	}
	// The access lasts to the end of the day Days from today, in the patient's zone.
	data["Until"] = s.now().In(s.zones.of(r)).AddDate(0, 0, inv.Days).Format("2006-01-02")
	data["UntilDay"] = s.now().AddDate(0, 0, inv.Days)
	s.renderWith(w, r, http.StatusOK, "patient_invite", v, s.csrf.token(v.binding), "A clinician asks for access", data, "")
}

// pendingInvitation returns the invitation a patient opened before signing in, if any.
func pendingInvitation(r *http.Request) (string, bool) {
	c, err := r.Cookie(inviteCookie)
	if err != nil {
		return "", false
	}
	q, err := url.ParseQuery(c.Value)
	if err != nil {
		return "", false
	}
	inv, err := parseInvitation(q)
	if err != nil {
		return "", false
	}
	return "/patient/invite?" + inv.query().Encode(), true
}
