package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/careledger/careledger/chaincode/model"
)

// FHIRMediaType is the media type of FHIR R4 JSON content.
const FHIRMediaType = "application/fhir+json"

// Me returns the caller as the ledger sees them, with their pseudonym.
func (c *Client) Me(ctx context.Context) (*model.Caller, error) {
	return get[model.Caller](ctx, c, "/v1/me", nil)
}

// Upload is a new record. Owner is the patient's pseudonym (empty: the calling patient);
// Category is needed for documents; ID is optional (the server picks a UUID).
type Upload struct {
	Owner, Category, ID string
	MediaType           string
	Data                []byte
}

// Upload stores a new record.
func (c *Client) Upload(ctx context.Context, u Upload) (*model.Record, error) {
	return c.content(ctx, "/v1/records", u.query(), u.MediaType, u.Data)
}

func (u Upload) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"owner": u.Owner, "category": u.Category, "id": u.ID} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// UploadAll stores content as Upload does and returns every record it created: one, or, for a
// collection or transaction Bundle, one per entry (stored all or nothing).
func (c *Client) UploadAll(ctx context.Context, u Upload) ([]model.Record, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: "/v1/records", query: u.query(), contentType: u.MediaType, body: u.Data})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		model.Record
		Records []model.Record `json:"records"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("careledger api POST /v1/records: decode response: %w", err)
	}
	if out.Records != nil {
		return out.Records, nil
	}
	return []model.Record{out.Record}, nil
}

// AppendVersion stores a new version of a record.
func (c *Client) AppendVersion(ctx context.Context, recordID, mediaType string, data []byte) (*model.Record, error) {
	return c.content(ctx, "/v1/records/"+seg(recordID)+"/versions", nil, mediaType, data)
}

func (c *Client) content(ctx context.Context, path string, q url.Values, mediaType string, data []byte) (*model.Record, error) {
	resp, err := c.do(ctx, request{method: http.MethodPost, path: path, query: q, contentType: mediaType, body: data})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var rec model.Record
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil {
		return nil, fmt.Errorf("careledger api POST %s: decode response: %w", path, err)
	}
	return &rec, nil
}

// Record returns a record's metadata.
func (c *Client) Record(ctx context.Context, recordID string) (*model.Record, error) {
	return get[model.Record](ctx, c, "/v1/records/"+seg(recordID), nil)
}

// Versions returns a record with its version chain.
func (c *Client) Versions(ctx context.Context, recordID string) (*model.RecordHistory, error) {
	return get[model.RecordHistory](ctx, c, "/v1/records/"+seg(recordID)+"/versions", nil)
}

// Verify checks a ciphertext hash against a record's chain.
func (c *Client) Verify(ctx context.Context, recordID, hash string) (*model.Verification, error) {
	return get[model.Verification](ctx, c, "/v1/records/"+seg(recordID)+"/verify", url.Values{"hash": {hash}})
}

// Content is a released record version.
type Content struct {
	MediaType string
	Data      []byte
	Version   int
	// Hash is the ciphertext hash of the version on the ledger; Basis why it was released.
	Hash, Basis string
}

// Content reads a record version (0: the latest) for a purpose ("" for none).
func (c *Client) Content(ctx context.Context, recordID string, version int, purpose string) (*Content, error) {
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	if purpose != "" {
		q.Set("purpose", purpose)
	}
	// The member's own signature says this read was theirs (see WithoutAccessAssertions).
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/records/" + seg(recordID) + "/content", query: q,
		assertion: &model.AccessAssertion{RecordID: recordID, Action: model.ActionRead, Purpose: purpose}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("careledger api read content: %w", err)
	}
	v, _ := strconv.Atoi(resp.Header.Get("X-Record-Version"))
	etag := resp.Header.Get("ETag")
	if len(etag) >= 2 {
		etag = etag[1 : len(etag)-1]
	}
	return &Content{MediaType: resp.Header.Get("Content-Type"), Data: data, Version: v, Hash: etag, Basis: resp.Header.Get("X-Access-Basis")}, nil
}

func listQuery(p Page, kv ...string) url.Values {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	p.set(q)
	return q
}

// PatientRecords lists the patient's records the caller may read.
func (c *Client) PatientRecords(ctx context.Context, patientID, category string, p Page) (*model.RecordPage, error) {
	return get[model.RecordPage](ctx, c, "/v1/patients/"+seg(patientID)+"/records", listQuery(p, "category", category))
}

// PatientHistory lists the patient's readable records with their version chains.
func (c *Client) PatientHistory(ctx context.Context, patientID, category string, p Page) (*model.HistoryPage, error) {
	return get[model.HistoryPage](ctx, c, "/v1/patients/"+seg(patientID)+"/history", listQuery(p, "category", category))
}

// Release is one record version's content in a history read: FHIR content in Resource,
// documents in Data.
type Release struct {
	Record   model.Record    `json:"record"`
	Version  model.Version   `json:"version"`
	Basis    string          `json:"basis"`
	GrantID  string          `json:"grantId,omitempty"`
	Media    string          `json:"mediaType"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Data     []byte          `json:"data,omitempty"`
	// Unavailable is set, with no content, for a version whose stored content the server could
	// not release (code CONTENT_MISSING); the rest of the page is there.
	Unavailable *Unavailable `json:"unavailable,omitempty"`
}

