package fabricca

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/careledger/careledger/wallet"
)

// Roles a CareLedger CA registers. The chaincode decides what each may do.
var Roles = []string{
	wallet.RolePatient, wallet.RoleClinician, wallet.RoleManufacturer,
	wallet.RoleAnonymizer, wallet.RoleAdmin, wallet.RoleGateway,
}

// Attribute is a Fabric CA attribute. ECert attributes are written into every certificate
// the identity is enrolled with, where chaincode reads them; others stay in the CA database
// unless requested at enrolment.
type Attribute struct {
	Name  string `json:"name"`
	Value string `json:"value"`
	ECert bool   `json:"ecert,omitempty"`
}

// Registration describes a new identity.
type Registration struct {
	// ID is the enrollment ID. For patients leave it empty: RegisterPatient picks a random
	// pseudonym, because enrollment IDs end up in certificates and on the ledger.
	ID string
	// Role is the CareLedger role, written as the ecert attribute "role". Required.
	Role string
	// Secret is the enrollment secret; empty lets the CA generate one.
	Secret string
	// Type is the Fabric identity type (client, peer, orderer, admin), which becomes the
	// certificate's node OU. The default is peer for RoleGateway, because channel policies
	// name node OUs and an organisation's gateway service must follow events as its peers do,
	// and client otherwise. Register a client-only organisation's gateway (one that runs no
	// peer) with Type "client".
	Type string
	// Affiliation; empty means the registrar's own, "." the root.
	Affiliation string
	// MaxEnrollments limits how often the secret can be used; 0 means the CA's default.
	MaxEnrollments int
	// Attributes are added next to the role.
	Attributes []Attribute
}

type registrationNet struct {
	ID             string      `json:"id"`
	Type           string      `json:"type"`
	Secret         string      `json:"secret,omitempty"`
	MaxEnrollments int         `json:"max_enrollments,omitempty"`
	Affiliation    string      `json:"affiliation"`
	Attributes     []Attribute `json:"attrs,omitempty"`
	CAName         string      `json:"caname,omitempty"`
}

// Register registers a new identity, authenticated as registrar (who needs hf.Registrar.Roles
// and hf.Registrar.Attributes covering the request), and returns its enrollment secret.
func (c *Client) Register(ctx context.Context, registrar Caller, r Registration) (secret string, err error) {
	if r.ID == "" {
		return "", fmt.Errorf("fabric ca register: %w: empty enrollment ID", ErrInvalidRequest)
	}
	if !slices.Contains(Roles, r.Role) {
		return "", fmt.Errorf("fabric ca register %s: %w: unknown role %q", r.ID, ErrInvalidRequest, r.Role)
	}
	attrs := []Attribute{{Name: wallet.AttrRole, Value: r.Role, ECert: true}}
	for _, a := range r.Attributes {
		if a.Name == wallet.AttrRole {
			return "", fmt.Errorf("fabric ca register %s: %w: set the role through Registration.Role", r.ID, ErrInvalidRequest)
		}
		attrs = append(attrs, a)
	}
	typ := r.Type
	switch {
	case typ != "":
	case r.Role == wallet.RoleGateway:
		typ = "peer"
	default:
		typ = "client"
	}
	in := registrationNet{
		ID: r.ID, Type: typ, Secret: r.Secret, MaxEnrollments: r.MaxEnrollments,
		Affiliation: r.Affiliation, Attributes: attrs, CAName: c.caName,
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := c.call(ctx, "register", "register", in, tokenAuth(registrar), &out); err != nil {
		return "", err
	}
	return out.Secret, nil
}

// RegisterPatient registers a patient under a fresh random enrollment ID and returns the ID
// and the enrollment secret. r.ID and r.Role are set by this method.
func (c *Client) RegisterPatient(ctx context.Context, registrar Caller, r Registration) (enrollmentID, secret string, err error) {
	if r.ID != "" {
		return "", "", fmt.Errorf("fabric ca register patient: %w: patients get random IDs, leave ID empty", ErrInvalidRequest)
	}
	id, err := NewPseudonym()
	if err != nil {
		return "", "", fmt.Errorf("fabric ca register patient: %w", err)
	}
	r.ID, r.Role = id, wallet.RolePatient
	secret, err = c.Register(ctx, registrar, r)
	if err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// NewPseudonym returns a random enrollment ID: 128 random bits in hex, which reveals nothing
// about the person and will not collide in practice.
func NewPseudonym() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate pseudonym: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
