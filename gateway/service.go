package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/google/uuid"
)

// Config wires a Service to its parts.
type Config struct {
	Blobs blob.Store
	Keys  recordkey.KeyService
	// Audit is the durable queue reads are recorded in before content is released.
	Audit *audit.Queue
	// Flusher, if set, is asked to write the queue soon after each read.
	Flusher *audit.Flusher
	// DecisionTTL is how long an "allowed" decision may be reused (0: ask the ledger every
	// time). Revocations seen on the ledger drop cached decisions at once.
	DecisionTTL time.Duration
	Logger      *slog.Logger
	// SpoolDir holds the ciphertext of a streamed upload until the blob store has it (the
	// system's temporary directory when empty). Only ciphertext is written there.
	SpoolDir string
}

// Service is the policy enforcement point. It is safe for concurrent use.
type Service struct {
	blobs   blob.Store
	keys    recordkey.KeyService
	sealer  *recordkey.Sealer
	queue   *audit.Queue
	flusher *audit.Flusher
	cache   *decisionCache
	// refusals bounds the refused attempts reported to patients' trails (refusals.go).
	refusals refusalLimiter
	log      *slog.Logger
	now      func() time.Time
	spool    string // SpoolDir
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Blobs == nil || cfg.Keys == nil || cfg.Audit == nil {
		return nil, errors.New("gateway: blob store, key service and audit queue are required")
	}
	sealer, err := recordkey.NewSealer(cfg.Keys)
	if err != nil {
		return nil, fmt.Errorf("gateway: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{
		blobs: cfg.Blobs, keys: cfg.Keys, sealer: sealer, queue: cfg.Audit, flusher: cfg.Flusher,
		cache: newDecisionCache(cfg.DecisionTTL), log: log, now: time.Now, spool: cfg.SpoolDir,
	}, nil
}

// Content is a record version's plaintext: a FHIR resource (fhir.MediaType) or a document.
type Content struct {
	MediaType string
	Data      []byte
	// Body, set instead of Data when uploading a document, is read as it arrives: the
	// document is sealed and stored segment by segment and never held whole in memory, so
	// its size is bounded only by the reader. A FHIR resource is validated whole and must
	// come as Data. Content released by a read always has Data.
	Body io.Reader
}

// validateContent checks content to store, streamed or whole, and returns its category.
func validateContent(c Content, category string) (string, error) {
	if c.Body == nil {
		return validate(c, category)
	}
	switch {
	case c.MediaType == fhir.MediaType:
		return "", fmt.Errorf("%w: a FHIR resource is validated whole, not streamed", ErrInvalidContent)
	case !model.ValidMediaType(c.MediaType):
		return "", fmt.Errorf("%w: media type %q is not of the form type/subtype", ErrInvalidContent, c.MediaType)
	case category == "":
		return "", fmt.Errorf("%w: a document needs a category", ErrInvalidContent)
	}
	return category, nil // emptiness shows only once the body was read, in sealStream
}

// sealerFor seals c from memory, or as its body is read.
func (s *Service) sealerFor(c Content) sealFunc {
	if c.Body != nil {
		return s.sealStream(c.Body)
	}
	return s.sealBytes(c.Data)
}

// Upload is a new record for a patient.
type Upload struct {
	// RecordID is optional; a random UUID is used when empty.
	RecordID string
	// Owner is the patient's pseudonym.
	Owner string
	// Category is optional for FHIR content (derived from the resource) and required for
	// documents.
	Category string
	Content
}

// envelope is stored next to each ciphertext: what is needed to decrypt it, but nothing that
// decrypts it without the patient's key.
type envelope struct {
	WrappedKey []byte `json:"wrappedKey"`
	KeyVersion int    `json:"keyVersion"`
	MediaType  string `json:"mediaType"`
	Hash       string `json:"hash"`
}

// validate checks content and returns the ledger category it belongs in.
func validate(c Content, category string) (string, error) {
	if c.MediaType == fhir.MediaType {
		res, err := fhir.Validate(c.Data)
		if err != nil {
			return "", invalidContent(err)
		}
		if category == "" {
			category = res.Category
		}
	} else if err := fhir.ValidateDocument(c.MediaType, c.Data); err != nil {
		return "", invalidContent(err)
	} else if category == "" {
		return "", fmt.Errorf("%w: a document needs a category", ErrInvalidContent)
	}
	return category, nil
}

// invalidContent returns a validation failure, which matches ErrInvalidContent, with a message
// that says "invalid record content" once: first, whether or not the validator said it.
func invalidContent(err error) error {
	if strings.HasPrefix(err.Error(), ErrInvalidContent.Error()) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrInvalidContent, err)
}

