package contract

import (
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

type hashEntry struct {
	RecordID string `json:"recordId"`
	Version  int    `json:"version"`
}

// RegisterRecord registers a new record owned by a patient: its first version's ciphertext
// hash and storage locator. The owner registers their own records; anyone else needs an
// `append` grant from the owner covering the record's category. Emits RecordRegistered.
func (c *Contract) RegisterRecord(ctx contractapi.TransactionContextInterface, record string) (*model.Record, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient, model.RoleClinician); err != nil {
		return nil, err
	}
	var req model.NewRecord
	if err := decode("record", record, &req); err != nil {
		return nil, err
	}
	rec, err := t.register(req)
	if err != nil {
		return nil, err
	}
	return rec, t.emit(model.EventRecordRegistered, model.Event{Patient: rec.Owner, RecordID: rec.ID, Version: 1, Actor: t.caller.ID})
}

// register checks one new record and writes it with its first version and the owner's
// index entry; RegisterRecord and RegisterRecords share it, so a batch is held to exactly the
// checks of a single registration.
func (t *txn) register(req model.NewRecord) (*model.Record, error) {
	if err := checkID("id", req.ID); err != nil {
		return nil, err
	}
	if err := checkPseudonym("owner", req.Owner); err != nil {
		return nil, err
	}
	if err := checkOneOf("category", req.Category, model.Categories); err != nil {
		return nil, err
	}
	if err := checkHash("hash", req.Hash); err != nil {
		return nil, err
	}
	if !model.ValidLocator(req.Locator) {
		return nil, model.Errorf(model.CodeInvalidArgument, "locator must be 1-256 characters of letters, digits and ':/._-'")
	}
	if err := t.refuseErased(req.Owner); err != nil {
		return nil, err
	}
	rec := &model.Record{ID: req.ID, Owner: req.Owner, Category: req.Category}
	if err := t.authorizeWrite(rec, true); err != nil {
		return nil, err
	}
	if ok, err := t.exists(t.key(kindRecord, req.ID)); err != nil {
		return nil, err
	} else if ok {
		return nil, model.Errorf(model.CodeConflict, "record %s already exists", req.ID)
	}
	rec.CreatedBy = t.caller.Party
	rec.CreatedAt = t.now
	if err := t.addVersion(rec, req.Hash, req.Locator); err != nil {
		return nil, err
	}
	if err := t.index(t.key(kindOwnerRecord, rec.Owner, rec.ID)); err != nil {
		return nil, err
	}
	return rec, nil
}

// AppendVersion adds a version to a record. PrevHash must be the record's latest hash, so the
// versions form a hash chain and a writer working from a stale version is refused. Only the
// owner or a grantee with `append` on the record may append. Emits VersionAppended.
func (c *Contract) AppendVersion(ctx contractapi.TransactionContextInterface, version string) (*model.Record, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient, model.RoleClinician); err != nil {
		return nil, err
	}
	var req model.NewVersion
	if err := decode("version", version, &req); err != nil {
		return nil, err
	}
	if err := checkID("recordId", req.RecordID); err != nil {
		return nil, err
	}
	if err := checkHash("prevHash", req.PrevHash); err != nil {
		return nil, err
	}
	if err := checkHash("hash", req.Hash); err != nil {
		return nil, err
	}
	if !model.ValidLocator(req.Locator) {
		return nil, model.Errorf(model.CodeInvalidArgument, "locator must be 1-256 characters of letters, digits and ':/._-'")
	}
	// A record that does not exist is refused like one the caller may not write, before
	// anything else about it (its erasure, its latest hash) can show through.
	rec, _, err := t.recordOrPhantom(req.RecordID)
	if err != nil {
		return nil, err
	}
	if err := t.authorizeWrite(rec, false); err != nil {
		return nil, err
	}
	if err := t.refuseErased(rec.Owner); err != nil {
		return nil, err
	}
	if req.PrevHash != rec.LatestHash {
		return nil, model.Errorf(model.CodeConflict, "prevHash is not the latest version's hash (the record is at version %d)", rec.Versions)
	}
	if err := t.addVersion(rec, req.Hash, req.Locator); err != nil {
		return nil, err
	}
	return rec, t.emit(model.EventVersionAppended, model.Event{Patient: rec.Owner, RecordID: rec.ID, Version: rec.Versions, Actor: t.caller.ID})
}

