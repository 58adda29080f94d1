package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
)

// policyHistoryFile records which endorsement policy was in force from which block on, so
// that Verify judges every transaction by the policy it was committed under. A Fabric peer
// keeps chaincode definitions in its ledger (the _lifecycle namespace); the embedded node
// takes its policy from configuration, so it writes each change down here. The file is node
// configuration like the MSP folders beside it, not part of the hash chain.
const policyHistoryFile = "endorsement-policies.json"

// policyEpoch is the endorsement policy in force from block From on.
type policyEpoch struct {
	From   uint64 `json:"fromBlock"`
	Policy string `json:"policy"`
	// OrgPolicies are the organisations' Endorsement policies, which an implicit-meta
	// policy counts; recorded only for one.
	OrgPolicies map[string]string `json:"orgPolicies,omitempty"`
}

// compile prepares the epoch's policy for evaluation.
func (e policyEpoch) compile() (*endorsementPolicy, error) {
	return compileEndorsementPolicy(e.Policy, e.OrgPolicies)
}

// currentEpoch is the policy epoch c configures, starting at block from.
func currentEpoch(c Consortium, from uint64) policyEpoch {
	c = c.withDefaults()
	e := policyEpoch{From: from, Policy: c.EndorsementPolicy}
	if p, err := compileEndorsementPolicy(c.EndorsementPolicy, nil); err != nil || p.sig == nil {
		e.OrgPolicies = c.orgEndorsementPolicies()
	}
	return e
}

// legacyEpoch is the rule of ledgers written before endorsement policies: one endorsement by
// the operator's peer, the only peer the node hosted.
func legacyEpoch(c Consortium) policyEpoch {
	return policyEpoch{From: 1, Policy: "OR('" + c.Operator().MSPID + ".peer')"}
}

// readPolicyHistory reads the recorded epochs of the node in dir. A ledger of height > 1
// without a record was written under the legacy rule.
func readPolicyHistory(dir string, c Consortium, height uint64) ([]policyEpoch, error) {
	b, err := os.ReadFile(filepath.Join(dir, policyHistoryFile))
	if errors.Is(err, os.ErrNotExist) {
		if height > 1 {
			return []policyEpoch{legacyEpoch(c)}, nil
		}
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read endorsement policy history: %w", err)
	}
	var epochs []policyEpoch
	if err := json.Unmarshal(b, &epochs); err != nil {
		return nil, fmt.Errorf("read endorsement policy history: %w", err)
	}
	for i, e := range epochs {
		if i > 0 && e.From <= epochs[i-1].From {
			return nil, fmt.Errorf("read endorsement policy history: %w: epochs out of order", ErrInvalidConfig)
		}
	}
	return epochs, nil
}

// recordPolicy appends the configured policy to the history if it differs from the last one,
// effective from block height (the next block to commit). It reports whether it changed.
func recordPolicy(dir string, c Consortium, height uint64) ([]policyEpoch, bool, error) {
	epochs, err := readPolicyHistory(dir, c, height)
	if err != nil {
		return nil, false, err
	}
	cur := currentEpoch(c, max(height, 1))
	if n := len(epochs); n > 0 {
		last := epochs[n-1]
		if last.Policy == cur.Policy && maps.Equal(last.OrgPolicies, cur.OrgPolicies) {
			return epochs, false, nil
		}
		if last.From >= cur.From { // changed again before any block was committed under it
			epochs = epochs[:n-1]
		}
	}
	epochs = append(epochs, cur)
	b, err := json.MarshalIndent(epochs, "", "  ")
	if err != nil {
		return nil, false, err
	}
	if err := replaceFile(filepath.Join(dir, policyHistoryFile), append(b, '\n'), 0o644); err != nil {
		return nil, false, fmt.Errorf("record endorsement policy: %w", err)
	}
	return epochs, true, nil
}

// epochPolicies compiles epochs for a validator.
func epochPolicies(epochs []policyEpoch) ([]compiledEpoch, error) {
	out := make([]compiledEpoch, 0, len(epochs))
	for _, e := range epochs {
		p, err := e.compile()
		if err != nil {
			return nil, fmt.Errorf("endorsement policy from block %d: %w", e.From, err)
		}
		out = append(out, compiledEpoch{from: e.From, policy: p})
	}
	return out, nil
}

// compiledEpoch is a policyEpoch ready for evaluation.
type compiledEpoch struct {
	from   uint64
	policy *endorsementPolicy
}
