package contract

import (
	"errors"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// MaxBatchRecords bounds RegisterRecords: a patient's record uploaded as one FHIR Bundle
// (the example has about twenty entries; a large discharge summary a few hundred).
// The argument also stays under the contract's 64 KiB argument limit at this size.
const MaxBatchRecords = 200

// RegisterRecords registers several new records of one patient in one transaction, so that
// an upload of many records (a FHIR collection or transaction Bundle) is all or nothing:
// every record is checked exactly as RegisterRecord checks it, and if any is refused the
// transaction fails and none is registered. All records must have the same owner; IDs and
// hashes must be unique within the batch as well as on the ledger. Emits one
// RecordsRegistered event with the count, because Fabric carries one event per transaction.
func (c *Contract) RegisterRecords(ctx contractapi.TransactionContextInterface, records string) ([]model.Record, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient, model.RoleClinician); err != nil {
		return nil, err
	}
	var reqs []model.NewRecord
	if err := decode("records", records, &reqs); err != nil {
		return nil, err
	}
	if len(reqs) == 0 || len(reqs) > MaxBatchRecords {
		return nil, model.Errorf(model.CodeInvalidArgument, "records must hold 1 to %d records", MaxBatchRecords)
	}
	// A transaction's reads do not see its own writes on a Fabric peer, so duplicates within
	// the batch are caught here rather than by register's ledger lookups.
	ids, hashes := map[string]int{}, map[string]int{}
	for i, r := range reqs {
		if r.Owner != reqs[0].Owner {
			return nil, model.Errorf(model.CodeInvalidArgument, "records[%d].owner differs from records[0].owner: a batch holds one patient's records", i)
		}
		if j, dup := ids[r.ID]; dup {
			return nil, model.Errorf(model.CodeInvalidArgument, "records[%d].id repeats records[%d].id", i, j)
		}
		if j, dup := hashes[r.Hash]; dup {
			return nil, model.Errorf(model.CodeInvalidArgument, "records[%d].hash repeats records[%d].hash", i, j)
		}
		ids[r.ID], hashes[r.Hash] = i, i
	}
	out := make([]model.Record, len(reqs))
	for i, r := range reqs {
		rec, err := t.register(r)
		if err != nil {
			return nil, atIndex(i, err)
		}
		out[i] = *rec
	}
	return out, t.emit(model.EventRecordsRegistered, model.Event{Patient: reqs[0].Owner, Count: len(out), Actor: t.caller.ID})
}

// atIndex names the batch entry an error is about, keeping its code.
func atIndex(i int, err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		return model.Errorf(me.Code, "records[%d]: %s", i, me.Message)
	}
	return err
}
