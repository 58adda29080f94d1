package model

import "time"

// Grantee names who a grant is for: exactly one of a single identity (by pseudonym) or a whole
// organisation (by MSP ID).
type Grantee struct {
	ID  string `json:"id,omitempty" metadata:",optional"`
	MSP string `json:"msp,omitempty" metadata:",optional"`
}

// Key is the grantee's index key: "id:<pseudonym>" or "msp:<MSP ID>".
func (g Grantee) Key() string {
	if g.ID != "" {
		return "id:" + g.ID
	}
	return "msp:" + g.MSP
}

// GrantRequest is the argument of Grant. Patient is empty when patients grant for themselves
// and names the patient when a delegate grants on their behalf.
type GrantRequest struct {
	ID         string     `json:"id"`
	Patient    string     `json:"patient,omitempty"`
	Grantee    Grantee    `json:"grantee"`
	Actions    []string   `json:"actions"`
	Categories []string   `json:"categories,omitempty"`
	RecordIDs  []string   `json:"recordIds,omitempty"`
	Purpose    string     `json:"purpose"`
	ValidFrom  *time.Time `json:"validFrom,omitempty"`
	ValidUntil *time.Time `json:"validUntil,omitempty"`
}

// Grant statuses, computed at the time of the transaction that reads the grant.
const (
	GrantActive  = "active"
	GrantPending = "pending" // valid from a time still in the future
	GrantExpired = "expired"
	GrantRevoked = "revoked"
)

// Grant is a patient's consent for a grantee to perform actions on some of their records, or a
// clinician's break-glass emergency access (Emergency set, Reason given, granted by the
// clinician and visible to the patient).
type Grant struct {
	ID         string     `json:"id"`
	Patient    string     `json:"patient"`
	Grantee    Grantee    `json:"grantee"`
	Actions    []string   `json:"actions"`
	Categories []string   `json:"categories,omitempty" metadata:",optional"`
	RecordIDs  []string   `json:"recordIds,omitempty" metadata:",optional"`
	Purpose    string     `json:"purpose"`
	ValidFrom  time.Time  `json:"validFrom"`
	ValidUntil *time.Time `json:"validUntil,omitempty" metadata:",optional"`
	Emergency  bool       `json:"emergency"`
	Reason     string     `json:"reason,omitempty" metadata:",optional"`
	GrantedBy  Party      `json:"grantedBy"`
	Via        string     `json:"via,omitempty" metadata:",optional"`
	CreatedAt  time.Time  `json:"createdAt"`
	TxID       string     `json:"txId"`
	Revoked    bool       `json:"revoked"`
	RevokedAt  *time.Time `json:"revokedAt,omitempty" metadata:",optional"`
	RevokedBy  string     `json:"revokedBy,omitempty" metadata:",optional"`
	// RevokedTxID is the transaction that revoked the grant.
	RevokedTxID string `json:"revokedTxId,omitempty" metadata:",optional"`
	// Status is computed when the grant is read; it is not stored.
	Status string `json:"status,omitempty" metadata:",optional"`
}

// StatusAt returns the grant's status at time t.
func (g *Grant) StatusAt(t time.Time) string {
	switch {
	case g.Revoked && (g.RevokedAt == nil || !t.Before(*g.RevokedAt)):
		return GrantRevoked
	case t.Before(g.ValidFrom):
		return GrantPending
	case g.ValidUntil != nil && !t.Before(*g.ValidUntil):
		return GrantExpired
	default:
		return GrantActive
	}
}

// GrantPage is one page of grants.
type GrantPage struct {
	Grants   []Grant `json:"grants"`
	Bookmark string  `json:"bookmark,omitempty" metadata:",optional"`
}

// EmergencyRequest is the argument of OpenEmergencyAccess.
type EmergencyRequest struct {
	ID              string `json:"id"`
	Patient         string `json:"patient"`
	Reason          string `json:"reason"`
	DurationMinutes int    `json:"durationMinutes,omitempty"`
}

// Delegate is a person a patient named to manage their grants on their behalf.
type Delegate struct {
	Patient    string     `json:"patient"`
	Delegate   string     `json:"delegate"`
	ValidUntil *time.Time `json:"validUntil,omitempty" metadata:",optional"`
	CreatedAt  time.Time  `json:"createdAt"`
	TxID       string     `json:"txId"`
}

// DelegateRequest is the argument of AddDelegate.
type DelegateRequest struct {
	Delegate   string     `json:"delegate"`
	ValidUntil *time.Time `json:"validUntil,omitempty"`
}

// DelegatePage is one page of a patient's delegates.
type DelegatePage struct {
	Delegates []Delegate `json:"delegates"`
	Bookmark  string     `json:"bookmark,omitempty" metadata:",optional"`
}
