package gateway

import (
	"errors"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
)

// Refusals of the read and write paths. Nothing is decrypted when one of these is returned.
var (
	ErrNoGrant           = errors.New("no grant covers this access")
	ErrGrantExpired      = errors.New("the grant has expired")
	ErrGrantRevoked      = errors.New("the grant was revoked")
	ErrGrantNotYetValid  = errors.New("the grant is not valid yet")
	ErrNotPermitted      = errors.New("this role may not access records")
	ErrNoResearchConsent = errors.New("no research consent covers this access")
	ErrErased            = errors.New("the patient's data has been erased")
	ErrNotFound          = errors.New("record not found")
	ErrIntegrity         = errors.New("stored content does not match the ledger")
	// ErrContentMissing: the ledger holds the version but the record store does not have its
	// content (lost or deleted, not altered: that is ErrIntegrity). The operator is alerted to
	// restore it; in a history only that version is affected.
	ErrContentMissing = errors.New("stored content is missing")
	// ErrInvalidContent is fhir.ErrInvalid: one sentinel for content that fails validation,
	// whichever package found it, so that its text is said once.
	ErrInvalidContent = fhir.ErrInvalid
	// ErrStaleVersion: a write was based on a version that is no longer the latest.
	ErrStaleVersion = errors.New("the record has a newer version")
)

var denials = map[string]error{
	model.DenyNoGrant:           ErrNoGrant,
	model.DenyGrantExpired:      ErrGrantExpired,
	model.DenyGrantRevoked:      ErrGrantRevoked,
	model.DenyGrantNotYetValid:  ErrGrantNotYetValid,
	model.DenyRoleNotPermitted:  ErrNotPermitted,
	model.DenyNoResearchConsent: ErrNoResearchConsent,
	model.DenyErased:            ErrErased,
}

// refusal maps a refused decision to its error.
func refusal(d *model.Decision) error {
	if err, ok := denials[d.Reason]; ok {
		return err
	}
	return ErrNoGrant
}

// fromLedger maps the chaincode's NOT_FOUND and ERASED to this package's errors and leaves
// every other error as it is (callers branch on *model.Error and ledger.ErrUnavailable).
func fromLedger(err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		switch me.Code {
		case model.CodeNotFound:
			return errors.Join(ErrNotFound, err)
		case model.CodeErased:
			return errors.Join(ErrErased, err)
		}
	}
	return err
}
