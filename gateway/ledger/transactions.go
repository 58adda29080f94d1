package ledger

import (
	"context"
	"strconv"

	"github.com/careledger/careledger/chaincode/model"
)

// The methods below map one to one onto the chaincode's transactions; see docs/chaincode.md
// for who may call each and what it checks.

// WhoAmI returns the caller as the chaincode sees it, including their pseudonym.
func (c *Client) WhoAmI(ctx context.Context) (*model.Caller, error) {
	return query[model.Caller](ctx, c, "WhoAmI")
}

// RegisterRecord registers version 1 of a record.
func (c *Client) RegisterRecord(ctx context.Context, r model.NewRecord) (*model.Record, error) {
	return invoke[model.Record](ctx, c, "RegisterRecord", arg(r))
}

// RegisterRecords registers version 1 of several records of one patient in one transaction:
// all of them, or none.
func (c *Client) RegisterRecords(ctx context.Context, rs []model.NewRecord) ([]model.Record, error) {
	out, err := invoke[[]model.Record](ctx, c, "RegisterRecords", arg(rs))
	if err != nil {
		return nil, err
	}
	return *out, nil
}

// AppendVersion adds the next version of a record.
func (c *Client) AppendVersion(ctx context.Context, v model.NewVersion) (*model.Record, error) {
	return invoke[model.Record](ctx, c, "AppendVersion", arg(v))
}

// GetRecord returns a record's metadata.
func (c *Client) GetRecord(ctx context.Context, recordID string) (*model.Record, error) {
	return query[model.Record](ctx, c, "GetRecord", recordID)
}

// GetRecordHistory returns a record with every version.
func (c *Client) GetRecordHistory(ctx context.Context, recordID string) (*model.RecordHistory, error) {
	return query[model.RecordHistory](ctx, c, "GetRecordHistory", recordID)
}

// VerifyRecordHash checks a hash against a record's versions.
func (c *Client) VerifyRecordHash(ctx context.Context, recordID, hash string) (*model.Verification, error) {
	return query[model.Verification](ctx, c, "VerifyRecordHash", recordID, hash)
}

// ListPatientRecords lists the patient's records the caller may read.
func (c *Client) ListPatientRecords(ctx context.Context, patientID, category string, p Page) (*model.RecordPage, error) {
	return query[model.RecordPage](ctx, c, "ListPatientRecords", append([]string{patientID, category}, p.args()...)...)
}

// GetPatientHistory lists the patient's readable records with all versions.
func (c *Client) GetPatientHistory(ctx context.Context, patientID, category string, p Page) (*model.HistoryPage, error) {
	return query[model.HistoryPage](ctx, c, "GetPatientHistory", append([]string{patientID, category}, p.args()...)...)
}

// CheckAccess asks whether the caller may do action on the record now.
func (c *Client) CheckAccess(ctx context.Context, recordID, action, purpose string) (*model.Decision, error) {
	return query[model.Decision](ctx, c, "CheckAccess", recordID, action, purpose)
}

// AuthorizeRead decides whether the caller may read version of the record now (0: the latest)
// and, when it may, returns the record and the version's metadata in the same evaluation.
func (c *Client) AuthorizeRead(ctx context.Context, recordID string, version int, purpose string) (*model.ReadAuthorization, error) {
	return query[model.ReadAuthorization](ctx, c, "AuthorizeRead", recordID, strconv.Itoa(version), purpose)
}

// Grant records a patient's consent.
func (c *Client) Grant(ctx context.Context, g model.GrantRequest) (*model.Grant, error) {
	return invoke[model.Grant](ctx, c, "Grant", arg(g))
}

// RevokeGrant revokes a grant.
func (c *Client) RevokeGrant(ctx context.Context, grantID string) (*model.Grant, error) {
	return invoke[model.Grant](ctx, c, "RevokeGrant", grantID)
}

// GetGrant returns one grant.
func (c *Client) GetGrant(ctx context.Context, grantID string) (*model.Grant, error) {
	return query[model.Grant](ctx, c, "GetGrant", grantID)
}

// ListGrants lists a patient's grants ("" for the caller).
func (c *Client) ListGrants(ctx context.Context, patientID string, activeOnly bool, p Page) (*model.GrantPage, error) {
	return query[model.GrantPage](ctx, c, "ListGrants", append([]string{patientID, strconv.FormatBool(activeOnly)}, p.args()...)...)
}

// ListGrantsToMe lists the grants naming the caller or their organisation.
func (c *Client) ListGrantsToMe(ctx context.Context, activeOnly bool, p Page) (*model.GrantPage, error) {
	return query[model.GrantPage](ctx, c, "ListGrantsToMe", append([]string{strconv.FormatBool(activeOnly)}, p.args()...)...)
}