// addVersion appends the next version to rec and writes the record, the version and the hash
// index.
func (t *txn) addVersion(rec *model.Record, hash, locator string) error {
	hk := t.key(kindHash, hash)
	if ok, err := t.exists(hk); err != nil {
		return err
	} else if ok {
		return model.Errorf(model.CodeConflict, "a version with this hash is already registered")
	}
	v := model.Version{
		RecordID: rec.ID, Number: rec.Versions + 1, Hash: hash, PrevHash: rec.LatestHash,
		Locator: locator, Author: t.caller.Party, Via: t.caller.Via, TxID: t.id, CreatedAt: t.now,
	}
	rec.Versions = v.Number
	rec.LatestHash = hash
	rec.LatestLocator = locator
	rec.UpdatedAt = t.now
	if err := t.put(t.key(kindVersion, rec.ID, versionKey(v.Number)), v); err != nil {
		return err
	}
	if err := t.put(hk, hashEntry{RecordID: rec.ID, Version: v.Number}); err != nil {
		return err
	}
	return t.put(t.key(kindRecord, rec.ID), rec)
}

func versionKey(n int) string { return fmt.Sprintf("%010d", n) }

// authorizeWrite lets the owner write, and otherwise requires an `append` grant. A new record
// can only be covered by a category grant, since a record grant names existing records.
func (t *txn) authorizeWrite(rec *model.Record, isNew bool) error {
	if t.caller.Role == model.RolePatient && t.caller.ID == rec.Owner {
		return nil
	}
	v, err := t.view(rec.Owner, t.caller.Party)
	if err != nil {
		return err
	}
	target := *rec
	if isNew {
		target.ID = "" // a record grant cannot name a record that does not exist yet
	}
	d, err := v.decide(&target, model.ActionAppend, "", t.now)
	if err != nil {
		return err
	}
	switch {
	case d.Allowed:
		return nil
	case d.Reason == model.DenyGrantExpired:
		return model.Errorf(model.CodeGrantExpired, "the append grant for this record has expired")
	case d.Reason == model.DenyErased:
		return model.Errorf(model.CodeErased, "the patient's data has been erased")
	}
	return model.Errorf(model.CodeForbidden, "no append permission for this record (%s)", d.Reason)
}

// record loads a record or fails with NOT_FOUND.
func (t *txn) record(id string) (*model.Record, error) {
	var rec model.Record
	ok, err := t.get(t.key(kindRecord, id), &rec)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.Errorf(model.CodeNotFound, "record %s not found", id)
	}
	return &rec, nil
}

// recordOrPhantom loads a record, or returns a phantom (the ID and nothing else, owned by
// nobody) when there is none, for the paths that must answer alike for a record the caller may
// not see and one that does not exist: every decision refuses a phantom, after the same reads.
func (t *txn) recordOrPhantom(id string) (*model.Record, bool, error) {
	var rec model.Record
	ok, err := t.get(t.key(kindRecord, id), &rec)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		return &model.Record{ID: id}, false, nil
	}
	return &rec, true, nil
}

// readableRecord loads a record the caller may see: its owner, a grantee with read or append,
// an emergency accessor, or the anonymiser for a consenting patient. Anyone else gets the same
// answer whether or not the record exists, so IDs cannot be probed, unless a grant disclosed
// the record to them and has expired (GRANT_EXPIRED, so they know to ask for a new one).
func (t *txn) readableRecord(id string) (*model.Record, error) {
	if err := checkID("recordId", id); err != nil {
		return nil, err
	}
	rec, exists, err := t.recordOrPhantom(id)
	if err != nil {
		return nil, err
	}
	v, err := t.view(rec.Owner, t.caller.Party)
	if err != nil {
		return nil, err
	}
	// mayRead first, so a missing record costs what a forbidden one does.
	if v.mayRead(rec, t.now) && exists {
		return rec, nil
	}
	reason, err := v.refusal(rec)
	if err != nil {
		return nil, err
	}
	if reason == model.DenyGrantExpired {
		return nil, model.Errorf(model.CodeGrantExpired, "the grant for record %s has expired", id)
	}
	return nil, model.Errorf(model.CodeForbidden, "no permission to read record %s", id)
}

func (t *txn) versions(recordID string) ([]model.Version, error) {
	var out []model.Version
	err := t.each(kindVersion, []string{recordID}, func(_ string, value []byte) (bool, error) {
		var v model.Version
		if err := unmarshal(value, &v); err != nil {
			return false, err
		}
		out = append(out, v)
		return true, nil
	})
	return out, err
}

