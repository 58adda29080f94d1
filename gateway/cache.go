package gateway

import (
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
// What remains is the moment between a listing and its reads within one request, as it was
// when the listing's version chain was the authorisation.
type decisionCache struct {
	ttl     time.Duration
	entries *lru.Cache[string, cached] // safe for concurrent use
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
	return &decisionCache{ttl: ttl, entries: entries}
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

// dropPatient forgets every decision about the patient's records.
func (c *decisionCache) dropPatient(patient string) {
	for _, k := range c.entries.Keys() {
		if e, ok := c.entries.Peek(k); ok && e.decision.Owner == patient {
			c.entries.Remove(k)
		}
	}
}

// dropAll forgets every decision, for a change the gateway cannot attribute to one patient.
func (c *decisionCache) dropAll() { c.entries.Purge() }

func (c *decisionCache) forget(key string) { c.entries.Remove(key) }
