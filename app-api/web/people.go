package web

import (
	"context"
	"net/http"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
)

// People are named from the clinician directory where it knows them: "Dr Anna Weber
// (internist, Cardiology) at Klinikum Musterstadt" rather than a pseudonym. The directory is
// asked as the signed-in person, one page's pseudonyms at a time; a pseudonym it does not know
// is shown by role and organisation.

// names are the directory entries of the people a page shows, by pseudonym.
type names map[string]directory.Entry

func (v *viewer) member() directory.Member {
	return directory.Member{MSP: v.MSPID, Pseudonym: v.LedgerID, Role: model.Role(v.Role)}
}

// namesOf looks up the given pseudonyms; without a directory, or when it refuses the viewer,
// nobody is named.
func (s *server) namesOf(ctx context.Context, v *viewer, ids []string) names {
	if s.cfg.Directory == nil || len(ids) == 0 {
		return names{}
	}
	got, err := s.cfg.Directory.Lookup(ctx, v.member(), ids)
	if err != nil {
		return names{}
	}
	return got
}

// person names a directory entry with profession, department and organisation.
func (s *server) person(e directory.Entry) string {
	out := e.Name + " (" + e.Profession
	if e.Department != "" {
		out += ", " + e.Department
	}
	return out + ") at " + s.orgName(e.MSP)
}

// describe names a party: "you", the directory's words, or role and organisation.
func (s *server) describe(p model.Party, me string, n names) string {
	if p.ID == me {
		return "you"
	}
	if e, ok := n[p.ID]; ok {
		return s.person(e)
	}
	return roleWord(string(p.Role)) + " at " + s.orgName(p.MSP)
}

// clinicianProfile shows and edits the clinician's own directory entry.
func (s *server) clinicianProfile(w http.ResponseWriter, r *http.Request, v *viewer) {
	s.profilePage(w, r, v, http.StatusOK, "", nil)
}

func (s *server) profilePage(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem string, form *directory.Profile) {
	data := map[string]any{"Available": s.cfg.Directory != nil, "Org": s.orgName(v.MSPID), "ID": v.LedgerID, "Max": map[string]int{
		"Name": directory.MaxNameRunes, "Profession": directory.MaxProfessionRunes, "Department": directory.MaxDepartmentRunes,
	}}
	if form != nil {
		data["Profile"] = *form
	} else if s.cfg.Directory != nil {
		if e, err := s.cfg.Directory.Get(r.Context(), v.member(), v.LedgerID); err == nil {
			data["Profile"] = e.Profile
			data["Updated"] = e.UpdatedAt
		}
	}
	s.renderWith(w, r, status, "clinician_profile", v, s.csrf.token(v.binding), "How patients see you", data, problem)
}

func (s *server) clinicianSaveProfile(w http.ResponseWriter, r *http.Request, v *viewer) {
	p := directory.Profile{Name: r.PostFormValue("name"), Profession: r.PostFormValue("profession"), Department: r.PostFormValue("department")}
	if s.cfg.Directory == nil {
		s.profilePage(w, r, v, http.StatusNotImplemented, "This server has no clinician directory.", &p)
		return
	}
	if _, err := s.cfg.Directory.Put(r.Context(), v.member(), v.LedgerID, "", p); err != nil {
		status, msg := s.explain(err)
		s.profilePage(w, r, v, status, msg, &p)
		return
	}
	http.Redirect(w, r, "/clinician/profile?done=profile", http.StatusSeeOther)
}
