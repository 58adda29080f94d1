package contract

import (
	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// SetResearchConsent opts the patient in to research use for the listed purposes, optionally
// until a time, or out (optIn false, no purposes). Withdrawal takes effect for every cohort built
// afterwards. Only the patient or their delegate, with their own key. Emits
// ResearchConsentChanged.
func (c *Contract) SetResearchConsent(ctx contractapi.TransactionContextInterface, request string) (*model.ResearchConsent, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	var req model.ResearchConsentRequest
	if err := decode("request", request, &req); err != nil {
		return nil, err
	}
	patient, err := t.consentActor(req.Patient)
	if err != nil {
		return nil, err
	}
	rc := &model.ResearchConsent{Patient: patient, OptIn: req.OptIn, Until: canonicalTime(req.Until), UpdatedAt: t.now, TxID: t.id}
	if req.OptIn {
		if rc.Purposes, err = checkSet("purposes", req.Purposes, model.ResearchPurposes); err != nil {
			return nil, err
		}
		if rc.Until != nil && !rc.Until.After(t.now) {
			return nil, model.Errorf(model.CodeInvalidArgument, "until is in the past")
		}
	} else if len(req.Purposes) > 0 || req.Until != nil {
		return nil, model.Errorf(model.CodeInvalidArgument, "opting out takes no purposes and no end date")
	}
	if err := t.refuseErased(patient); err != nil {
		return nil, err
	}
	if err := t.put(t.key(kindResearch, patient), rc); err != nil {
		return nil, err
	}
	return rc, t.emit(model.EventResearchConsent, model.Event{Patient: patient, Actor: t.caller.ID})
}

// GetResearchConsent returns the patient's research consent; NOT_FOUND means the patient never
// opted in. patientID "" means the caller.
func (c *Contract) GetResearchConsent(ctx contractapi.TransactionContextInterface, patientID string) (*model.ResearchConsent, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if patientID, err = t.managedPatient(patientID); err != nil {
		return nil, err
	}
	rc, err := t.researchConsent(patientID)
	if err != nil {
		return nil, err
	}
	if rc == nil {
		return nil, model.Errorf(model.CodeNotFound, "no research consent recorded")
	}
	return rc, nil
}

func (t *txn) researchConsent(patient string) (*model.ResearchConsent, error) {
	var rc model.ResearchConsent
	ok, err := t.get(t.key(kindResearch, patient), &rc)
	if err != nil || !ok {
		return nil, err
	}
	return &rc, nil
}

// ListResearchConsents lists the pseudonyms whose research consent covers purpose now, each with
// the transaction that set it. Only the anonymiser may call it. Evaluate it; do not submit it.
func (c *Contract) ListResearchConsents(ctx contractapi.TransactionContextInterface, purpose string, pageSize int, bookmark string) (*model.ConsentPage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RoleAnonymizer); err != nil {
		return nil, err
	}
	if err := checkOneOf("purpose", purpose, model.ResearchPurposes); err != nil {
		return nil, err
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	out := &model.ConsentPage{Patients: []model.ConsentingPatient{}}
	out.Bookmark, err = t.page(kindResearch, nil, bookmark, size, func(_ string, value []byte) (bool, error) {
		var rc model.ResearchConsent
		if err := unmarshal(value, &rc); err != nil {
			return false, err
		}
		if !rc.ActiveFor(purpose, t.now) {
			return false, nil
		}
		out.Patients = append(out.Patients, model.ConsentingPatient{Patient: rc.Patient, TxID: rc.TxID})
		return true, nil
	})
	return out, err
}
