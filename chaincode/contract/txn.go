package contract

import (
	"encoding/json"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// txn is one running transaction: the stub, the transaction time and the resolved caller.
type txn struct {
	stub   shim.ChaincodeStubInterface
	now    time.Time
	id     string
	caller model.Caller
	policy *model.RolePolicy // the role policy, nil when none is set
}

// begin resolves the transaction's time and caller. Every transaction starts here, so no
// transaction can forget to authenticate its caller.
func begin(ctx contractapi.TransactionContextInterface) (*txn, error) {
	stub := ctx.GetStub()
	ts, err := stub.GetTxTimestamp()
	if err != nil || ts == nil {
		return nil, model.Errorf(model.CodeInternal, "cannot read the transaction timestamp")
	}
	t := &txn{stub: stub, now: ts.AsTime().UTC(), id: stub.GetTxID()}
	if t.policy, err = t.rolePolicy(); err != nil {
		return nil, err
	}
	if t.caller, err = t.resolveCaller(clientIdentity(ctx), t.policy); err != nil {
		return nil, err
	}
	return t, nil
}

// clientIdentity returns the creator identity contractapi already parsed for this call, or nil
// when it could not (it then stores a nil *cid.ClientID).
func clientIdentity(ctx contractapi.TransactionContextInterface) cid.ClientIdentity {
	ci := ctx.GetClientIdentity()
	if c, ok := ci.(*cid.ClientID); ok && c == nil {
		return nil
	}
	return ci
}

// require fails unless the caller has one of the roles.
func (t *txn) require(roles ...model.Role) error {
	for _, r := range roles {
		if t.caller.Role == r {
			return nil
		}
	}
	if t.caller.Role == "" {
		return model.Errorf(model.CodeForbidden, "the caller has no CareLedger role")
	}
	return model.Errorf(model.CodeForbidden, "role %s may not perform this transaction", t.caller.Role)
}

// requireDirect fails when a gateway acts for the caller: consent decisions must be signed by
// the patient's own key.
func (t *txn) requireDirect() error {
	if t.caller.Via != "" {
		return model.Errorf(model.CodeForbidden, "this transaction must be signed by the caller's own identity, not through a gateway")
	}
	return nil
}

// beginAdmin starts a transaction that only an administrator may make, signing with their own
// key: the consortium's configuration on the ledger (role policy, CA certificates, privacy
// budgets), which no gateway may change for anyone.
func beginAdmin(ctx contractapi.TransactionContextInterface) (*txn, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.requireDirect(); err != nil {
		return nil, err
	}
	if err := t.require(model.RoleAdmin); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *txn) key(objectType string, attrs ...string) string {
	k, err := t.stub.CreateCompositeKey(objectType, attrs)
	if err != nil {
		// Attributes are validated before keys are built, so this is a programming error.
		panic(err)
	}
	return k
}

// get loads the JSON document at key into v and reports whether it exists.
func (t *txn) get(key string, v any) (bool, error) {
	b, err := t.stub.GetState(key)
	if err != nil {
		return false, model.Errorf(model.CodeInternal, "read state: %v", err)
	}
	if b == nil {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, model.Errorf(model.CodeInternal, "decode stored document: %v", err)
	}
	return true, nil
}

func (t *txn) exists(key string) (bool, error) {
	b, err := t.stub.GetState(key)
	if err != nil {
		return false, model.Errorf(model.CodeInternal, "read state: %v", err)
	}
	return b != nil, nil
}

func (t *txn) put(key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return model.Errorf(model.CodeInternal, "encode document: %v", err)
	}
	if err := t.stub.PutState(key, b); err != nil {
		return model.Errorf(model.CodeInternal, "write state: %v", err)
	}
	return nil
}

// index writes an index entry. Index values are a single byte: Fabric deletes keys whose value
// is empty, so an index entry cannot be empty.
func (t *txn) index(key string) error {
	if err := t.stub.PutState(key, []byte{1}); err != nil {
		return model.Errorf(model.CodeInternal, "write index: %v", err)
	}
	return nil
}

func (t *txn) emit(name string, ev model.Event) error {
	// Every transaction that changes the ledger ends here, so this is where its caller joins
	// the party registry.
	if err := t.remember(); err != nil {
		return err
	}
	b, err := json.Marshal(ev)
	if err != nil {
		return model.Errorf(model.CodeInternal, "encode event: %v", err)
	}
	if err := t.stub.SetEvent(name, b); err != nil {
		return model.Errorf(model.CodeInternal, "set event: %v", err)
	}
	return nil
}

// each calls fn for every entry under the partial composite key, in key order. It is safe in
// read-write transactions (no pagination).
func (t *txn) each(objectType string, attrs []string, fn func(key string, value []byte) (bool, error)) error {
	it, err := t.stub.GetStateByPartialCompositeKey(objectType, attrs)
	if err != nil {
		return model.Errorf(model.CodeInternal, "query state: %v", err)
	}
	defer it.Close()
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return model.Errorf(model.CodeInternal, "query state: %v", err)
		}
		more, err := fn(kv.Key, kv.Value)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// lastAttr returns the last attribute of a composite key.
func (t *txn) lastAttr(key string) (string, error) {
	_, attrs, err := t.stub.SplitCompositeKey(key)
	if err != nil || len(attrs) == 0 {
		return "", model.Errorf(model.CodeInternal, "malformed index key")
	}
	return attrs[len(attrs)-1], nil
}

func unmarshal(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return model.Errorf(model.CodeInternal, "decode stored document: %v", err)
	}
	return nil
}
