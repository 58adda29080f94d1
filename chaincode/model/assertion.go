package model

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"slices"
	"time"
)

// Member-signed access. A gateway holds a key that lets it act for its organisation's members;
// to show that a member, not just their gateway, asked for an access, the member's own client
// signs an AccessAssertion with the member's key, and the gateway forwards it with the access
// report. The chaincode then marks the audit entry AssuranceMemberSigned; an access without one
// rests on the gateway's word and is marked AssuranceGatewayAsserted.
const (
	AssuranceMemberSigned    = "member-signed"
	AssuranceGatewayAsserted = "gateway-asserted"
)

// AssertionHeader is the HTTP request header that carries a SignedAssertion, encoded with
// [SignedAssertion.Encode], from a member's client to the API.
const AssertionHeader = "CareLedger-Access-Assertion"

// AssertionWindow is how far an assertion's time may lie from the time of the access it asks
// for (the transaction time of the ledger's access decision), either way. It bounds how long a
// captured assertion is of any use; its nonce makes it good for one access only.
const AssertionWindow = 5 * time.Minute

// MaxAssertionBytes bounds an encoded assertion.
const MaxAssertionBytes = 2048

var noncePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// AccessAssertion is what a member signs to ask for one access: a fresh random nonce, the
// record (or, for a read of a patient's history, the patient), the action, the purpose if
// one is given, and when. It carries no personal data: IDs and pseudonyms only.
type AccessAssertion struct {
	Nonce    string    `json:"nonce"`
	RecordID string    `json:"recordId,omitempty"`
	Patient  string    `json:"patient,omitempty"`
	Action   string    `json:"action"`
	Purpose  string    `json:"purpose,omitempty"`
	At       time.Time `json:"at"`
}

// SignedAssertion is an assertion with the member's signature over [AccessAssertion.Digest]:
// ECDSA, ASN.1 DER, low S, as Fabric signs.
type SignedAssertion struct {
	AccessAssertion
	Signature []byte `json:"signature"`
}

// Digest is the SHA-256 the member signs: a domain-separated encoding of every field, with the
// time in UTC to the nanosecond, so that no two different assertions share a digest.
func (a AccessAssertion) Digest() []byte {
	h := sha256.New()
	for _, f := range []string{"careledger/access-assertion/v1", a.Nonce, a.RecordID, a.Patient, a.Action, a.Purpose, a.At.UTC().Format(time.RFC3339Nano)} {
		h.Write([]byte(f))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

// NewAssertionNonce returns a fresh random nonce for an assertion: 16 bytes, base64url.
func NewAssertionNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// SignAssertion signs the assertion with the member's key, held by signer (a private key, a
// wallet, an HSM), in the form VerifySignature accepts: ECDSA over Digest, ASN.1 DER, low S.
func SignAssertion(signer crypto.Signer, a AccessAssertion) (*SignedAssertion, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, errors.New("sign assertion: only ECDSA keys are supported")
	}
	der, err := signer.Sign(rand.Reader, a.Digest(), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("sign assertion: %w", err)
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return nil, errors.New("sign assertion: the signer returned a malformed signature")
	}
	if n := pub.Curve.Params().N; sig.S.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
		sig.S.Sub(n, sig.S)
	}
	if der, err = asn1.Marshal(sig); err != nil {
		return nil, fmt.Errorf("sign assertion: %w", err)
	}
	return &SignedAssertion{AccessAssertion: a, Signature: der}, nil
}

