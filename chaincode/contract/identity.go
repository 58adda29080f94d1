package contract

import (
	"slices"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// WhoAmI returns the caller as the contract sees it: MSP, pseudonym, role, and the gateway
// acting for them, if any. Patients learn their own pseudonym this way.
func (c *Contract) WhoAmI(ctx contractapi.TransactionContextInterface) (*model.Caller, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	return &t.caller, nil
}

// SetRolePolicy sets which organisations may issue which roles. Until a policy is set, every
// organisation's CA may issue every role, so a deployment sets it right after the chaincode is
// committed; afterwards only an administrator of an organisation the policy lets issue `admin`
// may change it. Emits RolePolicyChanged.
func (c *Contract) SetRolePolicy(ctx contractapi.TransactionContextInterface, policy string) (*model.RolePolicy, error) {
	t, err := beginAdmin(ctx)
	if err != nil {
		return nil, err
	}
	var p model.RolePolicy
	if err := decode("policy", policy, &p); err != nil {
		return nil, err
	}
	seen := map[model.Role]bool{}
	for i := range p.Rules {
		r := &p.Rules[i]
		if !r.Role.Valid() || seen[r.Role] {
			return nil, model.Errorf(model.CodeInvalidArgument, "rules[%d]: unknown or repeated role %q", i, r.Role)
		}
		seen[r.Role] = true
		if r.MSPs, err = checkSet("rules.msps", r.MSPs, nil); err != nil {
			return nil, err
		}
		for _, m := range r.MSPs {
			if !model.ValidMSPID(m) {
				return nil, model.Errorf(model.CodeInvalidArgument, "rules[%d]: %q is not a valid MSP ID", i, m)
			}
		}
	}
	if !seen[model.RoleAdmin] || !slices.ContainsFunc(p.Rules, func(r model.RoleRule) bool {
		return r.Role == model.RoleAdmin && slices.Contains(r.MSPs, t.caller.MSP)
	}) {
		return nil, model.Errorf(model.CodeInvalidArgument, "the policy must let the caller's organisation issue admin, or nobody could change it again")
	}
	slices.SortFunc(p.Rules, func(a, b model.RoleRule) int {
		return slices.Index(model.Roles, a.Role) - slices.Index(model.Roles, b.Role)
	})
	if err := t.put(t.key(kindPolicy), p); err != nil {
		return nil, err
	}
	return &p, t.emit(model.EventRolePolicyChanged, model.Event{Actor: t.caller.ID})
}

// GetRolePolicy returns the role policy; NOT_FOUND means none is set.
func (c *Contract) GetRolePolicy(ctx contractapi.TransactionContextInterface) (*model.RolePolicy, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	p, err := t.rolePolicy()
	if err != nil {
		return nil, err
	}
	if p == nil {
		return nil, model.Errorf(model.CodeNotFound, "no role policy is set")
	}
	return p, nil
}

func (t *txn) rolePolicy() (*model.RolePolicy, error) {
	var p model.RolePolicy
	ok, err := t.get(t.key(kindPolicy), &p)
	if err != nil || !ok {
		return nil, err
	}
	return &p, nil
}
