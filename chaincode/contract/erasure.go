package contract

import (
	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// RequestErasure records the patient's request to be erased. From this transaction on, every
// access to the patient's records is refused with reason "erased", no record, version, grant or
// consent can be added for the patient, their grants are revoked and their research consent
// withdrawn. The gateway destroys the patient's key and deletes the ciphertexts; the ledger keeps
// only hashes, which reveal nothing. It cannot be undone. Emits ErasureRequested.
func (c *Contract) RequestErasure(ctx contractapi.TransactionContextInterface) (*model.Erasure, error) {
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
	patient := t.caller.ID
	if err := t.refuseErased(patient); err != nil {
		return nil, err
	}
	var grants []*model.Grant
	err = t.each(kindOwnerGrant, []string{patient}, func(key string, _ []byte) (bool, error) {
		g, err := t.indexedGrant(key)
		if err != nil || g.Revoked {
			return err == nil, err
		}
		grants = append(grants, g)
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	if err := t.revoke(grants...); err != nil {
		return nil, err
	}
	for _, g := range grants {
		if err := t.put(t.key(kindGrant, g.ID), g); err != nil {
			return nil, err
		}
	}
	if rc, err := t.researchConsent(patient); err != nil {
		return nil, err
	} else if rc != nil && rc.OptIn {
		withdrawn := model.ResearchConsent{Patient: patient, UpdatedAt: t.now, TxID: t.id}
		if err := t.put(t.key(kindResearch, patient), withdrawn); err != nil {
			return nil, err
		}
	}
	e := &model.Erasure{Patient: patient, RequestedAt: t.now, TxID: t.id}
	if err := t.put(t.key(kindErasure, patient), e); err != nil {
		return nil, err
	}
	return e, t.emit(model.EventErasureRequested, model.Event{Patient: patient, Actor: patient})
}

// GetErasure returns a patient's erasure record; NOT_FOUND means the patient was not erased.
// Any member with a role may ask: it says only that a pseudonym's data is gone, which gateways
// and key services must know to finish an erasure signed on the patient's own device.
func (c *Contract) GetErasure(ctx contractapi.TransactionContextInterface, patientID string) (*model.Erasure, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if t.caller.Role == "" {
		return nil, model.Errorf(model.CodeForbidden, "the caller has no CareLedger role")
	}
	if err := checkPseudonym("patientId", patientID); err != nil {
		return nil, err
	}
	e, err := t.erasure(patientID)
	if err != nil {
		return nil, err
	}
	if e == nil {
		return nil, model.Errorf(model.CodeNotFound, "patient not erased")
	}
	return e, nil
}

func (t *txn) erasure(patient string) (*model.Erasure, error) {
	var e model.Erasure
	ok, err := t.get(t.key(kindErasure, patient), &e)
	if err != nil || !ok {
		return nil, err
	}
	return &e, nil
}

// refuseErased fails with ERASED when the patient has been erased.
func (t *txn) refuseErased(patient string) error {
	e, err := t.erasure(patient)
	if err != nil {
		return err
	}
	if e != nil {
		return model.Errorf(model.CodeErased, "the patient's data has been erased")
	}
	return nil
}
