//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/miekg/pkcs11"

	"github.com/careledger/careledger/wallet/recordkey"
)

// KeyService is a recordkey.KeyService with its KEKs on a PKCS#11 token. It is safe for
// concurrent use. Close it when done.
type KeyService struct {
	cfg  Config
	mod  *module
	pool *pool

	// mu serialises changes to KEKs (creation, rotation, retirement, erasure) and guards the
	// caches; wrapping and unwrapping hold it only to read them.
	mu     sync.Mutex
	keys   map[string]*keyset // by patient ID
	erased map[string]bool
	closed bool
}

// keyset is what the token holds for one patient: key handles by KEK version. There is
// normally one handle per version; two processes racing to create or rotate a key can make
// two, and unwrapping then tries each.
type keyset struct {
	latest   uint32
	min      uint32 // lowest version still on the token; lower ones were retired
	versions map[uint32][]pkcs11.ObjectHandle
}

var _ recordkey.KeyService = (*KeyService)(nil)

// New loads the module, finds the token by label, checks it can generate AES keys and
// encrypt with AES-GCM, and logs in with the PIN. PKCS#11 logs in an application, not a
// session: if this process is already logged in to the token (another KeyService on it is
// open), the token does not check the PIN again. SoftHSM2 finds its tokens when the module
// is first loaded, so a token initialised later is found once every KeyService on the
// module was closed.
func New(ctx context.Context, cfg Config) (_ *KeyService, err error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("open pkcs11 key service: %w", err)
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = max(4, 2*runtime.GOMAXPROCS(0))
	}
	mod, err := openModule(cfg.Module)
	if err != nil {
		return nil, fmt.Errorf("open pkcs11 key service: %w", err)
	}
	defer func() {
		if err != nil {
			mod.release()
		}
	}()
	slot, err := findToken(mod.ctx, cfg.TokenLabel)
	if err != nil {
		return nil, fmt.Errorf("open pkcs11 key service: %w", err)
	}
	if err := checkMechanisms(mod.ctx, slot); err != nil {
		return nil, fmt.Errorf("open pkcs11 key service: token %q: %w", cfg.TokenLabel, err)
	}
	p := newPool(mod, slot, cfg.PIN, cfg.MaxSessions)
	if err := p.do(ctx, p.login); err != nil {
		p.close()
		return nil, fmt.Errorf("open pkcs11 key service: token %q: %w", cfg.TokenLabel, err)
	}
	return &KeyService{cfg: cfg, mod: mod, pool: p, keys: map[string]*keyset{}, erased: map[string]bool{}}, nil
}

// Close closes the sessions and, if no other KeyService uses the module, finalises it.
// Operations must have returned.
func (s *KeyService) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.pool.close()
	s.mod.release()
	return nil
}

func findToken(ctx *pkcs11.Ctx, label string) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("list slots: %w", err)
	}
	var found []uint
	for _, slot := range slots {
		ti, err := ctx.GetTokenInfo(slot)
		if err != nil {
			continue // a slot whose token went away; not the one asked for
		}
		if strings.TrimRight(ti.Label, " \x00") == label {
			found = append(found, slot)
		}
	}
	switch len(found) {
	case 0:
		return 0, fmt.Errorf("%w: no token labelled %q", ErrTokenNotFound, label)
	case 1:
		return found[0], nil
	}
	return 0, fmt.Errorf("%w: %d tokens are labelled %q", ErrTokenNotFound, len(found), label)
}