func ciphertextKey(owner, hash string) string { return "records/" + owner + "/" + hash }
func envelopeKey(owner, recordID string, version int) string {
	return "keys/" + owner + "/" + recordID + "/" + strconv.Itoa(version)
}
func locatorFor(hash string) string { return "sha256:" + hash }

// aad binds a ciphertext to its patient, record and version, so a ciphertext cannot be passed
// off as another record's.
func aad(owner, recordID string, version int) []byte {
	return []byte("careledger/v1\x00" + owner + "\x00" + recordID + "\x00" + strconv.Itoa(version))
}

// ciphertext is a sealed record version on its way to the blob store.
type ciphertext struct {
	hash       string
	wrappedKey []byte
	keyVersion int
	// put writes the ciphertext under key; release frees what holds it.
	put     func(ctx context.Context, key string) error
	release func()
}

// sealFunc seals plaintext for a patient with the given additional data.
type sealFunc func(ctx context.Context, owner string, aad []byte) (*ciphertext, error)

// sealBytes seals content held in memory (FHIR resources, small documents).
func (s *Service) sealBytes(data []byte) sealFunc {
	return func(ctx context.Context, owner string, aad []byte) (*ciphertext, error) {
		sealed, err := s.sealer.Seal(ctx, owner, data, aad)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(sealed.Ciphertext)
		return &ciphertext{
			hash: hex.EncodeToString(sum[:]), wrappedKey: sealed.WrappedKey, keyVersion: sealed.KeyVersion,
			put:     func(ctx context.Context, key string) error { return s.blobs.Put(ctx, key, sealed.Ciphertext) },
			release: func() {},
		}, nil
	}
}

// streamPutter is a blob store that writes an object from a reader without holding it whole;
// blob.Disk and blob.S3 are.
type streamPutter interface {
	PutStream(ctx context.Context, key string, r io.Reader, size int64) error
}

// sealStream seals a document as it is read, segment by segment, into a temporary file in the
// spool directory (ciphertext only: the plaintext never touches the disk), hashing it on the
// way; the blob store then copies it from there. Neither the document nor its ciphertext is
// ever whole in memory, whatever its size.
func (s *Service) sealStream(body io.Reader) sealFunc {
	return func(ctx context.Context, owner string, aad []byte) (ct *ciphertext, err error) {
		f, err := os.CreateTemp(s.spool, "careledger-upload-*")
		if err != nil {
			return nil, fmt.Errorf("spool upload: %w", err)
		}
		release := func() {
			f.Close()
			os.Remove(f.Name())
		}
		defer func() {
			if err != nil {
				release()
			}
		}()
		h := sha256.New()
		w, err := s.sealer.NewWriter(ctx, owner, io.MultiWriter(f, h), aad)
		if err != nil {
			return nil, err
		}
		n, err := io.Copy(w, body)
		if err != nil {
			return nil, fmt.Errorf("read upload: %w", err)
		}
		if n == 0 {
			return nil, fmt.Errorf("%w: empty document", ErrInvalidContent)
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		size, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, fmt.Errorf("spool upload: %w", err)
		}
		put := func(ctx context.Context, key string) error {
			if _, err := f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if sp, ok := s.blobs.(streamPutter); ok {
				return sp.PutStream(ctx, key, f, size)
			}
			data, err := io.ReadAll(f)
			if err != nil {
				return err
			}
			return s.blobs.Put(ctx, key, data)
		}
		return &ciphertext{hash: hex.EncodeToString(h.Sum(nil)), wrappedKey: w.WrappedKey(), keyVersion: w.KeyVersion(), put: put, release: release}, nil
	}
}

