package contract

import (
	"encoding/json"
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

// auditEntryFormat marks the compact stored form of an audit entry.
//
// Audit entries are most of what a ledger holds after a few years (every release of content
// writes one), so they are stored without what their key already says (the patient, the time
// of access and the access ID: cl.audit [patient, accessedAt, accessID]) and without field
// names, as a JSON array:
//
//	[2, recordId, version, action, accessorMSP, accessorID, accessorRole, basis, grantId,
//	 purpose, recordedBy, txId, assurance, reason?]
//
// where reason, why a refused attempt was refused, is there only for basis refused.
//
// That is about half the bytes of the JSON object written before (model.AccessEntry), which
// ledgers keep and ListAccessLog still reads: a stored entry starting with '{' is that.
const auditEntryFormat = 2

// encodeAuditEntry returns the compact stored form of e; its key holds Owner, AccessedAt and ID.
func encodeAuditEntry(e *model.AccessEntry) ([]byte, error) {
	fields := []any{auditEntryFormat, e.RecordID, e.Version, e.Action, e.Accessor.MSP, e.Accessor.ID, e.Accessor.Role,
		e.Basis, e.GrantID, e.Purpose, e.RecordedBy, e.TxID, e.Assurance}
	if e.Reason != "" {
		fields = append(fields, e.Reason)
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, model.Errorf(model.CodeInternal, "encode audit entry: %v", err)
	}
	return b, nil
}

// decodeAuditEntry reads a stored audit entry in either form; attrs are its key's attributes
// (patient, accessedAt, accessID).
func decodeAuditEntry(attrs []string, value []byte) (model.AccessEntry, error) {
	var e model.AccessEntry
	if len(value) > 0 && value[0] == '{' {
		err := unmarshal(value, &e)
		return e, err
	}
	if len(attrs) != 3 {
		return e, model.Errorf(model.CodeInternal, "decode stored audit entry: key has %d attributes", len(attrs))
	}
	var format int
	fields := []any{&format, &e.RecordID, &e.Version, &e.Action, &e.Accessor.MSP, &e.Accessor.ID, &e.Accessor.Role,
		&e.Basis, &e.GrantID, &e.Purpose, &e.RecordedBy, &e.TxID, &e.Assurance, &e.Reason}
	want := len(fields)
	if err := json.Unmarshal(value, &fields); err != nil || len(fields) < want-1 || len(fields) > want || format != auditEntryFormat {
		return e, model.Errorf(model.CodeInternal, "decode stored audit entry: not format %d", auditEntryFormat)
	}
	at, err := time.Parse(sortableTime, attrs[1])
	if err != nil {
		return e, model.Errorf(model.CodeInternal, "decode stored audit entry: key time: %v", err)
	}
	e.Owner, e.AccessedAt, e.ID = attrs[0], at, attrs[2]
	return e, nil
}