func checkMechanisms(ctx *pkcs11.Ctx, slot uint) error {
	for _, m := range []struct {
		mech  uint
		name  string
		flags uint
	}{
		{pkcs11.CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", pkcs11.CKF_GENERATE},
		{pkcs11.CKM_AES_GCM, "CKM_AES_GCM", pkcs11.CKF_ENCRYPT | pkcs11.CKF_DECRYPT},
	} {
		info, err := ctx.GetMechanismInfo(slot, []*pkcs11.Mechanism{pkcs11.NewMechanism(m.mech, nil)})
		if err != nil {
			return fmt.Errorf("%w: %s: %w", ErrMechanism, m.name, err)
		}
		if info.Flags&m.flags != m.flags || (info.MaxKeySize != 0 && info.MaxKeySize < recordkey.DataKeySize) {
			return fmt.Errorf("%w: %s for 256-bit keys", ErrMechanism, m.name)
		}
	}
	return nil
}

// tag names a patient's objects on the token without showing the patient ID.
func tag(patient string) []byte {
	sum := sha256.Sum256([]byte("careledger/pkcs11/kek/v1\x00" + patient))
	return sum[:16]
}

func kekLabel(patient string) string { return "careledger-kek-" + hex.EncodeToString(tag(patient)) }
func markerLabel(patient string) string {
	return "careledger-erased-" + hex.EncodeToString(tag(patient))
}

func kekID(patient string, version uint32) []byte {
	return binary.BigEndian.AppendUint32(tag(patient), version)
}

// find returns the handles of the objects matching template.
func (s *KeyService) find(sh pkcs11.SessionHandle, template []*pkcs11.Attribute) ([]pkcs11.ObjectHandle, error) {
	c := s.mod.ctx
	if err := c.FindObjectsInit(sh, template); err != nil {
		return nil, fmt.Errorf("find objects: %w", err)
	}
	var all []pkcs11.ObjectHandle
	for {
		hs, _, err := c.FindObjects(sh, 64)
		if err != nil {
			_ = c.FindObjectsFinal(sh)
			return nil, fmt.Errorf("find objects: %w", err)
		}
		if len(hs) == 0 {
			break
		}
		all = append(all, hs...)
	}
	if err := c.FindObjectsFinal(sh); err != nil {
		return nil, fmt.Errorf("find objects: %w", err)
	}
	return all, nil
}

func markerTemplate(patient string) []*pkcs11.Attribute {
	return []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_DATA),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, markerLabel(patient)),
	}
}

// kekObjects finds every object under the patient's KEK label, whatever its class.
func (s *KeyService) kekObjects(sh pkcs11.SessionHandle, patient string) ([]pkcs11.ObjectHandle, error) {
	return s.find(sh, []*pkcs11.Attribute{pkcs11.NewAttribute(pkcs11.CKA_LABEL, kekLabel(patient))})
}

// load reads the patient's KEK versions from the token, checking each object; s.mu must
// be held. It returns ErrKeyDestroyed for an erased patient and a nil keyset for one
// without a key.
func (s *KeyService) load(sh pkcs11.SessionHandle, patient string) (*keyset, error) {
	markers, err := s.find(sh, markerTemplate(patient))
	if err != nil {
		return nil, err
	}
	if len(markers) > 0 {
		return nil, recordkey.ErrKeyDestroyed
	}
	hs, err := s.kekObjects(sh, patient)
	if err != nil || len(hs) == 0 {
		return nil, err
	}
	ks := &keyset{versions: map[uint32][]pkcs11.ObjectHandle{}}
	for _, h := range hs {
		v, err := s.checkKEK(sh, h, patient)
		if err != nil {
			return nil, err
		}
		ks.versions[v] = append(ks.versions[v], h)
		ks.latest = max(ks.latest, v)
		if ks.min == 0 || v < ks.min {
			ks.min = v
		}
	}
	return ks, nil
}

// checkKEK makes sure h is a KEK this package generated for patient and returns its version.
func (s *KeyService) checkKEK(sh pkcs11.SessionHandle, h pkcs11.ObjectHandle, patient string) (uint32, error) {
	attrs, err := s.mod.ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ID, nil),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, nil),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_SENSITIVE, nil),
		pkcs11.NewAttribute(pkcs11.CKA_NEVER_EXTRACTABLE, nil),
	})
	if err != nil {
		return 0, fmt.Errorf("%w: read attributes: %w", ErrNotKEK, err)
	}
	get := func(i int) []byte { return attrs[i].Value }
	isTrue := func(i int) bool { return len(get(i)) == 1 && get(i)[0] == 1 }
	ulong := func(i int) (uint64, bool) {
		b := get(i)
		switch len(b) { // CK_ULONG in the host's byte order
		case 4:
			return uint64(binary.NativeEndian.Uint32(b)), true
		case 8:
			return binary.NativeEndian.Uint64(b), true
		}
		return 0, false
	}
	class, ok1 := ulong(0)
	keyType, ok2 := ulong(1)
	size, ok3 := ulong(2)
	id := get(3)
	prefix := tag(patient)
	switch {
	case !ok1 || class != pkcs11.CKO_SECRET_KEY, !ok2 || keyType != pkcs11.CKK_AES, !ok3 || size != recordkey.DataKeySize:
		return 0, fmt.Errorf("%w: not a 256-bit AES key", ErrNotKEK)
	case len(id) != len(prefix)+4 || !slices.Equal(id[:len(prefix)], prefix):
		return 0, fmt.Errorf("%w: unexpected CKA_ID", ErrNotKEK)
	case !isTrue(4):
		return 0, fmt.Errorf("%w: a session object", ErrNotKEK)
	case !isTrue(5) || isTrue(6) || !isTrue(7) || !isTrue(8):
		return 0, fmt.Errorf("%w: extractable, or not generated on the token", ErrNotKEK)
	}
	v := binary.BigEndian.Uint32(id[len(prefix):])
	if v == 0 {
		return 0, fmt.Errorf("%w: version 0", ErrNotKEK)
	}
	return v, nil
}

