package model

import "time"

// Bases on which an access is allowed.
const (
	BasisOwner     = "owner"
	BasisGrant     = "grant"
	BasisEmergency = "emergency"
	BasisResearch  = "research"
	// BasisRefused marks an audit entry of an attempt the ledger refused: Reason says why.
	BasisRefused = "refused"
)

// Reasons an access is refused, in Decision.Reason.
const (
	DenyNoGrant           = "no-grant"
	DenyGrantExpired      = "grant-expired"
	DenyGrantRevoked      = "grant-revoked"
	DenyGrantNotYetValid  = "grant-not-yet-valid"
	DenyErased            = "erased"
	DenyRoleNotPermitted  = "role-not-permitted"
	DenyNoResearchConsent = "no-research-consent"
)

// RecordedRefusals are the refusals a gateway reports to the patient's audit trail: every
// reason but erasure (an erased patient has no trail to show them).
var RecordedRefusals = []string{DenyNoGrant, DenyGrantExpired, DenyGrantRevoked, DenyGrantNotYetValid, DenyRoleNotPermitted, DenyNoResearchConsent}

// RefusalWindow bounds how often one accessor's refused attempts on one patient's records
// reach the patient's trail: at most one entry per window, whatever a gateway reports, so a
// prober cannot flood a trail or the ledger.
const RefusalWindow = 10 * time.Minute

// Decision is the ledger's answer to "may this caller do this action on this record now?".
type Decision struct {
	RecordID   string     `json:"recordId"`
	Owner      string     `json:"owner"`
	Category   string     `json:"category"`
	Action     string     `json:"action"`
	Accessor   Party      `json:"accessor"`
	Allowed    bool       `json:"allowed"`
	Basis      string     `json:"basis,omitempty" metadata:",optional"`
	GrantID    string     `json:"grantId,omitempty" metadata:",optional"`
	Purpose    string     `json:"purpose,omitempty" metadata:",optional"`
	ValidUntil *time.Time `json:"validUntil,omitempty" metadata:",optional"`
	Reason     string     `json:"reason,omitempty" metadata:",optional"`
	DecidedAt  time.Time  `json:"decidedAt"`
}

// AccessEntry is one release of record content, written to the patient's audit trail.
type AccessEntry struct {
	ID         string    `json:"id"`
	RecordID   string    `json:"recordId"`
	Version    int       `json:"version"`
	Owner      string    `json:"owner"`
	Action     string    `json:"action"`
	Accessor   Party     `json:"accessor"`
	Basis      string    `json:"basis"`
	GrantID    string    `json:"grantId,omitempty" metadata:",optional"`
	Purpose    string    `json:"purpose,omitempty" metadata:",optional"`
	AccessedAt time.Time `json:"accessedAt"`
	// Reason is why an attempt was refused (a Deny* code), for basis refused only.
	Reason     string `json:"reason,omitempty" metadata:",optional"`
	RecordedBy string `json:"recordedBy"`
	TxID       string `json:"txId"`
	// Assurance says who vouches for the access: AssuranceMemberSigned when the accessor's own
	// key signed for it (an assertion, or the accessor's own transaction), else
	// AssuranceGatewayAsserted. Entries written before assurance was recorded are listed as
	// gateway-asserted: the gateway's word was all there was.
	Assurance string `json:"assurance,omitempty" metadata:",optional"`
}

// AccessReport is one access to record in the audit trail, as sent by the gateway.
type AccessReport struct {
	ID         string    `json:"id"`
	RecordID   string    `json:"recordId"`
	Version    int       `json:"version"`
	Action     string    `json:"action"`
	Accessor   Party     `json:"accessor"`
	Basis      string    `json:"basis"`
	GrantID    string    `json:"grantId,omitempty"`
	Purpose    string    `json:"purpose,omitempty"`
	AccessedAt time.Time `json:"accessedAt"`
	// Reason is why the ledger refused the attempt, for basis refused; Version is then 0 (the
	// record, not a version of it: nothing was read).
	Reason string `json:"reason,omitempty"`
	// Assertion is the accessor's own signed request for this access, if their client made
	// one, and Certificate the accessor's PEM certificate that verifies it (it must chain to
	// the organisation's CA certificates on the ledger). Without them the access is recorded
	// as gateway-asserted.
	Assertion   *SignedAssertion `json:"assertion,omitempty"`
	Certificate string           `json:"certificate,omitempty"`
}

// AuditResult says how many entries of a batch were new and how many were already on the
// ledger (a batch replayed after a crash is recorded once).
type AuditResult struct {
	Recorded   int `json:"recorded"`
	Duplicates int `json:"duplicates"`
	// Skipped counts refused attempts not written: on a record that does not exist, one the
	// ledger would not refuse for that reason at that time, or within RefusalWindow of the
	// last refusal recorded for the same accessor and patient.
	Skipped int `json:"skipped,omitempty" metadata:",optional"`
}

// AccessPage is one page of a patient's audit trail, oldest first.
type AccessPage struct {
	Entries  []AccessEntry `json:"entries"`
	Bookmark string        `json:"bookmark,omitempty" metadata:",optional"`
}