// Unavailable says why a version in a history read came without its content.
type Unavailable struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ReleasePage is one page of released content.
type ReleasePage struct {
	Releases []Release `json:"releases"`
	Bookmark string    `json:"bookmark,omitempty"`
}

// PatientContent reads the latest version of every record of the patient the caller may read.
// Each page is a read the member signs for, naming the patient.
func (c *Client) PatientContent(ctx context.Context, patientID, category, purpose string, p Page) (*ReleasePage, error) {
	out := new(ReleasePage)
	r := request{method: http.MethodGet, path: "/v1/patients/" + seg(patientID) + "/content", query: listQuery(p, "category", category, "purpose", purpose),
		assertion: &model.AccessAssertion{Patient: patientID, Action: model.ActionRead, Purpose: purpose}}
	if err := c.send(ctx, r, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Erasure returns a patient's erasure record.
func (c *Client) Erasure(ctx context.Context, patientID string) (*model.Erasure, error) {
	return get[model.Erasure](ctx, c, "/v1/patients/"+seg(patientID)+"/erasure", nil)
}

// Grants lists a patient's grants ("" for the caller's own).
func (c *Client) Grants(ctx context.Context, patientID string, activeOnly bool, p Page) (*model.GrantPage, error) {
	return get[model.GrantPage](ctx, c, "/v1/grants", listQuery(p, "patient", patientID, "active", strconv.FormatBool(activeOnly)))
}

// GrantsToMe lists the grants naming the caller or their organisation.
func (c *Client) GrantsToMe(ctx context.Context, activeOnly bool, p Page) (*model.GrantPage, error) {
	return get[model.GrantPage](ctx, c, "/v1/me/grants", listQuery(p, "active", strconv.FormatBool(activeOnly)))
}

// GetGrant returns one grant.
func (c *Client) GetGrant(ctx context.Context, grantID string) (*model.Grant, error) {
	return get[model.Grant](ctx, c, "/v1/grants/"+seg(grantID), nil)
}

// GrantConsent returns one grant as a FHIR R4 Consent resource (JSON).
func (c *Client) GrantConsent(ctx context.Context, grantID string) (json.RawMessage, error) {
	out, err := get[json.RawMessage](ctx, c, "/v1/grants/"+seg(grantID)+"/consent", nil)
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// Consents exports a patient's grants as a FHIR R4 Bundle of Consent resources (JSON).
func (c *Client) Consents(ctx context.Context, patientID string, activeOnly bool, p Page) (json.RawMessage, error) {
	out, err := get[json.RawMessage](ctx, c, "/v1/consents", listQuery(p, "patient", patientID, "active", strconv.FormatBool(activeOnly)))
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// EmergencyAccess opens break-glass access to a patient's records (clinicians). The ID may be
// empty.
func (c *Client) EmergencyAccess(ctx context.Context, r model.EmergencyRequest) (*model.Grant, error) {
	var g model.Grant
	if err := c.call(ctx, http.MethodPost, "/v1/emergency-access", nil, r, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// AccessLog returns a patient's audit trail ("" for the caller's own).
func (c *Client) AccessLog(ctx context.Context, patientID string, p Page) (*model.AccessPage, error) {
	return get[model.AccessPage](ctx, c, "/v1/audit", listQuery(p, "patient", patientID))
}

// ResearchConsent returns a patient's research consent ("" for the caller's own).
func (c *Client) ResearchConsent(ctx context.Context, patientID string) (*model.ResearchConsent, error) {
	return get[model.ResearchConsent](ctx, c, "/v1/research-consent", listQuery(Page{}, "patient", patientID))
}

// Delegates lists the caller's delegates.
func (c *Client) Delegates(ctx context.Context, p Page) (*model.DelegatePage, error) {
	return get[model.DelegatePage](ctx, c, "/v1/delegates", listQuery(p))
}

// Cohorts lists published cohorts.
func (c *Client) Cohorts(ctx context.Context, p Page) (*model.CohortPage, error) {
	return get[model.CohortPage](ctx, c, "/v1/cohorts", listQuery(p))
}

// Cohort returns one cohort publication.
func (c *Client) Cohort(ctx context.Context, cohortID string) (*model.Cohort, error) {
	return get[model.Cohort](ctx, c, "/v1/cohorts/"+seg(cohortID), nil)
}

// CohortFile describes a cohort data file.
type CohortFile struct {
	Name      string `json:"name"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
}

// CohortFiles lists a cohort's data files.
func (c *Client) CohortFiles(ctx context.Context, cohortID string) ([]CohortFile, error) {
	out, err := get[struct {
		Files []CohortFile `json:"files"`
	}](ctx, c, "/v1/cohorts/"+seg(cohortID)+"/files", nil)
	if err != nil {
		return nil, err
	}
	return out.Files, nil
}

// DownloadCohortFile copies a cohort data file to w and returns its media type and digest as
// the server announced them.
func (c *Client) DownloadCohortFile(ctx context.Context, cohortID, name string, w io.Writer) (*CohortFile, error) {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: "/v1/cohorts/" + seg(cohortID) + "/files/" + seg(name)})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return nil, fmt.Errorf("careledger api download cohort file: %w", err)
	}
	return &CohortFile{Name: name, MediaType: resp.Header.Get("Content-Type"), Size: n, SHA256: resp.Header.Get("X-Content-SHA256")}, nil
}

// AggregateQuery is a disclosure-controlled aggregate query (see the API documentation).
type AggregateQuery struct {
	GroupBy   []string `json:"groupBy"`
	Statistic string   `json:"statistic"`
	Attribute string   `json:"attribute,omitempty"`
	Epsilon   float64  `json:"epsilon,omitempty"`
}

// AggregateResult is a released aggregate.
type AggregateResult struct {
	Columns []string `json:"columns"`
	Rows    []struct {
		Values []string `json:"values"`
		Value  float64  `json:"value"`
	} `json:"rows"`
	SuppressedCells int     `json:"suppressedCells"`
	Mechanism       string  `json:"mechanism"`
	Epsilon         float64 `json:"epsilon,omitempty"`
}

// Query runs an aggregate query on a cohort.
func (c *Client) Query(ctx context.Context, cohortID string, q AggregateQuery) (*AggregateResult, error) {
	var out AggregateResult
	if err := c.call(ctx, http.MethodPost, "/v1/cohorts/"+seg(cohortID)+"/query", nil, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CohortRequest asks for a cohort from the patients consenting to Purpose, k-anonymous (and,
// with L of 2 or more, l-diverse in the diagnosis or each sensitive variable; with T above 0,
// t-close in each sensitive variable) within the suppression limit. Definition, when set, is
// an extract definition (docs/cohort-extract.md): which patients and which clinical
// variables.
type CohortRequest struct {
	ID               string          `json:"id,omitempty"`
	Purpose          string          `json:"purpose"`
	K                int             `json:"k"`
	L                int             `json:"l,omitempty"`
	T                float64         `json:"t,omitempty"`
	SuppressionLimit float64         `json:"suppressionLimit"`
	Definition       json.RawMessage `json:"definition,omitempty"`
}

// PublishCohort asks the anonymiser service to build and publish a cohort (the caller must be
// the anonymiser).
func (c *Client) PublishCohort(ctx context.Context, req CohortRequest) (*model.Cohort, error) {
	var out model.Cohort
	if err := c.call(ctx, http.MethodPost, "/v1/cohorts", nil, req, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
