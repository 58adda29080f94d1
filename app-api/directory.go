package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
)

// Directory is the clinician directory the API serves; *directory.Directory implements it.
type Directory interface {
	Get(ctx context.Context, by directory.Member, pseudonym string) (*directory.Entry, error)
	Put(ctx context.Context, by directory.Member, pseudonym, enrollmentID string, p directory.Profile) (*directory.Entry, error)
	OrgName(msp string) string
}

// DirectoryEntry is one clinician as the API shows them: name, profession, department and the
// organisation's human name beside the pseudonym, and the same as FHIR resources.
type DirectoryEntry struct {
	Pseudonym    string              `json:"pseudonym"`
	MSP          string              `json:"msp"`
	Organization string              `json:"organization"`
	Name         string              `json:"name"`
	Profession   string              `json:"profession"`
	Department   string              `json:"department,omitempty"`
	UpdatedAt    time.Time           `json:"updatedAt"`
	FHIR         directory.Resources `json:"fhir"`
}

// DirectoryUpdate is the body of PUT /v1/directory/{pseudonym}. An admin names the member by
// EnrollmentID; a clinician writing their own entry leaves it out.
type DirectoryUpdate struct {
	directory.Profile
	EnrollmentID string `json:"enrollmentId,omitempty"`
}

// Organization is a consortium organisation's MSP ID and human name.
type Organization struct {
	MSP  string `json:"msp"`
	Name string `json:"name"`
}

var errNoDirectory = &requestError{http.StatusNotImplemented, CodeNotImplemented, "this server has no clinician directory configured"}

func (s *server) member(c *caller) directory.Member {
	return directory.Member{MSP: c.MSPID, Pseudonym: c.Pseudonym, Role: c.Role}
}

func (s *server) directoryEntry(e *directory.Entry) DirectoryEntry {
	org := s.cfg.Directory.OrgName(e.MSP)
	return DirectoryEntry{
		Pseudonym: e.Pseudonym, MSP: e.MSP, Organization: org, Name: e.Name, Profession: e.Profession,
		Department: e.Department, UpdatedAt: e.UpdatedAt, FHIR: e.FHIR(org),
	}
}

// directoryTarget reads the pseudonym a directory request is about, or answers the request
// with why it cannot be served.
func (s *server) directoryTarget(w http.ResponseWriter, r *http.Request) (string, bool) {
	err := queryParams(r).err
	if s.cfg.Directory == nil {
		err = errNoDirectory
	}
	id := ""
	if err == nil {
		id, err = pathPseudonym(r, "pseudonym")
	}
	if err != nil {
		s.writeError(w, r, err)
		return "", false
	}
	return id, true
}

// directoryGet answers who a clinician is. There is no listing: one exact pseudonym at a time.
func (s *server) directoryGet(w http.ResponseWriter, r *http.Request) {
	id, ok := s.directoryTarget(w, r)
	if !ok {
		return
	}
	e, err := s.cfg.Directory.Get(r.Context(), s.member(callerFrom(r.Context())), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.directoryEntry(e))
}

// directoryPut writes a clinician's entry: the clinician their own, an admin their
// organisation's members.
func (s *server) directoryPut(w http.ResponseWriter, r *http.Request) {
	id, ok := s.directoryTarget(w, r)
	if !ok {
		return
	}
	var u DirectoryUpdate
	if err := decodeJSON(w, r, &u); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkField(len(u.EnrollmentID) <= 256, "enrollmentId", "must be at most 256 characters"); err != nil {
		s.writeError(w, r, err)
		return
	}
	e, err := s.cfg.Directory.Put(r.Context(), s.member(callerFrom(r.Context())), id, u.EnrollmentID, u.Profile)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.directoryEntry(e))
}

// organizations lists the consortium's organisations with their human names.
func (s *server) organizations(w http.ResponseWriter, r *http.Request) {
	if err := queryParams(r).err; err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]Organization, 0, len(s.mspIDs))
	for _, id := range s.mspIDs {
		name := id
		if s.cfg.Directory != nil {
			name = s.cfg.Directory.OrgName(id)
		}
		out = append(out, Organization{MSP: id, Name: name})
	}
	slices.SortFunc(out, func(a, b Organization) int { return strings.Compare(a.Name, b.Name) })
	writeJSON(w, http.StatusOK, map[string]any{"organizations": out})
}

// directoryError maps the directory's refusals; classify calls it.
func directoryError(err error) (status int, code, message string, ok bool) {
	switch {
	case errors.Is(err, directory.ErrInvalid):
		return http.StatusBadRequest, string(model.CodeInvalidArgument), err.Error(), true
	case errors.Is(err, directory.ErrForbidden):
		return http.StatusForbidden, string(model.CodeForbidden), "the directory does not let you do this: a clinician writes their own entry, an admin their organisation's; manufacturers and the anonymiser may not read it", true
	case errors.Is(err, directory.ErrNotFound):
		return http.StatusNotFound, string(model.CodeNotFound), "no clinician with this pseudonym is in the directory", true
	}
	return 0, "", "", false
}
