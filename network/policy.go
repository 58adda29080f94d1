package network

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// ErrInvalidPolicy is returned, wrapped, when a signature policy expression or envelope cannot
// be used.
var ErrInvalidPolicy = errors.New("invalid signature policy")

// Limits on a policy expression, so that no input can make parsing or evaluation expensive.
// Real policies (a gate over a handful of organisations) are far below them.
const (
	maxPolicyLen   = 16 << 10
	maxPolicyDepth = 16
	maxPrincipals  = 256
)

// Policy is a signature policy in Fabric's policy language, compiled to the
// common.SignaturePolicyEnvelope a Fabric channel configuration or chaincode definition holds:
//
//	AND('PatientsMSP.peer', OR('ClinicMSP.admin', 'ClinicMSP.peer'))
//	OutOf(2, 'PatientsMSP.peer', 'ClinicMSP.peer', 'LabMSP.peer')
//
// Gates are AND, OR and OutOf (also written And/and, Or/or, OUTOF/outof, as Fabric accepts);
// a principal is 'MSPID.role' in single or double quotes with role member, client, peer,
// admin or orderer. Roles other than member are the identity's node OU, as in an MSP with
// NodeOUs enabled: an admin is not a client, a peer not a member of the client role.
//
// An identity satisfies at most one principal per evaluation, and gates are evaluated the way
// Fabric's cauthdsl does it, so a policy admits here exactly the signature sets it admits on
// a Fabric peer.
type Policy struct {
	src        string
	env        *common.SignaturePolicyEnvelope
	principals []principal
}

// principal is a decoded MSPRole principal.
type principal struct {
	mspID string
	role  msp.MSPRole_MSPRoleType
}

// policyRoles maps the role names of the policy language to MSPRole types.
var policyRoles = map[string]msp.MSPRole_MSPRoleType{
	"member":  msp.MSPRole_MEMBER,
	"admin":   msp.MSPRole_ADMIN,
	"client":  msp.MSPRole_CLIENT,
	"peer":    msp.MSPRole_PEER,
	"orderer": msp.MSPRole_ORDERER,
}

// ParsePolicy parses and compiles a signature policy expression.
func ParsePolicy(expr string) (*Policy, error) {
	if len(expr) > maxPolicyLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidPolicy, maxPolicyLen)
	}
	p := &policyParser{src: expr}
	p.skipSpace()
	if p.pos < len(p.src) && (p.src[p.pos] == '\'' || p.src[p.pos] == '"') {
		return nil, fmt.Errorf("%w: %q: a policy is a gate (AND, OR, OutOf), not a lone principal", ErrInvalidPolicy, expr)
	}
	rule, err := p.rule(0)
	if err != nil {
		return nil, fmt.Errorf("%w: %q: %v", ErrInvalidPolicy, expr, err)
	}
	p.skipSpace()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("%w: %q: unexpected %q at offset %d", ErrInvalidPolicy, expr, p.rest(), p.pos)
	}
	pol, err := PolicyFromEnvelope(&common.SignaturePolicyEnvelope{Version: 0, Rule: rule, Identities: p.identities})
	if err != nil {
		return nil, err
	}
	pol.src = expr
	return pol, nil
}

// PolicyFromEnvelope checks a compiled signature policy (as a Fabric configuration holds it)
// and prepares it for evaluation. Only MSPRole principals are supported.
func PolicyFromEnvelope(env *common.SignaturePolicyEnvelope) (*Policy, error) {
	if env.GetRule() == nil {
		return nil, fmt.Errorf("%w: no rule", ErrInvalidPolicy)
	}
	if len(env.GetIdentities()) > maxPrincipals {
		return nil, fmt.Errorf("%w: more than %d principals", ErrInvalidPolicy, maxPrincipals)
	}
	pol := &Policy{env: proto.Clone(env).(*common.SignaturePolicyEnvelope)}
	for i, id := range env.GetIdentities() {
		if id.GetPrincipalClassification() != msp.MSPPrincipal_ROLE {
			return nil, fmt.Errorf("%w: principal %d is not an MSP role", ErrInvalidPolicy, i)
		}
		role := &msp.MSPRole{}
		if err := proto.Unmarshal(id.GetPrincipal(), role); err != nil {
			return nil, fmt.Errorf("%w: principal %d: %v", ErrInvalidPolicy, i, err)
		}
		if _, ok := msp.MSPRole_MSPRoleType_name[int32(role.GetRole())]; !ok || role.GetMspIdentifier() == "" {
			return nil, fmt.Errorf("%w: principal %d names no MSP or an unknown role", ErrInvalidPolicy, i)
		}
		pol.principals = append(pol.principals, principal{mspID: role.GetMspIdentifier(), role: role.GetRole()})
	}
	if err := checkRule(env.GetRule(), len(pol.principals), 0); err != nil {
		return nil, err
	}
	if pol.src == "" {
		pol.src = pol.format(env.GetRule())
	}
	return pol, nil
}