// OpenEmergencyAccess opens break-glass read access.
func (c *Client) OpenEmergencyAccess(ctx context.Context, r model.EmergencyRequest) (*model.Grant, error) {
	return invoke[model.Grant](ctx, c, "OpenEmergencyAccess", arg(r))
}

// AddDelegate names a delegate.
func (c *Client) AddDelegate(ctx context.Context, r model.DelegateRequest) (*model.Delegate, error) {
	return invoke[model.Delegate](ctx, c, "AddDelegate", arg(r))
}

// RemoveDelegate withdraws a delegation.
func (c *Client) RemoveDelegate(ctx context.Context, delegateID string) error {
	_, err := c.submit(ctx, "RemoveDelegate", delegateID)
	return err
}

// ListDelegates lists the caller's delegates.
func (c *Client) ListDelegates(ctx context.Context, p Page) (*model.DelegatePage, error) {
	return query[model.DelegatePage](ctx, c, "ListDelegates", p.args()...)
}

// RecordAccesses appends a batch of access reports to the audit trails in one transaction.
func (c *Client) RecordAccesses(ctx context.Context, batch []model.AccessReport) (*model.AuditResult, error) {
	return invoke[model.AuditResult](ctx, c, "RecordAccesses", arg(batch))
}

// ListAccessLog returns a patient's audit trail ("" for the caller).
func (c *Client) ListAccessLog(ctx context.Context, patientID string, p Page) (*model.AccessPage, error) {
	return query[model.AccessPage](ctx, c, "ListAccessLog", append([]string{patientID}, p.args()...)...)
}

// SetResearchConsent opts in or out of research use.
func (c *Client) SetResearchConsent(ctx context.Context, r model.ResearchConsentRequest) (*model.ResearchConsent, error) {
	return invoke[model.ResearchConsent](ctx, c, "SetResearchConsent", arg(r))
}

// GetResearchConsent returns a patient's research consent ("" for the caller).
func (c *Client) GetResearchConsent(ctx context.Context, patientID string) (*model.ResearchConsent, error) {
	return query[model.ResearchConsent](ctx, c, "GetResearchConsent", patientID)
}

// ListResearchConsents lists pseudonyms consenting to purpose now (anonymiser only).
func (c *Client) ListResearchConsents(ctx context.Context, purpose string, p Page) (*model.ConsentPage, error) {
	return query[model.ConsentPage](ctx, c, "ListResearchConsents", append([]string{purpose}, p.args()...)...)
}

// PublishCohort records an anonymised cohort (anonymiser only).
func (c *Client) PublishCohort(ctx context.Context, p model.CohortPublication) (*model.Cohort, error) {
	return invoke[model.Cohort](ctx, c, "PublishCohort", arg(p))
}

// GetCohort returns one cohort publication.
func (c *Client) GetCohort(ctx context.Context, cohortID string) (*model.Cohort, error) {
	return query[model.Cohort](ctx, c, "GetCohort", cohortID)
}

// ListCohorts lists cohort publications.
func (c *Client) ListCohorts(ctx context.Context, p Page) (*model.CohortPage, error) {
	return query[model.CohortPage](ctx, c, "ListCohorts", p.args()...)
}

// RequestErasure records the caller's erasure request.
func (c *Client) RequestErasure(ctx context.Context) (*model.Erasure, error) {
	return invoke[model.Erasure](ctx, c, "RequestErasure")
}

// GetErasure returns a patient's erasure record (NOT_FOUND if not erased).
func (c *Client) GetErasure(ctx context.Context, patientID string) (*model.Erasure, error) {
	return query[model.Erasure](ctx, c, "GetErasure", patientID)
}

// SetRolePolicy sets which organisations may issue which roles (admin only).
func (c *Client) SetRolePolicy(ctx context.Context, p model.RolePolicy) (*model.RolePolicy, error) {
	return invoke[model.RolePolicy](ctx, c, "SetRolePolicy", arg(p))
}

// GetRolePolicy returns the role policy.
func (c *Client) GetRolePolicy(ctx context.Context) (*model.RolePolicy, error) {
	return query[model.RolePolicy](ctx, c, "GetRolePolicy")
}

// SetOrgCACertificates puts the caller's own organisation's CA certificates on the ledger
// (an admin, signing directly).
func (c *Client) SetOrgCACertificates(ctx context.Context, certs model.CACertificates) (*model.OrgCACertificates, error) {
	return invoke[model.OrgCACertificates](ctx, c, "SetOrgCACertificates", arg(certs))
}

// GetOrgCACertificates returns an organisation's CA certificates ("" for the caller's own).
func (c *Client) GetOrgCACertificates(ctx context.Context, mspID string) (*model.OrgCACertificates, error) {
	return query[model.OrgCACertificates](ctx, c, "GetOrgCACertificates", mspID)
}