// store seals content for version of the record and writes ciphertext and envelope. It
// returns the ciphertext hash and a function that removes what it wrote.
func (s *Service) store(ctx context.Context, owner, recordID string, version int, mediaType string, seal sealFunc) (string, func(), error) {
	ct, err := seal(ctx, owner, aad(owner, recordID, version))
	if err != nil {
		if errors.Is(err, recordkey.ErrKeyDestroyed) {
			return "", nil, errors.Join(ErrErased, err)
		}
		if errors.Is(err, ErrInvalidContent) {
			return "", nil, err
		}
		return "", nil, fmt.Errorf("encrypt record: %w", err)
	}
	defer ct.release()
	hash := ct.hash
	env, err := json.Marshal(envelope{WrappedKey: ct.wrappedKey, KeyVersion: ct.keyVersion, MediaType: mediaType, Hash: hash})
	if err != nil {
		return "", nil, err
	}
	ck, ek := ciphertextKey(owner, hash), envelopeKey(owner, recordID, version)
	undo := func() {
		// Use a fresh context: the caller's may be what failed.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, k := range []string{ck, ek} {
			if err := s.blobs.Delete(ctx, k); err != nil {
				// Blob keys and their errors name the patient's pseudonym: log neither.
				s.log.Warn("could not remove the blob of a refused write; it is never served", "record", recordID, "version", version)
			}
		}
	}
	if err := ct.put(ctx, ck); err != nil {
		return "", nil, fmt.Errorf("store ciphertext: %w", err)
	}
	if err := s.blobs.Put(ctx, ek, env); err != nil {
		undo()
		return "", nil, fmt.Errorf("store key envelope: %w", err)
	}
	return hash, undo, nil
}

// Upload encrypts and stores a new record, then registers it on the ledger as the caller. If
// the ledger refuses, what was stored is removed again; a blob without a ledger entry is never
// served in any case, because reads start from the ledger.
func (s *Service) Upload(ctx context.Context, as *ledger.Client, u Upload) (*model.Record, error) {
	category, err := validateContent(u.Content, u.Category)
	if err != nil {
		return nil, err
	}
	if !model.ValidPseudonym(u.Owner) {
		return nil, fmt.Errorf("%w: owner is not a patient pseudonym", ErrInvalidContent)
	}
	id := u.RecordID
	if id == "" {
		id = uuid.NewString()
	}
	if !model.ValidID(id) {
		return nil, fmt.Errorf("%w: record ID must be 1-128 letters, digits, '.', '_' or '-'", ErrInvalidContent)
	}
	hash, undo, err := s.store(ctx, u.Owner, id, 1, u.MediaType, s.sealerFor(u.Content))
	if err != nil {
		return nil, err
	}
	rec, err := as.RegisterRecord(ctx, model.NewRecord{ID: id, Owner: u.Owner, Category: category, Hash: hash, Locator: locatorFor(hash)})
	if err != nil {
		undo()
		return nil, fromLedger(err)
	}
	return rec, nil
}

// AppendVersion encrypts and stores a new version of a record and appends it on the ledger,
// chained to the version the ledger holds as latest.
func (s *Service) AppendVersion(ctx context.Context, as *ledger.Client, recordID string, c Content) (*model.Record, error) {
	return s.AppendVersionAt(ctx, as, recordID, 0, c)
}