func checkRule(r *common.SignaturePolicy, principals, depth int) error {
	if depth > maxPolicyDepth {
		return fmt.Errorf("%w: nested deeper than %d", ErrInvalidPolicy, maxPolicyDepth)
	}
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		if t.SignedBy < 0 || int(t.SignedBy) >= principals {
			return fmt.Errorf("%w: signed-by index %d out of range", ErrInvalidPolicy, t.SignedBy)
		}
	case *common.SignaturePolicy_NOutOf_:
		rules := t.NOutOf.GetRules()
		if len(rules) == 0 || t.NOutOf.GetN() < 1 || int(t.NOutOf.GetN()) > len(rules) {
			return fmt.Errorf("%w: %d out of %d can never or always be satisfied", ErrInvalidPolicy, t.NOutOf.GetN(), len(rules))
		}
		for _, sub := range rules {
			if err := checkRule(sub, principals, depth+1); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("%w: empty rule", ErrInvalidPolicy)
	}
	return nil
}

// String returns the policy expression.
func (p *Policy) String() string { return p.src }

// Envelope returns the compiled policy, as Fabric stores it; the caller may modify the copy.
func (p *Policy) Envelope() *common.SignaturePolicyEnvelope {
	return proto.Clone(p.env).(*common.SignaturePolicyEnvelope)
}

// MSPIDs lists the organisations the policy names, in order of first appearance.
func (p *Policy) MSPIDs() []string {
	var out []string
	seen := map[string]bool{}
	for _, pr := range p.principals {
		if !seen[pr.mspID] {
			seen[pr.mspID] = true
			out = append(out, pr.mspID)
		}
	}
	return out
}

// admits reports whether the (already validated) identities satisfy the policy. Each identity
// counts for at most one principal.
func (p *Policy) admits(ids ...*identity) bool {
	used := make([]bool, len(ids))
	return p.eval(p.env.GetRule(), ids, used)
}

// eval follows Fabric's cauthdsl: a gate tries each sub-rule on a copy of the used flags and
// keeps the flags of the sub-rules that succeeded.
func (p *Policy) eval(r *common.SignaturePolicy, ids []*identity, used []bool) bool {
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		want := p.principals[t.SignedBy]
		for i, id := range ids {
			if !used[i] && id.satisfies(want) {
				used[i] = true
				return true
			}
		}
		return false
	case *common.SignaturePolicy_NOutOf_:
		met := int32(0)
		trial := make([]bool, len(used))
		for _, sub := range t.NOutOf.GetRules() {
			copy(trial, used)
			if p.eval(sub, ids, trial) {
				met++
				copy(used, trial)
			}
		}
		return met >= t.NOutOf.GetN()
	default:
		return false
	}
}

// satisfies reports whether a validated identity matches a principal: same MSP and, for roles
// other than member, the matching node OU.
func (id *identity) satisfies(p principal) bool {
	if id.mspID != p.mspID {
		return false
	}
	if p.role == msp.MSPRole_MEMBER {
		return true
	}
	role, ok := policyRoles[id.nodeOU]
	return ok && role == p.role
}

// format writes a compiled rule back in the policy language.
func (p *Policy) format(r *common.SignaturePolicy) string {
	switch t := r.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		pr := p.principals[t.SignedBy]
		return "'" + pr.mspID + "." + strings.ToLower(pr.role.String()) + "'"
	case *common.SignaturePolicy_NOutOf_:
		var b strings.Builder
		rules := t.NOutOf.GetRules()
		switch int(t.NOutOf.GetN()) {
		case len(rules):
			b.WriteString("AND(")
		case 1:
			b.WriteString("OR(")
		default:
			fmt.Fprintf(&b, "OutOf(%d, ", t.NOutOf.GetN())
		}
		for i, sub := range rules {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(p.format(sub))
		}
		b.WriteString(")")
		return b.String()
	default:
		return ""
	}
}

// mspIDRE is what Fabric's policy language accepts as an MSP ID.
var mspIDRE = regexp.MustCompile(`^[A-Za-z0-9.-]{1,100}$`)