// generate makes KEK version v for patient on the token.
func (s *KeyService) generate(sh pkcs11.SessionHandle, patient string, v uint32) (pkcs11.ObjectHandle, error) {
	h, err := s.mod.ctx.GenerateKey(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_KEY_GEN, nil)}, []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_SECRET_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_AES),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE_LEN, recordkey.DataKeySize),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, kekLabel(patient)),
		pkcs11.NewAttribute(pkcs11.CKA_ID, kekID(patient, v)),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_ENCRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_DECRYPT, true),
		pkcs11.NewAttribute(pkcs11.CKA_WRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_UNWRAP, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, false),
		pkcs11.NewAttribute(pkcs11.CKA_DERIVE, false),
		pkcs11.NewAttribute(pkcs11.CKA_MODIFIABLE, false),
	})
	if err != nil {
		return 0, fmt.Errorf("generate kek: %w", err)
	}
	return h, nil
}

// keyset returns the patient's KEK versions, from the cache or the token; with create it
// generates version 1 for a patient without a key.
func (s *KeyService) keyset(ctx context.Context, patient string, create bool) (*keyset, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.keysetLocked(ctx, patient, create)
}

// keysetLocked is keyset with s.mu held.
func (s *KeyService) keysetLocked(ctx context.Context, patient string, create bool) (*keyset, error) {
	if s.closed {
		return nil, errors.New("key service closed")
	}
	if s.erased[patient] {
		return nil, recordkey.ErrKeyDestroyed
	}
	if ks, ok := s.keys[patient]; ok {
		return ks, nil
	}
	var ks *keyset
	err := s.pool.do(ctx, func(sh pkcs11.SessionHandle) (err error) {
		ks, err = s.load(sh, patient)
		if err != nil || ks != nil || !create {
			return err
		}
		h, err := s.generate(sh, patient, 1)
		if err != nil {
			return err
		}
		ks = &keyset{latest: 1, min: 1, versions: map[uint32][]pkcs11.ObjectHandle{1: {h}}}
		return nil
	})
	switch {
	case errors.Is(err, recordkey.ErrKeyDestroyed):
		s.erased[patient] = true
		return nil, err
	case err != nil:
		return nil, err
	case ks == nil:
		return nil, recordkey.ErrKeyNotFound
	}
	s.keys[patient] = ks
	return ks, nil
}

// forget drops the patient's cached handles if err says the token no longer knows one (the
// key was rotated, retired or destroyed by another key service on the token), so the next
// call reads the token again. It reports whether it did.
func (s *KeyService) forget(patient string, err error) bool {
	if !isRV(err, pkcs11.CKR_KEY_HANDLE_INVALID) && !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
		return false
	}
	s.mu.Lock()
	delete(s.keys, patient)
	s.mu.Unlock()
	return true
}

// sealLatest wraps a data key under the patient's latest KEK version (creating version 1
// with create), reading the token again once if a cached handle went stale.
func (s *KeyService) sealLatest(ctx context.Context, patient string, create bool, dataKey []byte) ([]byte, uint32, error) {
	for attempt := 0; ; attempt++ {
		ks, err := s.keyset(ctx, patient, create)
		if err != nil {
			return nil, 0, err
		}
		w, err := s.seal(ctx, patient, ks.latest, ks.versions[ks.latest][0], dataKey)
		if err == nil {
			return w, ks.latest, nil
		}
		if attempt > 0 || !s.forget(patient, err) {
			return nil, 0, err
		}
	}
}

// open decrypts a wrapped data key on the token, reading the token again once if a cached
// handle went stale.
func (s *KeyService) open(ctx context.Context, patient string, b []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		dk, err := s.openOnce(ctx, patient, b)
		if err == nil || attempt > 0 || !s.forget(patient, err) {
			return dk, err
		}
	}
}

