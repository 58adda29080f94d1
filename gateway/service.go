package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
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
		cache: newDecisionCache(cfg.DecisionTTL), log: log, now: time.Now,
	}, nil
}

// Content is a record version's plaintext: a FHIR resource (fhir.MediaType) or a document.
type Content struct {
	MediaType string
	Data      []byte
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
			return "", errors.Join(ErrInvalidContent, err)
		}
		if category == "" {
			category = res.Category
		}
	} else if err := fhir.ValidateDocument(c.MediaType, c.Data); err != nil {
		return "", errors.Join(ErrInvalidContent, err)
	} else if category == "" {
		return "", fmt.Errorf("%w: a document needs a category", ErrInvalidContent)
	}
	return category, nil
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

// store seals content for version of the record and writes ciphertext and envelope. It
// returns the ciphertext hash and a function that removes what it wrote.
func (s *Service) store(ctx context.Context, owner, recordID string, version int, c Content) (string, func(), error) {
	sealed, err := s.sealer.Seal(ctx, owner, c.Data, aad(owner, recordID, version))
	if err != nil {
		if errors.Is(err, recordkey.ErrKeyDestroyed) {
			return "", nil, errors.Join(ErrErased, err)
		}
		return "", nil, fmt.Errorf("encrypt record: %w", err)
	}
	sum := sha256.Sum256(sealed.Ciphertext)
	hash := hex.EncodeToString(sum[:])
	env, err := json.Marshal(envelope{WrappedKey: sealed.WrappedKey, KeyVersion: sealed.KeyVersion, MediaType: c.MediaType, Hash: hash})
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
	if err := s.blobs.Put(ctx, ck, sealed.Ciphertext); err != nil {
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
	category, err := validate(u.Content, u.Category)
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
	hash, undo, err := s.store(ctx, u.Owner, id, 1, u.Content)
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
	rec, err := as.GetRecord(ctx, recordID)
	if err != nil {
		return nil, fromLedger(err)
	}
	if _, err := validate(c, rec.Category); err != nil {
		return nil, err
	}
	hash, undo, err := s.store(ctx, rec.Owner, rec.ID, rec.Versions+1, c)
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
}

// Read is the policy enforcement point's read path. It asks the ledger, as the caller,
// whether the read is allowed now; fetches the ciphertext; checks its hash against the ledger;
// unwraps the data key and decrypts; and durably queues the access for the patient's audit
// trail before returning the content. version 0 means the latest. Every refusal is a typed
// error and nothing is decrypted.
func (s *Service) Read(ctx context.Context, as *ledger.Client, recordID string, version int, purpose string, opts ...ReadOption) (*Release, error) {
	var o readOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.parse(); err != nil {
		return nil, err
	}
	d, err := s.decide(ctx, as, recordID, model.ActionRead, purpose)
	if err != nil {
		return nil, err
	}
	// The metadata read is itself authorised by the ledger, so a cached decision can never
	// widen access: if the ledger now refuses, forget the decision and report why.
	hist, err := as.GetRecordHistory(ctx, recordID)
	if errors.Is(err, &model.Error{Code: model.CodeForbidden}) {
		s.cache.forget(cacheKey(as.Key(), recordID, model.ActionRead, purpose))
		if _, derr := s.decide(ctx, as, recordID, model.ActionRead, purpose); derr != nil {
			return nil, derr
		}
	}
	if err != nil {
		return nil, fromLedger(err)
	}
	if version == 0 {
		version = hist.Record.Versions
	}
	if version < 1 || version > len(hist.Versions) {
		return nil, fmt.Errorf("%w: record %s has no version %d", ErrNotFound, recordID, version)
	}
	v := hist.Versions[version-1]
	report := accessReport(d, recordID, version, purpose)
	if o.assertion != nil {
		// Checked before anything is decrypted.
		if o.assertion.Covers(&report, hist.Record.Owner) != nil {
			// A cached decision may be older than the assertion's window: ask the ledger now.
			s.cache.forget(cacheKey(as.Key(), recordID, model.ActionRead, purpose))
			if d, err = s.decide(ctx, as, recordID, model.ActionRead, purpose); err != nil {
				return nil, err
			}
			report = accessReport(d, recordID, version, purpose)
		}
		if err := o.attach(&report, hist.Record.Owner); err != nil {
			return nil, err
		}
	}
	content, err := s.open(ctx, hist.Record, v)
	if err != nil {
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
	return &Release{Record: hist.Record, Version: v, Decision: *d, Content: *content}, nil
}

// accessReport is the audit report of a read released on decision d.
func accessReport(d *model.Decision, recordID string, version int, purpose string) model.AccessReport {
	r := model.AccessReport{
		ID: uuid.NewString(), RecordID: recordID, Version: version, Action: model.ActionRead,
		Accessor: d.Accessor, Basis: d.Basis, GrantID: d.GrantID, Purpose: d.Purpose,
		// The release rests on the ledger's decision at this time.
		AccessedAt: d.DecidedAt,
	}
	if purpose != "" && r.Purpose == "" {
		r.Purpose = purpose
	}
	return r
}

// decide returns the ledger's decision for the caller, from the cache when it is fresh.
func (s *Service) decide(ctx context.Context, as *ledger.Client, recordID, action, purpose string) (*model.Decision, error) {
	key := cacheKey(as.Key(), recordID, action, purpose)
	d, ok := s.cache.get(key, s.now())
	if !ok {
		var err error
		if d, err = as.CheckAccess(ctx, recordID, action, purpose); err != nil {
			return nil, fromLedger(err)
		}
		s.cache.put(key, d, s.now())
	}
	if !d.Allowed {
		s.reportRefusal(ctx, d, recordID, purpose)
		return nil, fmt.Errorf("read record %s: %w", recordID, refusal(d))
	}
	return d, nil
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
		s.log.Error("ciphertext hash mismatch", "record", rec.ID, "version", v.Number)
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

func (s *Service) missing(rec model.Record, v model.Version, err error) error {
	if errors.Is(err, blob.ErrNotFound) {
		return fmt.Errorf("%w: content of record %s version %d is missing", ErrIntegrity, rec.ID, v.Number)
	}
	return fmt.Errorf("fetch record %s: %w", rec.ID, err)
}

// ReadHistory reads the latest version of every record of the patient the caller may read, a
// page of records at a time; each read is audited like any other. category "" means all.
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
		s.cache.mu.Lock()
		s.cache.entries = map[string]cached{}
		s.cache.mu.Unlock()
		return
	}
	s.cache.dropPatient(ev.Patient)
}
