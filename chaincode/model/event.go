package model

// Chaincode event names. Fabric carries one event per transaction, so each transaction emits at
// most one of these.
const (
	EventRecordRegistered  = "RecordRegistered"
	EventRecordsRegistered = "RecordsRegistered"
	EventVersionAppended   = "VersionAppended"
	EventGrantCreated      = "GrantCreated"
	EventGrantRevoked      = "GrantRevoked"
	EventEmergencyAccess   = "EmergencyAccessOpened"
	EventResearchConsent   = "ResearchConsentChanged"
	EventCohortPublished   = "CohortPublished"
	EventErasureRequested  = "ErasureRequested"
	EventDelegateChanged   = "DelegateChanged"
	EventAccessesRecorded  = "AccessesRecorded"
	EventRolePolicyChanged = "RolePolicyChanged"
	EventOrgCAChanged      = "OrgCACertificatesChanged"
)

// Event is the payload of every CareLedger chaincode event: identifiers only, so that
// listeners (the patient's notifier, the gateway's access cache) know what changed.
type Event struct {
	Patient  string   `json:"patient,omitempty"`
	RecordID string   `json:"recordId,omitempty"`
	Version  int      `json:"version,omitempty"`
	GrantID  string   `json:"grantId,omitempty"`
	Grantee  *Grantee `json:"grantee,omitempty"`
	CohortID string   `json:"cohortId,omitempty"`
	Count    int      `json:"count,omitempty"`
	Actor    string   `json:"actor,omitempty"`
}
