package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/careledger/careledger/gateway/directory"
)

// DirectoryEntry is a clinician as GET /v1/directory/{pseudonym} shows them.
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

// Organization is an organisation's MSP ID and human name.
type Organization struct {
	MSP  string `json:"msp"`
	Name string `json:"name"`
}

// Directory returns who a clinician is: name, profession, department and the organisation's
// human name. A pseudonym without an entry (a patient's, for one) is a 404 *Error.
func (c *Client) Directory(ctx context.Context, pseudonym string) (*DirectoryEntry, error) {
	return get[DirectoryEntry](ctx, c, "/v1/directory/"+url.PathEscape(pseudonym), nil)
}

// SetDirectory writes the caller's own directory entry (a clinician), or with enrollmentID an
// entry of a member of the caller's organisation (its admin).
func (c *Client) SetDirectory(ctx context.Context, pseudonym, enrollmentID string, p directory.Profile) (*DirectoryEntry, error) {
	var out DirectoryEntry
	err := c.call(ctx, http.MethodPut, "/v1/directory/"+url.PathEscape(pseudonym), nil, struct {
		directory.Profile
		EnrollmentID string `json:"enrollmentId,omitempty"`
	}{p, enrollmentID}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// Organizations lists the consortium's organisations with their human names, for showing
// "Klinikum Musterstadt" where the ledger says ClinicMSP.
func (c *Client) Organizations(ctx context.Context) ([]Organization, error) {
	out, err := get[struct {
		Organizations []Organization `json:"organizations"`
	}](ctx, c, "/v1/organizations", nil)
	if err != nil {
		return nil, err
	}
	return out.Organizations, nil
}
