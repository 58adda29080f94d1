//go:build cgo

package pkcs11

import (
	"context"
	"strings"

	"github.com/miekg/pkcs11"
)

// TokenObject describes an object on the token, for tests that look behind the API.
type TokenObject struct {
	Label, ID string
	// ValueReadable is true if the token gave out CKA_VALUE.
	ValueReadable bool
}

// Objects lists every object on the token.
func (s *KeyService) Objects(ctx context.Context) ([]TokenObject, error) {
	var objs []TokenObject
	err := s.pool.do(ctx, func(sh pkcs11.SessionHandle) error {
		hs, err := s.find(sh, nil)
		if err != nil {
			return err
		}
		for _, h := range hs {
			attrs, err := s.mod.ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
			if err != nil {
				attrs, err = s.mod.ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil)})
				if err != nil {
					return err
				}
				attrs = append(attrs, pkcs11.NewAttribute(pkcs11.CKA_ID, nil))
			}
			_, verr := s.mod.ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_VALUE, nil)})
			objs = append(objs, TokenObject{Label: string(attrs[0].Value), ID: string(attrs[1].Value), ValueReadable: verr == nil})
		}
		return nil
	})
	return objs, err
}

// KEKObjects counts the objects under the patient's KEK label.
func (s *KeyService) KEKObjects(ctx context.Context, patient string) (int, error) {
	objs, err := s.Objects(ctx)
	n := 0
	for _, o := range objs {
		if o.Label == kekLabel(patient) {
			n++
		}
	}
	return n, err
}

// PlantKey puts a key object under the patient's KEK label and the ID of version 1:
// imported with a value (so never "always sensitive") or, with extractable, generated
// but exportable. Neither is a KEK this package would use.
func (s *KeyService) PlantKey(ctx context.Context, patient string, extractable bool) error {
	template := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, kekLabel(patient)),
		pkcs11.NewAttribute(pkcs11.CKA_ID, kekID(patient, 1)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
	}
	return s.pool.do(ctx, func(sh pkcs11.SessionHandle) error {
		if extractable {
			_, err := s.mod.ctx.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, append(template,
				pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, 32), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, false), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, true)))
			return err
		}
		_, err := s.mod.ctx.CreateObject(sh, append(template,
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, []byte(strings.Repeat("k", 32))), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true), pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false)))
		return err
	})
}