// seal encrypts a data key under KEK version v (handle h) on the token.
func (s *KeyService) seal(ctx context.Context, patient string, v uint32, h pkcs11.ObjectHandle, dataKey []byte) ([]byte, error) {
	iv := make([]byte, ivLen)
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("generate iv: %w", err)
	}
	var out []byte
	err := s.pool.do(ctx, func(sh pkcs11.SessionHandle) error {
		params := pkcs11.NewGCMParams(iv, wrapAAD(patient, v), tagLen*8)
		defer params.Free()
		if err := s.mod.ctx.EncryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, h); err != nil {
			return fmt.Errorf("encrypt init: %w", err)
		}
		ct, err := s.mod.ctx.Encrypt(sh, dataKey)
		if err != nil {
			return fmt.Errorf("encrypt: %w", err)
		}
		if len(ct) != recordkey.DataKeySize+tagLen {
			return fmt.Errorf("encrypt: token returned %d bytes, want %d", len(ct), recordkey.DataKeySize+tagLen)
		}
		// Some modules choose the IV themselves and write it back.
		if got := params.IV(); len(got) == ivLen {
			copy(iv, got)
		}
		out = wrapped{version: v, iv: iv, sealed: ct}.marshal()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// openOnce decrypts a wrapped data key on the token.
func (s *KeyService) openOnce(ctx context.Context, patient string, b []byte) ([]byte, error) {
	w, err := parseWrapped(b)
	if err != nil {
		return nil, err
	}
	ks, err := s.keyset(ctx, patient, false)
	if err != nil {
		return nil, err
	}
	hs := ks.versions[w.version]
	switch {
	case w.version < ks.min:
		return nil, fmt.Errorf("%w: version %d", recordkey.ErrKeyRetired, w.version)
	case len(hs) == 0:
		return nil, fmt.Errorf("%w: unknown key version %d", recordkey.ErrCorrupt, w.version)
	}
	var dk []byte
	err = s.pool.do(ctx, func(sh pkcs11.SessionHandle) error {
		for _, h := range hs {
			params := pkcs11.NewGCMParams(w.iv, wrapAAD(patient, w.version), tagLen*8)
			err := s.mod.ctx.DecryptInit(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_AES_GCM, params)}, h)
			if err != nil {
				params.Free()
				return fmt.Errorf("decrypt init: %w", err)
			}
			pt, err := s.mod.ctx.Decrypt(sh, w.sealed)
			params.Free()
			switch {
			case err == nil && len(pt) == recordkey.DataKeySize:
				dk = pt
				return nil
			case err == nil:
				clear(pt)
			case !authFailure(err):
				return fmt.Errorf("decrypt: %w", err)
			}
		}
		return fmt.Errorf("%w: wrapped key fails authentication", recordkey.ErrCorrupt)
	})
	if err != nil {
		return nil, err
	}
	return dk, nil
}

// authFailure recognises the answers tokens give from C_Decrypt when a GCM tag does not
// verify: CKR_ENCRYPTED_DATA_INVALID by the standard, CKR_AEAD_DECRYPT_FAILED in PKCS#11
// 3.0, and CKR_GENERAL_ERROR from SoftHSM2 (2.6), which reports OpenSSL's failed final
// step no better. The key was checked and C_DecryptInit accepted it, so a general error
// here is taken as a wrapped key that does not authenticate: the caller gets ErrCorrupt
// rather than a retry that cannot help.
func authFailure(err error) bool {
	const ckrAEADDecryptFailed = 0x00000035
	return isRV(err, pkcs11.CKR_ENCRYPTED_DATA_INVALID) || isRV(err, pkcs11.CKR_ENCRYPTED_DATA_LEN_RANGE) ||
		isRV(err, ckrAEADDecryptFailed) || isRV(err, pkcs11.CKR_GENERAL_ERROR)
}