// policyParser is a recursive-descent parser of the policy language.
type policyParser struct {
	src        string
	pos        int
	identities []*msp.MSPPrincipal
}

var gates = map[string]string{
	"AND": "and", "And": "and", "and": "and",
	"OR": "or", "Or": "or", "or": "or",
	"OUTOF": "outof", "OutOf": "outof", "outof": "outof",
}

func (p *policyParser) skipSpace() {
	for p.pos < len(p.src) && strings.IndexByte(" \t\r\n", p.src[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *policyParser) rest() string {
	r := p.src[p.pos:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *policyParser) expect(c byte) error {
	p.skipSpace()
	if p.pos >= len(p.src) {
		return fmt.Errorf("expected %q, found the end", c)
	}
	if p.src[p.pos] != c {
		return fmt.Errorf("expected %q at offset %d, found %q", c, p.pos, p.rest())
	}
	p.pos++
	return nil
}

// rule parses a gate or a principal.
func (p *policyParser) rule(depth int) (*common.SignaturePolicy, error) {
	if depth > maxPolicyDepth {
		return nil, fmt.Errorf("nested deeper than %d", maxPolicyDepth)
	}
	p.skipSpace()
	if p.pos >= len(p.src) {
		return nil, errors.New("expected a gate or a principal, found the end")
	}
	if c := p.src[p.pos]; c == '\'' || c == '"' {
		return p.principal()
	}
	start := p.pos
	for p.pos < len(p.src) && isLetter(p.src[p.pos]) {
		p.pos++
	}
	word := p.src[start:p.pos]
	gate, ok := gates[word]
	if !ok {
		p.pos = start
		return nil, fmt.Errorf("unrecognized token %q at offset %d", p.rest(), start)
	}
	if err := p.expect('('); err != nil {
		return nil, err
	}
	n := -1
	if gate == "outof" {
		var err error
		if n, err = p.number(); err != nil {
			return nil, err
		}
		if err := p.expect(','); err != nil {
			return nil, err
		}
	}
	var rules []*common.SignaturePolicy
	for {
		r, err := p.rule(depth + 1)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
		p.skipSpace()
		if p.pos < len(p.src) && p.src[p.pos] == ',' {
			p.pos++
			continue
		}
		if err := p.expect(')'); err != nil {
			return nil, err
		}
		break
	}
	switch gate {
	case "and":
		n = len(rules)
	case "or":
		n = 1
	}
	if n < 1 || n > len(rules) {
		return nil, fmt.Errorf("OutOf(%d, ...) of %d can never or always be satisfied", n, len(rules))
	}
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{
		NOutOf: &common.SignaturePolicy_NOutOf{N: int32(n), Rules: rules},
	}}, nil
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func (p *policyParser) number() (int, error) {
	p.skipSpace()
	start := p.pos
	for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
		p.pos++
	}
	if start == p.pos {
		return 0, fmt.Errorf("OutOf needs a count first, found %q", p.rest())
	}
	n, err := strconv.Atoi(p.src[start:p.pos])
	if err != nil || n > maxPrincipals {
		return 0, fmt.Errorf("OutOf count %q is out of range", p.src[start:p.pos])
	}
	return n, nil
}

// principal parses 'MSPID.role' and adds it to the envelope's identities.
func (p *policyParser) principal() (*common.SignaturePolicy, error) {
	q := p.src[p.pos]
	end := strings.IndexByte(p.src[p.pos+1:], q)
	if end < 0 {
		return nil, fmt.Errorf("unterminated principal at offset %d", p.pos)
	}
	text := p.src[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	dot := strings.LastIndexByte(text, '.')
	if dot <= 0 {
		return nil, fmt.Errorf("principal %q is not MSPID.role", text)
	}
	mspID, roleName := text[:dot], text[dot+1:]
	role, ok := policyRoles[roleName]
	if !ok {
		return nil, fmt.Errorf("principal %q: unknown role %q (member, admin, client, peer, orderer)", text, roleName)
	}
	if !mspIDRE.MatchString(mspID) {
		return nil, fmt.Errorf("principal %q: MSP ID %q", text, mspID)
	}
	if len(p.identities) >= maxPrincipals {
		return nil, fmt.Errorf("more than %d principals", maxPrincipals)
	}
	raw, err := proto.Marshal(&msp.MSPRole{MspIdentifier: mspID, Role: role})
	if err != nil {
		return nil, err
	}
	p.identities = append(p.identities, &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: raw})
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: int32(len(p.identities) - 1)}}, nil
}
