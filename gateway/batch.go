package gateway

import (
	"context"
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/google/uuid"
)

// MaxBatch is the most records one UploadBatch stores: what one RegisterRecords transaction
// takes (chaincode/contract.MaxBatchRecords).
const MaxBatch = 200

// BatchItem is one new record of a batch upload.
type BatchItem struct {
	// RecordID is optional; a random UUID is used when empty.
	RecordID string
	// Category is optional for FHIR content (derived from the resource) and required for
	// documents.
	Category string
	Content
}

// BatchError says which item of a batch was refused; the whole batch was refused with it.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string { return fmt.Sprintf("item %d: %v", e.Index, e.Err) }
func (e *BatchError) Unwrap() error { return e.Err }

// UploadBatch stores several new records of one patient, all or nothing: every item is
// validated, every ciphertext stored, and one RegisterRecords transaction registers them all.
// If anything fails, whatever was stored is removed again (and a blob without a ledger entry
// is never served in any case, because reads start from the ledger).
func (s *Service) UploadBatch(ctx context.Context, as *ledger.Client, owner string, items []BatchItem) ([]model.Record, error) {
	if !model.ValidPseudonym(owner) {
		return nil, fmt.Errorf("%w: owner is not a patient pseudonym", ErrInvalidContent)
	}
	if len(items) == 0 || len(items) > MaxBatch {
		return nil, fmt.Errorf("%w: a batch holds 1 to %d records", ErrInvalidContent, MaxBatch)
	}
	reqs := make([]model.NewRecord, len(items))
	for i, it := range items {
		category, err := validateContent(it.Content, it.Category)
		if err != nil {
			return nil, &BatchError{i, err}
		}
		id := it.RecordID
		if id == "" {
			id = uuid.NewString()
		}
		if !model.ValidID(id) {
			return nil, &BatchError{i, fmt.Errorf("%w: record ID must be 1-128 letters, digits, '.', '_' or '-'", ErrInvalidContent)}
		}
		reqs[i] = model.NewRecord{ID: id, Owner: owner, Category: category}
	}
	var undos []func()
	undoAll := func() {
		for _, undo := range undos {
			undo()
		}
	}
	for i, it := range items {
		hash, undo, err := s.store(ctx, owner, reqs[i].ID, 1, it.MediaType, s.sealerFor(it.Content))
		if err != nil {
			undoAll()
			return nil, &BatchError{i, err}
		}
		undos = append(undos, undo)
		reqs[i].Hash, reqs[i].Locator = hash, locatorFor(hash)
	}
	recs, err := as.RegisterRecords(ctx, reqs)
	if err != nil {
		undoAll()
		return nil, fromLedger(err)
	}
	return recs, nil
}
