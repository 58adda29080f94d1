package gateway

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
)

// ErrAssertion means the member's signed access assertion was refused: malformed, signed by
// another key, for another access, outside its time window, or replayed. Nothing is released.
var ErrAssertion = errors.New("the member's access assertion was refused")

// ReadOption adjusts one read.
type ReadOption func(*readOptions)

type readOptions struct {
	assertion *model.SignedAssertion
	certPEM   []byte
	cert      *x509.Certificate
}

// WithAssertion makes a read member-signed: sa is the assertion the member's own client signed
// for it, and certPEM the member's certificate, whose key signed it. The gateway checks both
// before it releases anything (signature, what the assertion asks for, its time against the
// ledger's decision, that it was not used before) and forwards them with the access report, so
// that the ledger checks them again and marks the access member-signed in the patient's audit
// trail. A read without an assertion is recorded as gateway-asserted.
func WithAssertion(sa *model.SignedAssertion, certPEM []byte) ReadOption {
	return func(o *readOptions) { o.assertion, o.certPEM = sa, certPEM }
}

// parse checks the assertion's shape and reads the member's certificate.
func (o *readOptions) parse() error {
	if o.assertion == nil {
		return nil
	}
	if err := o.assertion.Check(); err != nil {
		return refusedAssertion(err)
	}
	block, _ := pem.Decode(o.certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return fmt.Errorf("%w: no member certificate to check it with", ErrAssertion)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return fmt.Errorf("%w: the member certificate does not parse", ErrAssertion)
	}
	o.cert = cert
	return nil
}

// attach checks the assertion against the report of the access it is to vouch for, and adds
// it and the member's certificate to the report.
func (o *readOptions) attach(r *model.AccessReport, owner string) error {
	if err := o.assertion.Covers(r, owner); err != nil {
		return refusedAssertion(err)
	}
	if err := o.assertion.VerifySignature(o.cert); err != nil {
		return refusedAssertion(err)
	}
	r.Assertion = o.assertion
	r.Certificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.cert.Raw}))
	return nil
}

// refusedAssertion wraps a model error about an assertion as ErrAssertion, keeping its
// message for the member.
func refusedAssertion(err error) error {
	var me *model.Error
	if errors.As(err, &me) {
		return fmt.Errorf("%w: %s", ErrAssertion, me.Message)
	}
	return fmt.Errorf("%w: %w", ErrAssertion, err)
}
