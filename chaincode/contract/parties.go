package contract

import "github.com/careledger/careledger/chaincode/model"

// The party registry: the MSP and role of every pseudonym the ledger has seen change it. A
// pseudonym is a hash that reveals neither, so this is how the contract knows that a grant
// could never reach its grantee (an anonymiser, an administrator, a gateway) or that a patient
// exists. It learns a party only from a transaction that changes the ledger: a listing cannot
// write (Fabric refuses paginated queries in a transaction that writes), and a query's writes
// are never committed. Manufacturers only read, so the registry knows one only if it ever
// submitted a transaction that changed something.

// remember registers the caller, and the gateway acting for them, when the registry does not
// hold them with their current role yet. emit calls it, since every transaction that changes
// the ledger ends there; after the first time it costs one read (two through a gateway). A
// party's first transactions, if concurrent, can conflict on its key once (MVCC); later ones
// only read it.
func (t *txn) remember() error {
	if err := t.rememberParty(t.caller.Party); err != nil {
		return err
	}
	if t.caller.Via != "" {
		return t.rememberParty(model.Party{MSP: t.caller.MSP, ID: t.caller.Via, Role: model.RoleGateway})
	}
	return nil
}

func (t *txn) rememberParty(p model.Party) error {
	if p.Role == "" {
		return nil // a member without a role can do nothing a grantee could
	}
	cur, err := t.party(p.ID)
	if err != nil || cur != nil && *cur == p {
		return err
	}
	return t.put(t.key(kindParty, p.ID), p)
}

// party returns the registered party with the pseudonym, or nil.
func (t *txn) party(id string) (*model.Party, error) {
	var p model.Party
	ok, err := t.get(t.key(kindParty, id), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}

// knownPatient reports whether the ledger holds anything of the patient: their registration
// as a patient, a record or a grant. Ledgers written before the registry know a patient by
// their records and grants.
func (t *txn) knownPatient(patient string) (bool, error) {
	p, err := t.party(patient)
	if err != nil {
		return false, err
	}
	if p != nil {
		return p.Role == model.RolePatient, nil
	}
	for _, kind := range []string{kindOwnerRecord, kindOwnerGrant} {
		found := false
		err := t.each(kind, []string{patient}, func(string, []byte) (bool, error) {
			found = true
			return false, nil
		})
		if err != nil || found {
			return found, err
		}
	}
	return false, nil
}
