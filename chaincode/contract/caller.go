package contract

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
)

const (
	attrRole         = "role"
	attrEnrollmentID = "hf.EnrollmentID"
)

// identity is what the contract knows about a certificate holder.
type identity struct {
	mspID        string
	enrollmentID string
	role         model.Role
}

func identityFromCert(mspID string, cert *x509.Certificate) (identity, error) {
	attrs, err := attrmgr.New().GetAttributesFromCert(cert)
	if err != nil {
		return identity{}, fmt.Errorf("read certificate attributes: %w", err)
	}
	id := identity{mspID: mspID}
	if v, ok, _ := attrs.Value(attrEnrollmentID); ok && v != "" {
		id.enrollmentID = v
	} else {
		id.enrollmentID = cert.Subject.CommonName
	}
	if v, ok, _ := attrs.Value(attrRole); ok {
		id.role = model.Role(v)
	}
	return id, nil
}

func (i identity) party() model.Party {
	return model.Party{MSP: i.mspID, ID: model.PseudonymFor(i.mspID, i.enrollmentID), Role: i.role}
}

// resolveCaller works out who the transaction runs as. The creator certificate decides; a
// creator with the gateway role may name one member of its own organisation to act for, by
// passing that member's certificate as transient data. ci is the creator's identity as
// contractapi parsed it, or nil to parse it here.
func (t *txn) resolveCaller(ci cid.ClientIdentity, policy *model.RolePolicy) (model.Caller, error) {
	stub := t.stub
	if ci == nil {
		var err error
		if ci, err = cid.New(stub); err != nil {
			return model.Caller{}, model.Errorf(model.CodeUnauthenticated, "cannot read the caller's identity")
		}
	}
	mspID, err := ci.GetMSPID()
	if err != nil {
		return model.Caller{}, model.Errorf(model.CodeUnauthenticated, "cannot read the caller's MSP ID")
	}
	cert, err := ci.GetX509Certificate()
	if err != nil || cert == nil {
		return model.Caller{}, model.Errorf(model.CodeUnauthenticated, "cannot read the caller's certificate")
	}
	creator, err := identityFromCert(mspID, cert)
	if err != nil {
		return model.Caller{}, model.Errorf(model.CodeUnauthenticated, "cannot read the caller's certificate attributes")
	}
	creator.role = permittedRole(policy, creator)
	transient, err := stub.GetTransient()
	if err != nil {
		return model.Caller{}, model.Errorf(model.CodeInternal, "cannot read transient data")
	}
	actorPEM, hasActor := transient[model.ActorTransientKey]
	if !hasActor {
		return model.Caller{Party: creator.party()}, nil
	}
	if creator.role != model.RoleGateway {
		return model.Caller{}, model.Errorf(model.CodeForbidden, "only a gateway identity may act on behalf of another identity")
	}
	actor, err := t.actorIdentity(mspID, actorPEM)
	if err != nil {
		return model.Caller{}, err
	}
	actor.role = permittedRole(policy, actor)
	if actor.role == model.RoleGateway {
		return model.Caller{}, model.Errorf(model.CodeForbidden, "a gateway cannot act on behalf of another gateway")
	}
	return model.Caller{Party: actor.party(), Via: creator.party().ID}, nil
}

// actorIdentity parses and verifies the certificate a gateway passed for the member it acts
// for. The member belongs to the gateway's organisation (a gateway never speaks for another
// organisation), and the certificate must chain to that organisation's CA certificates on the
// ledger at the transaction time: otherwise whoever holds a gateway key could mint any member
// of its organisation with any role.
func (t *txn) actorIdentity(mspID string, actorPEM []byte) (identity, error) {
	block, _ := pem.Decode(actorPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return identity{}, model.Errorf(model.CodeInvalidArgument, "transient %s is not a PEM certificate", model.ActorTransientKey)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return identity{}, model.Errorf(model.CodeInvalidArgument, "transient %s is not a valid certificate", model.ActorTransientKey)
	}
	if err := t.verifyMember(mspID, cert, t.now); err != nil {
		return identity{}, err
	}
	id, err := identityFromCert(mspID, cert)
	if err != nil {
		return identity{}, model.Errorf(model.CodeInvalidArgument, "cannot read the acting identity's attributes")
	}
	return id, nil
}

// permittedRole returns the identity's role if its organisation may issue that role under the
// consortium's role policy, and no role otherwise.
func permittedRole(policy *model.RolePolicy, id identity) model.Role {
	if !id.role.Valid() {
		return ""
	}
	if policy == nil {
		return id.role
	}
	for _, rule := range policy.Rules {
		if rule.Role != id.role {
			continue
		}
		for _, msp := range rule.MSPs {
			if msp == id.mspID {
				return id.role
			}
		}
		return ""
	}
	return ""
}
