package vaulttransit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	vault "github.com/hashicorp/vault/api"

	"github.com/careledger/careledger/wallet/recordkey"
)

// KeyService is a recordkey.KeyService backed by Vault transit. It is safe for concurrent
// use.
type KeyService struct {
	vc     *vault.Client
	opts   Options
	mount  string
	prefix string

	loginMu sync.Mutex
}

var _ recordkey.KeyService = (*KeyService)(nil)

// New connects to Vault and authenticates.
func New(ctx context.Context, opts Options) (*KeyService, error) {
	vc, err := newVaultClient(opts)
	if err != nil {
		return nil, err
	}
	if err := login(ctx, vc, opts); err != nil {
		return nil, err
	}
	return newKeyService(vc, opts), nil
}

// FromClient uses a Vault client the caller configured and authenticated; only Mount and
// KeyPrefix of opts are used and the caller keeps the token valid.
func FromClient(vc *vault.Client, opts Options) *KeyService {
	opts.Token, opts.AppRole = "", nil
	return newKeyService(vc, opts)
}

func newKeyService(vc *vault.Client, opts Options) *KeyService {
	ks := &KeyService{vc: vc, opts: opts, mount: opts.Mount, prefix: opts.KeyPrefix}
	if ks.mount == "" {
		ks.mount = "transit"
	}
	ks.mount = strings.Trim(ks.mount, "/")
	if ks.prefix == "" {
		ks.prefix = "careledger-patient-"
	}
	return ks
}

func (ks *KeyService) keyName(patient string) string    { return ks.prefix + patient }
func (ks *KeyService) markerName(patient string) string { return ks.prefix + patient + ".erased" }

// write calls a transit endpoint, logging in again once if an AppRole token expired.
func (ks *KeyService) write(ctx context.Context, path string, data map[string]any) (*vault.Secret, error) {
	s, err := ks.vc.Logical().WriteWithContext(ctx, ks.mount+"/"+path, data)
	if err != nil && ks.opts.AppRole != nil && statusOf(err) == http.StatusForbidden {
		if lerr := ks.relogin(ctx); lerr != nil {
			return nil, lerr
		}
		s, err = ks.vc.Logical().WriteWithContext(ctx, ks.mount+"/"+path, data)
	}
	return s, err
}

func (ks *KeyService) read(ctx context.Context, path string) (*vault.Secret, error) {
	s, err := ks.vc.Logical().ReadWithContext(ctx, ks.mount+"/"+path)
	if err != nil && ks.opts.AppRole != nil && statusOf(err) == http.StatusForbidden {
		if lerr := ks.relogin(ctx); lerr != nil {
			return nil, lerr
		}
		s, err = ks.vc.Logical().ReadWithContext(ctx, ks.mount+"/"+path)
	}
	return s, err
}

func (ks *KeyService) delete(ctx context.Context, path string) error {
	_, err := ks.vc.Logical().DeleteWithContext(ctx, ks.mount+"/"+path)
	if err != nil && ks.opts.AppRole != nil && statusOf(err) == http.StatusForbidden {
		if lerr := ks.relogin(ctx); lerr != nil {
			return lerr
		}
		_, err = ks.vc.Logical().DeleteWithContext(ctx, ks.mount+"/"+path)
	}
	return err
}

func (ks *KeyService) relogin(ctx context.Context) error {
	ks.loginMu.Lock()
	defer ks.loginMu.Unlock()
	return login(ctx, ks.vc, ks.opts)
}

