package network

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Implicit-meta rules of Fabric's channel configuration: how many of the organisations'
// sub-policies must be satisfied.
const (
	implicitAny      = "ANY"
	implicitAll      = "ALL"
	implicitMajority = "MAJORITY"
)

// orgEndorsementPolicy is the name of an organisation's sub-policy that an implicit-meta
// endorsement policy refers to (Fabric's /Channel/Application/<Org>/Endorsement).
const orgEndorsementPolicy = "Endorsement"

// endorsementPolicy is a chaincode definition's endorsement policy: a signature policy, or an
// implicit-meta policy over the organisations' Endorsement policies, which is what a chaincode
// approved without a policy of its own gets in Fabric (/Channel/Application/Endorsement,
// "MAJORITY Endorsement" in every configtx.yaml of fabric-samples).
type endorsementPolicy struct {
	src string
	// sig is set for a signature policy.
	sig *Policy
	// Otherwise rule (ANY, ALL, MAJORITY) applies to orgs, one sub-policy per organisation,
	// each evaluated on the whole signature set, as Fabric's implicitmeta does.
	rule string
	orgs []*Policy
}

// compileEndorsementPolicy parses expr, a signature policy or "ANY|ALL|MAJORITY Endorsement",
// against the organisations' Endorsement policies in orgPolicies (MSP ID to expression).
func compileEndorsementPolicy(expr string, orgPolicies map[string]string) (*endorsementPolicy, error) {
	if f := strings.Fields(expr); len(f) == 2 && !strings.ContainsAny(expr, "('\"") {
		rule, sub := f[0], f[1]
		if rule != implicitAny && rule != implicitAll && rule != implicitMajority {
			return nil, fmt.Errorf("%w: %q: implicit-meta rule must be ANY, ALL or MAJORITY", ErrInvalidPolicy, expr)
		}
		if sub != orgEndorsementPolicy {
			return nil, fmt.Errorf("%w: %q: organisations define only the sub-policy %s", ErrInvalidPolicy, expr, orgEndorsementPolicy)
		}
		p := &endorsementPolicy{src: rule + " " + sub, rule: rule}
		for _, mspID := range slices.Sorted(maps.Keys(orgPolicies)) {
			sp, err := ParsePolicy(orgPolicies[mspID])
			if err != nil {
				return nil, fmt.Errorf("endorsement policy of %s: %w", mspID, err)
			}
			p.orgs = append(p.orgs, sp)
		}
		return p, nil
	}
	sp, err := ParsePolicy(expr)
	if err != nil {
		return nil, err
	}
	return &endorsementPolicy{src: expr, sig: sp}, nil
}

// String returns the policy as configured.
func (p *endorsementPolicy) String() string { return p.src }

// mspIDs lists the organisations the policy can name.
func (p *endorsementPolicy) mspIDs() []string {
	if p.sig != nil {
		return p.sig.MSPIDs()
	}
	var out []string
	for _, o := range p.orgs {
		out = append(out, o.MSPIDs()...)
	}
	return out
}

// threshold is how many organisation sub-policies an implicit-meta rule needs, as Fabric's
// implicitmeta computes it.
func (p *endorsementPolicy) threshold() int {
	switch p.rule {
	case implicitAny:
		return 1
	case implicitAll:
		return len(p.orgs)
	default:
		return len(p.orgs)/2 + 1
	}
}

// admits reports whether the validated, distinct endorsers satisfy the policy.
func (p *endorsementPolicy) admits(ids []*identity) bool {
	if p.sig != nil {
		return p.sig.admits(ids...)
	}
	met := 0
	for _, o := range p.orgs {
		if o.admits(ids...) {
			met++
		}
	}
	return met >= p.threshold()
}

// plan chooses the endorsers a transaction needs from the hosted peers, as Fabric's gateway
// picks a layout from discovery: the smallest set of peers that satisfies the policy,
// preferring sets that include the first peer (the gateway's own organisation). It returns
// the indexes of the chosen peers, or nil if no set of hosted peers can satisfy the policy.
func (p *endorsementPolicy) plan(peers []*identity) []int {
	n := len(peers)
	if n > 16 {
		n = 16 // 65,536 sets: far beyond a one-machine consortium, and still quick
	}
	pick := make([]*identity, 0, n)
	for size := 1; size <= n; size++ {
		var found []int
		combinations(n, size, func(idx []int) bool {
			pick = pick[:0]
			for _, i := range idx {
				pick = append(pick, peers[i])
			}
			if p.admits(pick) {
				found = slices.Clone(idx)
				return false
			}
			return true
		})
		if found != nil {
			return found
		}
	}
	return nil
}

// combinations calls fn with every k-subset of 0..n-1 in lexicographic order (so sets with 0
// come first) until fn returns false.
func combinations(n, k int, fn func([]int) bool) {
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	for {
		if !fn(idx) {
			return
		}
		i := k - 1
		for i >= 0 && idx[i] == n-k+i {
			i--
		}
		if i < 0 {
			return
		}
		idx[i]++
		for j := i + 1; j < k; j++ {
			idx[j] = idx[j-1] + 1
		}
	}
}