// GetRecord returns a record's metadata and latest version, for callers who may read it.
func (c *Contract) GetRecord(ctx contractapi.TransactionContextInterface, recordID string) (*model.Record, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	return t.readableRecord(recordID)
}

// GetRecordHistory returns a record with every version, oldest first.
func (c *Contract) GetRecordHistory(ctx contractapi.TransactionContextInterface, recordID string) (*model.RecordHistory, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	rec, err := t.readableRecord(recordID)
	if err != nil {
		return nil, err
	}
	vs, err := t.versions(rec.ID)
	if err != nil {
		return nil, err
	}
	return &model.RecordHistory{Record: *rec, Versions: vs}, nil
}

// VerifyRecordHash says whether hash is the hash of a version of the record, which version,
// and whether it is the latest.
func (c *Contract) VerifyRecordHash(ctx contractapi.TransactionContextInterface, recordID, hash string) (*model.Verification, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkHash("hash", hash); err != nil {
		return nil, err
	}
	rec, err := t.readableRecord(recordID)
	if err != nil {
		return nil, err
	}
	res := &model.Verification{RecordID: rec.ID, Hash: hash}
	var he hashEntry
	ok, err := t.get(t.key(kindHash, hash), &he)
	if err != nil {
		return nil, err
	}
	if ok && he.RecordID == rec.ID {
		res.Valid, res.Version, res.Latest = true, he.Version, he.Version == rec.Versions
	}
	return res, nil
}

// ListPatientRecords lists a patient's records that the caller may read, optionally of one
// category ("" for all). Evaluate it; do not submit it.
func (c *Contract) ListPatientRecords(ctx contractapi.TransactionContextInterface, patientID, category string, pageSize int, bookmark string) (*model.RecordPage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	out := &model.RecordPage{Records: []model.Record{}}
	out.Bookmark, err = t.patientRecords(patientID, category, pageSize, bookmark, func(rec *model.Record, _ *view) error {
		out.Records = append(out.Records, *rec)
		return nil
	})
	return out, err
}

// GetPatientHistory returns, one page of records at a time, every record of the patient that
// the caller may read with all its versions: a clinician's whole view of a patient in one call
// per page, with the ledger's decision on reading each (RecordHistory.Read). Evaluate it; do
// not submit it.
func (c *Contract) GetPatientHistory(ctx contractapi.TransactionContextInterface, patientID, category string, pageSize int, bookmark string) (*model.HistoryPage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	out := &model.HistoryPage{Records: []model.RecordHistory{}}
	out.Bookmark, err = t.patientRecords(patientID, category, pageSize, bookmark, func(rec *model.Record, v *view) error {
		vs, err := t.versions(rec.ID)
		if err != nil {
			return err
		}
		h := model.RecordHistory{Record: *rec, Versions: vs}
		// The decision CheckAccess would give, from the view the listing loaded anyway: a
		// page of records costs the gateway one evaluation, not one more per record.
		if d := decideAt(rec, v.who, model.ActionRead, "", t.now, v.grants, v.erased, v.consent); d.Allowed {
			h.Read = &d
		}
		out.Records = append(out.Records, h)
		return nil
	})
	return out, err
}

func (t *txn) patientRecords(patientID, category string, pageSize int, bookmark string, add func(*model.Record, *view) error) (string, error) {
	if err := t.require(model.RolePatient, model.RoleClinician, model.RoleAnonymizer); err != nil {
		return "", err
	}
	if err := checkPseudonym("patientId", patientID); err != nil {
		return "", err
	}
	if category != "" {
		if err := checkOneOf("category", category, model.Categories); err != nil {
			return "", err
		}
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return "", err
	}
	v, err := t.view(patientID, t.caller.Party)
	if err != nil {
		return "", err
	}
	return t.page(kindOwnerRecord, []string{patientID}, bookmark, size, func(key string, _ []byte) (bool, error) {
		id, err := t.lastAttr(key)
		if err != nil {
			return false, err
		}
		rec, err := t.record(id)
		if err != nil {
			return false, err
		}
		if (category != "" && rec.Category != category) || !v.mayRead(rec, t.now) {
			return false, nil
		}
		return true, add(rec, v)
	})
}
