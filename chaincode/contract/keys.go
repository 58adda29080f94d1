package contract

// Composite-key object types. Each names one kind of document or index; all are prefixed so
// that CareLedger's keys never collide with another contract's on a shared channel.
const (
	kindRecord      = "cl.rec"     // [recordID] -> model.Record
	kindVersion     = "cl.ver"     // [recordID, version%010d] -> model.Version
	kindHash        = "cl.hash"    // [hash] -> hashEntry
	kindOwnerRecord = "cl.prec"    // [owner, recordID] -> index
	kindGrant       = "cl.grant"   // [grantID] -> model.Grant
	kindOwnerGrant  = "cl.pgrant"  // [patient, grantID] -> index
	kindGranteeIdx  = "cl.ggrant"  // [granteeKey, patient, grantID] -> end of a grant in force (grantindex.go)
	kindGranteeEnd  = "cl.ggrantr" // [granteeKey, patient, grantID] -> index of grants that ended
	kindEnded       = "cl.gend"    // [granteeKey, patient, scope, action, purpose] -> endedGrant
	kindPair        = "cl.gpair"   // [granteeKey, patient] -> mark: the pair's ended grants are in cl.gend
	kindParty       = "cl.party"   // [pseudonym] -> model.Party as last seen changing the ledger
	kindAudit       = "cl.audit"   // [patient, accessedAt, accessID] -> compact audit entry (auditentry.go)
	kindAccessID    = "cl.access"  // [accessID] -> index
	kindResearch    = "cl.rc"      // [patient] -> model.ResearchConsent
	kindCohort      = "cl.cohort"  // [cohortID] -> model.Cohort
	kindDelegate    = "cl.dlg"     // [patient, delegate] -> model.Delegate
	kindErasure     = "cl.erased"  // [patient] -> model.Erasure
	kindPolicy      = "cl.policy"  // [] -> model.RolePolicy
	kindOrgCA       = "cl.orgca"   // [mspID] -> model.OrgCACertificates
	kindNonce       = "cl.nonce"   // [accessor, nonce, recordID] -> index of used assertions
	kindRefusal     = "cl.refused" // [patient, accessor] -> time of the last refused attempt recorded
)

// sortableTime is a fixed-width UTC time, so keys sort in time order.
const sortableTime = "2006-01-02T15:04:05.000000000Z"
