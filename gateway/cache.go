package gateway

import (
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

// decisionCache keeps the ledger's "allowed" answers for a short time, so repeated reads do not
// each cost an evaluation. Refusals are never cached. Entries for a patient are dropped as soon
// as a revoke, erasure or consent change for that patient is seen on the ledger, and never
// outlive the grant they rest on.
type decisionCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	entries map[string]cached
	// dropped is when each patient's decisions were last dropped, so that a decision the
	// ledger made before then (with a listing) is not released on either.
	dropped map[string]time.Time
}

type cached struct {
	decision model.Decision
	expires  time.Time
}

func newDecisionCache(ttl time.Duration) *decisionCache {
	return &decisionCache{ttl: ttl, entries: map[string]cached{}, dropped: map[string]time.Time{}}
}

func cacheKey(caller, recordID, action, purpose string) string {
	return caller + "\x00" + recordID + "\x00" + action + "\x00" + purpose
}

func (c *decisionCache) get(key string, now time.Time) (*model.Decision, bool) {
	if c.ttl <= 0 {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok || !now.Before(e.expires) {
		delete(c.entries, key)
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) > 100_000 {
		c.entries = map[string]cached{} // bound memory; the ledger is the truth
	}
	c.entries[key] = cached{decision: *d, expires: exp}
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
	last, ok := c.dropped[d.Owner]
	return !ok || last.Before(d.DecidedAt)
}

// dropPatient forgets every decision about the patient's records, and remembers when.
func (c *decisionCache) dropPatient(patient string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.dropped) > 10_000 {
		// Only drops within the time to live can still refuse a decision.
		for p, at := range c.dropped {
			if now.Sub(at) > c.ttl {
				delete(c.dropped, p)
			}
		}
	}
	c.dropped[patient] = now
	for k, e := range c.entries {
		if e.decision.Owner == patient {
			delete(c.entries, k)
		}
	}
}

func (c *decisionCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
