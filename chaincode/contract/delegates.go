package contract

import (
	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// AddDelegate names a person (by pseudonym) who may grant, revoke and manage research consent on
// the patient's behalf, optionally until a time: a relative or a carer. Only the patient, with
// their own key, names delegates. Emits DelegateChanged.
func (c *Contract) AddDelegate(ctx contractapi.TransactionContextInterface, request string) (*model.Delegate, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.requireDirect(); err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient); err != nil {
		return nil, err
	}
	var req model.DelegateRequest
	if err := decode("request", request, &req); err != nil {
		return nil, err
	}
	if err := checkPseudonym("delegate", req.Delegate); err != nil {
		return nil, err
	}
	if req.Delegate == t.caller.ID {
		return nil, model.Errorf(model.CodeInvalidArgument, "a patient cannot be their own delegate")
	}
	if err := t.refuseErased(t.caller.ID); err != nil {
		return nil, err
	}
	d := &model.Delegate{Patient: t.caller.ID, Delegate: req.Delegate, ValidUntil: canonicalTime(req.ValidUntil), CreatedAt: t.now, TxID: t.id}
	if d.ValidUntil != nil && !d.ValidUntil.After(t.now) {
		return nil, model.Errorf(model.CodeInvalidArgument, "validUntil is in the past")
	}
	if err := t.put(t.key(kindDelegate, d.Patient, d.Delegate), d); err != nil {
		return nil, err
	}
	return d, t.emit(model.EventDelegateChanged, model.Event{Patient: d.Patient, Actor: t.caller.ID})
}

// RemoveDelegate withdraws a delegation. Emits DelegateChanged.
func (c *Contract) RemoveDelegate(ctx contractapi.TransactionContextInterface, delegateID string) error {
	t, err := begin(ctx)
	if err != nil {
		return err
	}
	if err := t.requireDirect(); err != nil {
		return err
	}
	if err := t.require(model.RolePatient); err != nil {
		return err
	}
	if err := checkPseudonym("delegate", delegateID); err != nil {
		return err
	}
	key := t.key(kindDelegate, t.caller.ID, delegateID)
	if ok, err := t.exists(key); err != nil {
		return err
	} else if !ok {
		return model.Errorf(model.CodeNotFound, "no such delegate")
	}
	if err := t.stub.DelState(key); err != nil {
		return model.Errorf(model.CodeInternal, "delete state: %v", err)
	}
	return t.emit(model.EventDelegateChanged, model.Event{Patient: t.caller.ID, Actor: t.caller.ID})
}

// ListDelegates lists the caller's delegates. Evaluate it; do not submit it.
func (c *Contract) ListDelegates(ctx contractapi.TransactionContextInterface, pageSize int, bookmark string) (*model.DelegatePage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RolePatient); err != nil {
		return nil, err
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	out := &model.DelegatePage{Delegates: []model.Delegate{}}
	out.Bookmark, err = t.page(kindDelegate, []string{t.caller.ID}, bookmark, size, func(_ string, value []byte) (bool, error) {
		var d model.Delegate
		if err := unmarshal(value, &d); err != nil {
			return false, err
		}
		out.Delegates = append(out.Delegates, d)
		return true, nil
	})
	return out, err
}

func (t *txn) isDelegate(patient, who string) (bool, error) {
	var d model.Delegate
	ok, err := t.get(t.key(kindDelegate, patient, who), &d)
	if err != nil || !ok {
		return false, err
	}
	return d.ValidUntil == nil || t.now.Before(*d.ValidUntil), nil
}