// Check validates the assertion's shape: a nonce of 16 to 64 letters, digits, '-' or '_';
// exactly one of a record ID or a patient pseudonym; a known action and purpose; a time.
func (a AccessAssertion) Check() error {
	fail := func(format string, args ...any) error {
		return Errorf(CodeInvalidArgument, "assertion: "+format, args...)
	}
	switch {
	case !noncePattern.MatchString(a.Nonce):
		return fail("nonce must be 16-64 letters, digits, '-' or '_'")
	case (a.RecordID == "") == (a.Patient == ""):
		return fail("exactly one of recordId and patient is required")
	case a.RecordID != "" && !ValidID(a.RecordID):
		return fail("recordId must be 1-128 letters, digits, '.', '_' or '-'")
	case a.Patient != "" && !ValidPseudonym(a.Patient):
		return fail("patient must be a pseudonym")
	case a.Action != ActionRead && a.Action != ActionAppend:
		return fail("unknown action %q", a.Action)
	case a.Purpose != "" && !slices.Contains(Purposes, a.Purpose) && !slices.Contains(ResearchPurposes, a.Purpose):
		return fail("unknown purpose %q", a.Purpose)
	case a.At.IsZero():
		return fail("at is required")
	}
	return nil
}

// Covers checks that the assertion asks for the reported access to a record of owner: the
// record (or its owner, for a history read), the action, the purpose when the assertion names
// one, and a time within AssertionWindow of the access (the time of the ledger's decision).
// Break-glass access is for emergency treatment whatever purpose the member asked for, so
// under basis emergency the purpose is not compared. A mismatch is FORBIDDEN.
func (a AccessAssertion) Covers(r *AccessReport, owner string) error {
	switch {
	case a.RecordID != "" && a.RecordID != r.RecordID, a.Patient != "" && a.Patient != owner:
		return Errorf(CodeForbidden, "the member's assertion is for another record")
	case a.Action != r.Action:
		return Errorf(CodeForbidden, "the member's assertion is for another action")
	case a.Purpose != "" && a.Purpose != r.Purpose && r.Basis != BasisEmergency:
		return Errorf(CodeForbidden, "the member's assertion is for another purpose")
	case a.At.Before(r.AccessedAt.Add(-AssertionWindow)) || a.At.After(r.AccessedAt.Add(AssertionWindow)):
		return Errorf(CodeForbidden, "the member's assertion was made at %s, more than %s from the access at %s",
			a.At.UTC().Format(time.RFC3339), AssertionWindow, r.AccessedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// VerifySignature checks the signature against the public key of cert, the member's
// certificate, and that it is in low-S form. A bad signature is FORBIDDEN.
func (s SignedAssertion) VerifySignature(cert *x509.Certificate) error {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return Errorf(CodeForbidden, "the member's certificate does not hold an ECDSA key")
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(s.Signature, &sig); err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil {
		return Errorf(CodeForbidden, "the member's assertion signature is not an ASN.1 ECDSA signature")
	}
	if sig.S.Cmp(new(big.Int).Rsh(pub.Curve.Params().N, 1)) > 0 {
		return Errorf(CodeForbidden, "the member's assertion signature is not in low-S form")
	}
	if !ecdsa.VerifyASN1(pub, s.Digest(), s.Signature) {
		return Errorf(CodeForbidden, "the member's assertion signature does not verify with the member's certificate")
	}
	return nil
}

// Encode returns the assertion as it travels in [AssertionHeader]: base64url without padding
// of its JSON.
func (s SignedAssertion) Encode() string {
	b, _ := json.Marshal(s) // a struct of strings, a time and bytes always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

// ParseAssertion decodes an assertion from [SignedAssertion.Encode]'s form strictly (size
// limit, no unknown fields, nothing after the document) and checks its shape. It checks
// neither the signature nor what the assertion asks for. Errors are INVALID_ARGUMENT.
func ParseAssertion(encoded string) (*SignedAssertion, error) {
	if len(encoded) > MaxAssertionBytes {
		return nil, Errorf(CodeInvalidArgument, "assertion is larger than %d bytes", MaxAssertionBytes)
	}
	raw, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return nil, Errorf(CodeInvalidArgument, "assertion is not base64url without padding")
	}
	var s SignedAssertion
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, Errorf(CodeInvalidArgument, "assertion is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, Errorf(CodeInvalidArgument, "assertion has data after the JSON document")
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	if len(s.Signature) == 0 {
		return nil, Errorf(CodeInvalidArgument, "assertion: signature is required")
	}
	return &s, nil
}