// AppendVersionAt is AppendVersion for a writer who read version `after`: it appends only
// if that is still the latest (ErrStaleVersion otherwise); 0 means whatever is latest. The
// ledger's hash chain makes the check exact: a version appended by someone else in between
// makes the transaction fail with CONFLICT.
func (s *Service) AppendVersionAt(ctx context.Context, as *ledger.Client, recordID string, after int, c Content) (*model.Record, error) {
	rec, err := as.GetRecord(ctx, recordID)
	if err != nil {
		return nil, fromLedger(err)
	}
	if after != 0 && rec.Versions != after {
		return nil, fmt.Errorf("%w: record %s is at version %d", ErrStaleVersion, recordID, rec.Versions)
	}
	if _, err := validateContent(c, rec.Category); err != nil {
		return nil, err
	}
	hash, undo, err := s.store(ctx, rec.Owner, rec.ID, rec.Versions+1, c.MediaType, s.sealerFor(c))
	if err != nil {
		return nil, err
	}
	out, err := as.AppendVersion(ctx, model.NewVersion{RecordID: rec.ID, PrevHash: rec.LatestHash, Hash: hash, Locator: locatorFor(hash)})
	if err != nil {
		undo()
		return nil, fromLedger(err)
	}
	return out, nil
}

// Release is content released to a caller, with the ledger facts it was released on.
type Release struct {
	Record   model.Record
	Version  model.Version
	Decision model.Decision
	Content
	// Unavailable is set, in a history (ReadHistory), for a version the ledger allowed whose
	// stored content is missing (errors.Is(Unavailable, ErrContentMissing)); Content is then
	// empty. Every other release has it nil.
	Unavailable error
}

// Read is the policy enforcement point's read path. It asks the ledger once, as the caller
// (AuthorizeRead), whether the read is allowed now and which version it is; fetches the
// ciphertext; checks its hash against the ledger; unwraps the data key and decrypts; and
// durably queues the access for the patient's audit trail before returning the content.
// version 0 means the latest. Every refusal is a typed error and nothing is decrypted.
//
// The decision is never taken from the decision cache: each Read is decided by the ledger at
// the time of the read, which is the time its audit report records.
func (s *Service) Read(ctx context.Context, as *ledger.Client, recordID string, version int, purpose string, opts ...ReadOption) (*Release, error) {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.parse(); err != nil {
		return nil, err
	}
	if version < 0 {
		return nil, fmt.Errorf("%w: record %s has no version %d", ErrNotFound, recordID, version)
	}
	a, err := s.authorize(ctx, as, recordID, version, purpose)
	if err != nil {
		return nil, err
	}
	report := accessReport(&a.Decision, recordID, a.Version.Number, purpose, a.Decision.DecidedAt)
	if o.assertion != nil {
		// Checked before anything is decrypted.
		if err := o.attach(&report, a.Record.Owner); err != nil {
			return nil, err
		}
	}
	return s.release(ctx, &a.Decision, *a.Record, *a.Version, report)
}

// authorize asks the ledger, as the caller, whether it may read version of the record now and
// which version that is: one evaluation. An allowed decision is remembered for ReadPage (see
// decisionCache); a refusal forgets any remembered one at once.
func (s *Service) authorize(ctx context.Context, as *ledger.Client, recordID string, version int, purpose string) (*model.ReadAuthorization, error) {
	key := cacheKey(as.Key(), recordID, model.ActionRead, purpose)
	a, err := as.AuthorizeRead(ctx, recordID, version, purpose)
	if err != nil {
		return nil, fromLedger(err)
	}
	if !a.Decision.Allowed {
		s.cache.forget(key)
		s.reportRefusal(ctx, &a.Decision, recordID, purpose)
		return nil, fmt.Errorf("read record %s: %w", recordID, refusal(&a.Decision))
	}
	if a.Record == nil || a.Version == nil {
		return nil, fmt.Errorf("authorize read of record %s: the ledger's answer names no version", recordID)
	}
	s.cache.put(key, &a.Decision, s.now())
	return a, nil
}