func statusOf(err error) int {
	var re *vault.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// isNotFound recognises transit's answers for a missing key, which come as 400 with
// messages such as "encryption key not found" or "no existing key named ... could be found".
func isNotFound(err error) bool {
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	if re.StatusCode == http.StatusNotFound {
		return true
	}
	if re.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, m := range re.Errors {
		if strings.Contains(m, "not found") || strings.Contains(m, "could be found") {
			return true
		}
	}
	return false
}

func hasMessage(err error, part string) bool {
	var re *vault.ResponseError
	if !errors.As(err, &re) {
		return false
	}
	for _, m := range re.Errors {
		if strings.Contains(m, part) {
			return true
		}
	}
	return false
}

// isBadInput recognises transit's answers for ciphertext it cannot decrypt.
func isBadInput(err error) bool { return statusOf(err) == http.StatusBadRequest }

// erased reports whether the patient's erasure marker exists.
func (ks *KeyService) erased(ctx context.Context, patient string) (bool, error) {
	s, err := ks.read(ctx, "keys/"+ks.markerName(patient))
	if err != nil {
		return false, err
	}
	return s != nil, nil
}

// missing turns a key-not-found answer into ErrKeyDestroyed or ErrKeyNotFound.
func (ks *KeyService) missing(ctx context.Context, patient string) error {
	erased, err := ks.erased(ctx, patient)
	if err != nil {
		return fmt.Errorf("check erasure: %w", err)
	}
	if erased {
		return recordkey.ErrKeyDestroyed
	}
	return recordkey.ErrKeyNotFound
}

// NewDataKey implements recordkey.KeyService with transit's datakey endpoint, which, unlike
// encrypt, never creates a missing key implicitly; the key is created here only after the
// erasure marker was checked.
func (ks *KeyService) NewDataKey(ctx context.Context, patientID string) (recordkey.DataKey, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	dk, err := ks.datakey(ctx, patientID)
	if err == nil {
		return dk, nil
	}
	if !isNotFound(err) {
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	if err := ks.missing(ctx, patientID); !errors.Is(err, recordkey.ErrKeyNotFound) {
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	if err := ks.createKey(ctx, patientID); err != nil {
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	if dk, err = ks.datakey(ctx, patientID); err != nil {
		if isNotFound(err) {
			err = ks.missing(ctx, patientID) // erased between creation and use
		}
		return recordkey.DataKey{}, fmt.Errorf("new data key: %w", err)
	}
	return dk, nil
}

func (ks *KeyService) createKey(ctx context.Context, patient string) error {
	// Creating an existing key is a no-op in transit, so concurrent first uses are safe.
	if _, err := ks.write(ctx, "keys/"+ks.keyName(patient), map[string]any{"type": "aes256-gcm96"}); err != nil {
		return fmt.Errorf("create transit key: %w", err)
	}
	// Close the race with a concurrent DestroyKey that wrote its marker after our check.
	erased, err := ks.erased(ctx, patient)
	if err != nil {
		return fmt.Errorf("check erasure: %w", err)
	}
	if erased {
		_ = ks.deleteKey(ctx, ks.keyName(patient))
		return recordkey.ErrKeyDestroyed
	}
	return nil
}

func (ks *KeyService) datakey(ctx context.Context, patient string) (recordkey.DataKey, error) {
	s, err := ks.write(ctx, "datakey/plaintext/"+ks.keyName(patient), map[string]any{"bits": 256})
	if err != nil {
		return recordkey.DataKey{}, err
	}
	pt, err := stringField(s, "plaintext")
	if err != nil {
		return recordkey.DataKey{}, err
	}
	ct, err := stringField(s, "ciphertext")
	if err != nil {
		return recordkey.DataKey{}, err
	}
	key, err := base64.StdEncoding.DecodeString(pt)
	if err != nil || len(key) != recordkey.DataKeySize {
		return recordkey.DataKey{}, fmt.Errorf("vault returned a malformed data key")
	}
	v, err := ciphertextVersion(ct)
	if err != nil {
		return recordkey.DataKey{}, err
	}
	return recordkey.DataKey{Plaintext: key, Wrapped: []byte(ct), Version: v}, nil
}

// UnwrapDataKey implements recordkey.KeyService.
func (ks *KeyService) UnwrapDataKey(ctx context.Context, patientID string, wrapped []byte) ([]byte, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	if _, err := ciphertextVersion(string(wrapped)); err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	s, err := ks.write(ctx, "decrypt/"+ks.keyName(patientID), map[string]any{"ciphertext": string(wrapped)})
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", ks.classify(ctx, patientID, err))
	}
	pt, err := stringField(s, "plaintext")
	if err != nil {
		return nil, fmt.Errorf("unwrap data key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(pt)
	if err != nil || len(key) != recordkey.DataKeySize {
		return nil, fmt.Errorf("unwrap data key: %w: not a data key", recordkey.ErrCorrupt)
	}
	return key, nil
}

// RewrapDataKey implements recordkey.KeyService with transit's rewrap, so the data key
// never leaves Vault.
func (ks *KeyService) RewrapDataKey(ctx context.Context, patientID string, wrapped []byte) ([]byte, int, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	if _, err := ciphertextVersion(string(wrapped)); err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	s, err := ks.write(ctx, "rewrap/"+ks.keyName(patientID), map[string]any{"ciphertext": string(wrapped)})
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", ks.classify(ctx, patientID, err))
	}
	ct, err := stringField(s, "ciphertext")
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	v, err := ciphertextVersion(ct)
	if err != nil {
		return nil, 0, fmt.Errorf("rewrap data key: %w", err)
	}
	return []byte(ct), v, nil
}

// classify maps a transit error for an existing ciphertext to recordkey's sentinels.
func (ks *KeyService) classify(ctx context.Context, patient string, err error) error {
	switch {
	case isNotFound(err):
		return ks.missing(ctx, patient)
	case hasMessage(err, "too old"):
		// "ciphertext or signature version is disallowed by policy (too old)"
		return fmt.Errorf("%w: %w", recordkey.ErrKeyRetired, err)
	case isBadInput(err):
		return fmt.Errorf("%w: %w", recordkey.ErrCorrupt, err)
	}
	return err
}

// RotateKey implements recordkey.KeyService.
func (ks *KeyService) RotateKey(ctx context.Context, patientID string) (int, error) {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	if _, err := ks.write(ctx, "keys/"+ks.keyName(patientID)+"/rotate", nil); err != nil {
		if isNotFound(err) {
			err = ks.missing(ctx, patientID)
		}
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	s, err := ks.read(ctx, "keys/"+ks.keyName(patientID))
	if err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	if s == nil {
		return 0, fmt.Errorf("rotate key: %w", ks.missing(ctx, patientID))
	}
	v, err := intField(s, "latest_version")
	if err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	return v, nil
}

// RetireKeyVersions implements recordkey.KeyService: it raises the transit key's
// min_decryption_version, then trims the older versions so their key material is deleted
// from Vault's storage, not merely refused.
func (ks *KeyService) RetireKeyVersions(ctx context.Context, patientID string, below int) error {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	name := ks.keyName(patientID)
	s, err := ks.read(ctx, "keys/"+name)
	if err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	if s == nil {
		return fmt.Errorf("retire key versions: %w", ks.missing(ctx, patientID))
	}
	latest, err := intField(s, "latest_version")
	if err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	if below < 1 || below > latest {
		return fmt.Errorf("retire key versions: %w: %d, latest is %d", recordkey.ErrBadVersion, below, latest)
	}
	current, err := intField(s, "min_decryption_version")
	if err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	if below <= current {
		return nil
	}
	minEnc, err := intField(s, "min_encryption_version")
	if err != nil {
		return fmt.Errorf("retire key versions: %w", err)
	}
	// trim needs a non-zero min_encryption_version at or above the trimmed version; new data
	// keys still use the latest version, as they do with the default of zero.
	if _, err := ks.write(ctx, "keys/"+name+"/config", map[string]any{
		"min_decryption_version": below,
		"min_encryption_version": max(below, minEnc),
	}); err != nil {
		return fmt.Errorf("retire key versions: raise minimum versions: %w", err)
	}
	if _, err := ks.write(ctx, "keys/"+name+"/trim", map[string]any{"min_available_version": below}); err != nil {
		return fmt.Errorf("retire key versions: trim: %w", err)
	}
	return nil
}

// DestroyKey implements recordkey.KeyService: it writes the erasure marker first, so a
// failure half-way still leaves the patient erased, then allows deletion of the transit key
// and deletes it with all its versions.
func (ks *KeyService) DestroyKey(ctx context.Context, patientID string) error {
	if err := recordkey.ValidatePatientID(patientID); err != nil {
		return fmt.Errorf("destroy key: %w", err)
	}
	if _, err := ks.write(ctx, "keys/"+ks.markerName(patientID), map[string]any{"type": "aes256-gcm96"}); err != nil {
		return fmt.Errorf("destroy key: write erasure marker: %w", err)
	}
	if err := ks.deleteKey(ctx, ks.keyName(patientID)); err != nil {
		return fmt.Errorf("destroy key: %w", err)
	}
	return nil
}

func (ks *KeyService) deleteKey(ctx context.Context, name string) error {
	if _, err := ks.write(ctx, "keys/"+name+"/config", map[string]any{"deletion_allowed": true}); err != nil {
		if isNotFound(err) {
			return nil
		}
		return fmt.Errorf("allow deletion: %w", err)
	}
	if err := ks.delete(ctx, "keys/"+name); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete transit key: %w", err)
	}
	return nil
}

// ciphertextVersion checks the "vault:v<N>:<base64>" form and returns N.
func ciphertextVersion(ct string) (int, error) {
	rest, ok := strings.CutPrefix(ct, "vault:v")
	if !ok {
		return 0, fmt.Errorf("%w: not a transit ciphertext", recordkey.ErrCorrupt)
	}
	vs, body, ok := strings.Cut(rest, ":")
	if !ok || body == "" {
		return 0, fmt.Errorf("%w: not a transit ciphertext", recordkey.ErrCorrupt)
	}
	v, err := strconv.Atoi(vs)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: bad key version in transit ciphertext", recordkey.ErrCorrupt)
	}
	return v, nil
}

func stringField(s *vault.Secret, name string) (string, error) {
	if s == nil || s.Data == nil {
		return "", fmt.Errorf("vault returned no data")
	}
	v, ok := s.Data[name].(string)
	if !ok || v == "" {
		return "", fmt.Errorf("vault response lacks %q", name)
	}
	return v, nil
}

func intField(s *vault.Secret, name string) (int, error) {
	if s == nil || s.Data == nil {
		return 0, fmt.Errorf("vault returned no data")
	}
	switch v := s.Data[name].(type) {
	case json.Number:
		n, err := v.Int64()
		return int(n), err
	case float64:
		return int(v), nil
	case int:
		return v, nil
	}
	return 0, fmt.Errorf("vault response lacks %q", name)
}