// NewDataKey implements recordkey.KeyService.
func (s *KeyService) NewDataKey(ctx context.Context, patientID string) (recordkey.DataKey, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	dk := make([]byte, recordkey.DataKeySize)
	if _, err := rand.Read(dk); err != nil {
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	w, v, err := s.sealLatest(ctx, patientID, true, dk)
	if err != nil {
		clear(dk)
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	return recordkey.DataKey{Plaintext: dk, Wrapped: w, Version: int(v)}, nil
}

// UnwrapDataKey implements recordkey.KeyService.
func (s *KeyService) UnwrapDataKey(ctx context.Context, patientID string, wrapped []byte) ([]byte, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	dk, err := s.open(ctx, patientID, wrapped)
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	return dk, nil
}

// RewrapDataKey implements recordkey.KeyService. The data key passes through this process
// between the token's decrypt and encrypt and is cleared at once.
func (s *KeyService) RewrapDataKey(ctx context.Context, patientID string, wrapped []byte) ([]byte, int, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	dk, err := s.open(ctx, patientID, wrapped)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	defer clear(dk)
	w, v, err := s.sealLatest(ctx, patientID, false, dk)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	return w, int(v), nil
}

// RotateKey implements recordkey.KeyService.
func (s *KeyService) RotateKey(ctx context.Context, patientID string) (int, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, err := s.keysetLocked(ctx, patientID, false)
	if err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	next := ks.latest + 1
	var h pkcs11.ObjectHandle
	if err := s.pool.do(ctx, func(sh pkcs11.SessionHandle) (err error) {
		h, err = s.generate(sh, patientID, next)
		return err
	}); err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	// Replace rather than change the keyset: callers may hold the old one without the lock.
	versions := make(map[uint32][]pkcs11.ObjectHandle, len(ks.versions)+1)
	for v, hs := range ks.versions {
		versions[v] = hs
	}
	versions[next] = []pkcs11.ObjectHandle{h}
	s.keys[patientID] = &keyset{latest: next, min: ks.min, versions: versions}
	return int(next), nil
}

// RetireKeyVersions implements recordkey.KeyService by destroying the older versions' key
// objects on the token.
func (s *KeyService) RetireKeyVersions(ctx context.Context, patientID string, below int) error {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ks, err := s.keysetLocked(ctx, patientID, false)
	if err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	if below < 1 || uint64(below) > uint64(ks.latest) {
		return fmt.Errorf("retire key versions: %w: %d, latest is %d", recordkey.ErrBadVersion, below, ks.latest)
	}
	b := uint32(below)
	if b <= ks.min {
		return nil
	}
	versions := map[uint32][]pkcs11.ObjectHandle{}
	err = s.pool.do(ctx, func(sh pkcs11.SessionHandle) error {
		for v, hs := range ks.versions {
			if v >= b {
				versions[v] = hs
				continue
			}
			for _, h := range hs {
				if err := s.mod.ctx.DestroyObject(sh, h); err != nil && !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
					return fmt.Errorf("destroy kek version %d: %w", v, err)
				}
			}
		}
		return nil
	})
	if err != nil {
		delete(s.keys, patientID) // some versions may be gone: read the token again next time
		return fmt.Errorf("retire key versions: %w", err)
	}
	s.keys[patientID] = &keyset{latest: ks.latest, min: b, versions: versions}
	return nil
}

// DestroyKey implements recordkey.KeyService: it writes the erasure marker, destroys every
// object under the patient's KEK label, and then searches the token again, failing unless
// nothing is left.
func (s *KeyService) DestroyKey(ctx context.Context, patientID string) error {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return fmt.Errorf("destroy key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("destroy key: key service closed")
	}
	err := s.pool.do(ctx, func(sh pkcs11.SessionHandle) error {
		markers, err := s.find(sh, markerTemplate(patientID))
		if err != nil {
			return err
		}
		if len(markers) == 0 {
			if _, err := s.mod.ctx.CreateObject(sh, append(markerTemplate(patientID),
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
				pkcs11.NewAttribute(pkcs11.CKA_APPLICATION, "careledger"),
			)); err != nil {
				return fmt.Errorf("write erasure marker: %w", err)
			}
		}
		hs, err := s.kekObjects(sh, patientID)
		if err != nil {
			return err
		}
		for _, h := range hs {
			if err := s.mod.ctx.DestroyObject(sh, h); err != nil && !isRV(err, pkcs11.CKR_OBJECT_HANDLE_INVALID) {
				return fmt.Errorf("destroy kek: %w", err)
			}
		}
		left, err := s.kekObjects(sh, patientID)
		if err != nil {
			return fmt.Errorf("check destruction: %w", err)
		}
		if len(left) > 0 {
			return fmt.Errorf("%d key objects are still on the token after C_DestroyObject", len(left))
		}
		return nil
	})
	// The marker may exist even if destruction failed; either way the cached handles are
	// no longer to be used.
	delete(s.keys, patientID)
	if err != nil {
		return fmt.Errorf("destroy key: %w", err)
	}
	s.erased[patientID] = true
	return nil
}