// release opens one version the ledger allowed (d) and durably queues the access (report) for
// the patient's audit trail before returning the content. Read and ReadPage both release here.
func (s *Service) release(ctx context.Context, d *model.Decision, rec model.Record, v model.Version, report model.AccessReport) (*Release, error) {
	content, err := s.open(ctx, rec, v)
	if err != nil {
		var missing *missingError
		if errors.As(err, &missing) {
			missing.d = *d
		}
		return nil, err
	}
	if err := s.queue.Enqueue(ctx, report); err != nil {
		clear(content.Data)
		if errors.Is(err, audit.ErrReplayed) {
			return nil, fmt.Errorf("%w: %w", ErrAssertion, err)
		}
		return nil, fmt.Errorf("record access before release: %w", err)
	}
	if s.flusher != nil {
		s.flusher.Kick()
	}
	return &Release{Record: rec, Version: v, Decision: *d, Content: *content}, nil
}

// accessReport is the audit report of a read at time at, released on decision d.
func accessReport(d *model.Decision, recordID string, version int, purpose string, at time.Time) model.AccessReport {
	r := model.AccessReport{
		ID: uuid.NewString(), RecordID: recordID, Version: version, Action: model.ActionRead,
		Accessor: d.Accessor, Basis: d.Basis, GrantID: d.GrantID, Purpose: d.Purpose,
		AccessedAt: at,
	}
	if purpose != "" && r.Purpose == "" {
		r.Purpose = purpose
	}
	return r
}

// open fetches, verifies and decrypts one version.
func (s *Service) open(ctx context.Context, rec model.Record, v model.Version) (*Content, error) {
	if v.Locator != locatorFor(v.Hash) {
		return nil, fmt.Errorf("%w: unexpected locator for record %s version %d", ErrIntegrity, rec.ID, v.Number)
	}
	ct, err := s.blobs.Get(ctx, ciphertextKey(rec.Owner, v.Hash))
	if err != nil {
		return nil, s.missing(rec, v, err)
	}
	sum := sha256.Sum256(ct)
	if hex.EncodeToString(sum[:]) != v.Hash {
		s.log.Error("ciphertext hash mismatch: stored content does not match the ledger", "alert", "integrity", "record", rec.ID, "version", v.Number)
		return nil, fmt.Errorf("%w: record %s version %d", ErrIntegrity, rec.ID, v.Number)
	}
	raw, err := s.blobs.Get(ctx, envelopeKey(rec.Owner, rec.ID, v.Number))
	if err != nil {
		return nil, s.missing(rec, v, err)
	}
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil || env.Hash != v.Hash {
		return nil, fmt.Errorf("%w: key envelope of record %s version %d", ErrIntegrity, rec.ID, v.Number)
	}
	pt, err := s.sealer.Open(ctx, rec.Owner, env.WrappedKey, ct, aad(rec.Owner, rec.ID, v.Number))
	switch {
	case errors.Is(err, recordkey.ErrKeyDestroyed):
		return nil, errors.Join(ErrErased, err)
	case errors.Is(err, recordkey.ErrCorrupt):
		return nil, errors.Join(ErrIntegrity, err)
	case err != nil:
		return nil, fmt.Errorf("decrypt record %s: %w", rec.ID, err)
	}
	return &Content{MediaType: env.MediaType, Data: pt}, nil
}

// missing reports a failed fetch: an object the store does not have is missing content
// (ErrContentMissing), which the operator is alerted to restore; any other failure is the
// store's.
func (s *Service) missing(rec model.Record, v model.Version, err error) error {
	if errors.Is(err, blob.ErrNotFound) {
		// Blob keys name the patient's pseudonym: log the record and version only.
		s.log.Error("record content missing from the store: restore it from backup", "alert", "missing", "record", rec.ID, "version", v.Number)
		return &missingError{rec: rec, v: v}
	}
	return fmt.Errorf("fetch record %s: %w", rec.ID, err)
}

// missingError is ErrContentMissing for one version, with what ReadHistory lists it by.
type missingError struct {
	rec model.Record
	v   model.Version
	d   model.Decision
}

func (e *missingError) Error() string {
	return fmt.Sprintf("%v: record %s version %d", ErrContentMissing, e.rec.ID, e.v.Number)
}

