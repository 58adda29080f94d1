package gateway

import (
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	lru "github.com/hashicorp/golang-lru/v2"
)

// decisionCacheSize bounds the decisions kept: the least recently used go first.
const decisionCacheSize = 100_000

// decisionCache keeps the ledger's "allowed" read decisions for a short time. Refusals are
// never cached. Entries for a patient are dropped as soon as a revoke, erasure, consent or
// delegate change for that patient is seen on the ledger, a refusal drops the entry it
// contradicts, and no entry outlives the TTL or the grant it rests on.
//
// A cached decision can never widen access, because it is never the only word of the ledger
// on a release:
//   - Read and ReadHistory never consult it: each read is one AuthorizeRead evaluation, as the
//     caller, at the time of the read, which decides and names the version in one answer. They
//     only fill it.
//   - ReadPage consults it only for records of a listing (GetPatientHistory) that the ledger
//     evaluated for the same caller in the same request, and only for the version that listing
//     gave: the listing itself is a fresh ledger authorisation, record by record, so a revoked,
//     expired or erased access is not listed and nothing of it is read. The cache saves only
//     the per-record read decision (basis and grant for the audit report), and the ledger
//     re-decides each audit report at the time of the read when the queue is written.
//
// A listing also carries the ledger's read decision for each record it lists, made with the
// listing (RecordHistory.Read). ReadPage releases on it only while a cached decision would be
// reused (usable): within the time to live, before its grant ends, and made after the last
// drop for the patient, so a revoke seen on the ledger refuses it as it refuses a cached one.
//
// What remains is the moment between a listing and its reads within one request, as it was
// when the listing's version chain was the authorisation.
type decisionCache struct {
	ttl     time.Duration
	entries *lru.Cache[string, cached] // safe for concurrent use

	mu sync.Mutex
	// dropped is when each patient's decisions were last dropped, and droppedAll when every
	// decision was, so that a decision the ledger made before then (with a listing) is not
	// released on either.
	dropped    map[string]time.Time
	droppedAll time.Time
}

type cached struct {
	decision model.Decision
	expires  time.Time
}

func newDecisionCache(ttl time.Duration) *decisionCache {
	entries, err := lru.New[string, cached](decisionCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &decisionCache{ttl: ttl, entries: entries, dropped: map[string]time.Time{}}
}

func cacheKey(caller, recordID, action, purpose string) string {
	return caller + "\x00" + recordID + "\x00" + action + "\x00" + purpose
}

func (c *decisionCache) get(key string, now time.Time) (*model.Decision, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	e, ok := c.entries.Get(key)
	if !ok {
		return nil, false
	}
	if !now.Before(e.expires) {
		c.entries.Remove(key)
		return nil, false
	}
	d := e.decision
	return &d, true
}

func (c *decisionCache) put(key string, d *model.Decision, now time.Time) {
	if c.ttl <= 0 || !d.Allowed {
		return
	}
	exp := now.Add(c.ttl)
	if d.ValidUntil != nil && d.ValidUntil.Before(exp) {
		exp = *d.ValidUntil
	}
	c.entries.Add(key, cached{decision: *d, expires: exp})
}

// usable reports whether an allowing decision the ledger made at d.DecidedAt, outside the
// cache (with a listing), may be released on as a cached one would be: within the cache's
// time to live, before the grant it rests on ends, and made after the last revoke, erasure
// or consent change seen for the patient. With the cache off, no decision is reused.
func (c *decisionCache) usable(d *model.Decision, now time.Time) bool {
	if c.ttl <= 0 || !d.Allowed || !now.Before(d.DecidedAt.Add(c.ttl)) || d.ValidUntil != nil && !now.Before(*d.ValidUntil) {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.droppedAll.Before(d.DecidedAt) {
		return false
	}
	last, ok := c.dropped[d.Owner]
	return !ok || last.Before(d.DecidedAt)
}

// dropPatient forgets every decision about the patient's records, and remembers when.
func (c *decisionCache) dropPatient(patient string) {
	now := time.Now()
	c.mu.Lock()
	if len(c.dropped) > 10_000 {
		// Only drops within the time to live can still refuse a decision.
		for p, at := range c.dropped { // map order: irrelevant
			if now.Sub(at) > c.ttl {
				delete(c.dropped, p)
			}
		}
	}
	c.dropped[patient] = now
	c.mu.Unlock()
	for _, k := range c.entries.Keys() {
		if e, ok := c.entries.Peek(k); ok && e.decision.Owner == patient {
			c.entries.Remove(k)
		}
	}
}

// dropAll forgets every decision, for a change the gateway cannot attribute to one patient.
func (c *decisionCache) dropAll() {
	c.mu.Lock()
	c.droppedAll = time.Now()
	c.mu.Unlock()
	c.entries.Purge()
}

func (c *decisionCache) forget(key string) { c.entries.Remove(key) }