func (e *missingError) Unwrap() error { return ErrContentMissing }

// ReadHistory reads the latest version of every record of the patient the caller may read, a
// page of records at a time; each read is decided by the ledger and audited as Read does (one
// listing evaluation, then one AuthorizeRead per record). category "" means all.
//
// A version whose stored content is missing degrades only itself: it is listed with
// Release.Unavailable set (ErrContentMissing) and no content, and the operator is alerted;
// every other failure fails the page, an integrity failure included.
//
// With WithAssertion, the member's assertion must name the patient (not a record): it covers
// each record read.
func (s *Service) ReadHistory(ctx context.Context, as *ledger.Client, patientID, category, purpose string, page ledger.Page, opts ...ReadOption) ([]Release, string, error) {
	hp, err := as.GetPatientHistory(ctx, patientID, category, page)
	if err != nil {
		return nil, "", fromLedger(err)
	}
	out := make([]Release, 0, len(hp.Records))
	for _, r := range hp.Records {
		rel, err := s.Read(ctx, as, r.Record.ID, 0, purpose, opts...)
		var missing *missingError
		if errors.As(err, &missing) {
			out = append(out, Release{Record: missing.rec, Version: missing.v, Decision: missing.d, Unavailable: err})
			continue
		}
		if err != nil {
			return nil, "", err
		}
		out = append(out, *rel)
	}
	return out, hp.Bookmark, nil
}

// Erase erases the calling patient: the ledger records the request (so every later access is
// refused), then CompleteErasure shreds the key and deletes the ciphertexts. The ledger keeps
// only hashes. Erase is idempotent, so it can be retried after a failure part-way.
func (s *Service) Erase(ctx context.Context, patient *ledger.Client) error {
	me, err := patient.WhoAmI(ctx)
	if err != nil {
		return fromLedger(err)
	}
	if _, err := patient.RequestErasure(ctx); err != nil && !errors.Is(err, &model.Error{Code: model.CodeErased}) {
		return fromLedger(err)
	}
	return s.CompleteErasure(ctx, patient, me.ID)
}

// CompleteErasure finishes the erasure of a patient whose erasure request is on the ledger
// (for example one signed on the patient's own device): it destroys the patient's key, so no
// copy of a ciphertext can ever be decrypted, and deletes their ciphertexts. as may be any
// identity with a role; the ledger, not the caller, says whether the patient was erased.
func (s *Service) CompleteErasure(ctx context.Context, as *ledger.Client, patientID string) error {
	if _, err := as.GetErasure(ctx, patientID); err != nil {
		return fmt.Errorf("complete erasure: %w", fromLedger(err))
	}
	s.cache.dropPatient(patientID)
	if err := s.keys.DestroyKey(ctx, patientID); err != nil {
		return fmt.Errorf("destroy patient key: %w", err)
	}
	for _, prefix := range []string{"records/" + patientID + "/", "keys/" + patientID + "/"} {
		keys, err := s.blobs.List(ctx, prefix)
		if err != nil {
			return fmt.Errorf("list patient blobs: %w", err)
		}
		for _, k := range keys {
			if err := s.blobs.Delete(ctx, k); err != nil {
				return fmt.Errorf("delete patient blob: %w", err)
			}
		}
	}
	return nil
}

// HandleEvent updates the gateway's view after a chaincode event: a revoke, erasure or
// consent change drops every cached decision about that patient, so the next request asks the
// ledger again.
func (s *Service) HandleEvent(name string, payload []byte) {
	switch name {
	case model.EventGrantRevoked, model.EventErasureRequested, model.EventResearchConsent, model.EventDelegateChanged:
	default:
		return
	}
	var ev model.Event
	if err := json.Unmarshal(payload, &ev); err != nil || ev.Patient == "" {
		// Cannot tell whom it concerns: forget everything rather than risk a stale allow.
		s.cache.dropAll()
		return
	}
	s.cache.dropPatient(ev.Patient)
}
