package web

import (
	"sync"
	"time"
)

// throttle slows down passphrase guessing: after a few attempts that did not succeed for a key
// (a wallet name, or a client address), sign-in for that key waits, doubling up to a ceiling.
// An attempt counts when it starts, before the passphrase is checked, so that guesses sent in
// parallel are counted as they arrive rather than after all of them were checked; a
// successful one is forgotten again. The price is that anyone can delay one person's sign-in
// for a while, never block it for good.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*attempts
	free    int           // attempts allowed before waiting starts
	base    time.Duration // first wait
	ceiling time.Duration // longest wait
	// forget, when set, drops a key's count after this long without an attempt, so that the
	// occasional typos of the many people behind one address do not add up to a wait.
	forget time.Duration
}

type attempts struct {
	fails int
	until time.Time
	last  time.Time
}

// maxThrottled bounds each table, so that made-up names cannot fill memory.
const maxThrottled = 10000

// newThrottle is the throttle per wallet name: a name is what a guesser must attack.
func newThrottle() *throttle {
	return &throttle{entries: map[string]*attempts{}, free: 5, base: 30 * time.Second, ceiling: 15 * time.Minute}
}

// newAddressThrottle is the throttle per client address, against one client guessing many
// names. It is looser than the one per name, because the people of a hospital may all sign
// in through one proxy address.
func newAddressThrottle() *throttle {
	return &throttle{entries: map[string]*attempts{}, free: 30, base: 10 * time.Second, ceiling: 5 * time.Minute, forget: 15 * time.Minute}
}

// attempt counts an attempt for key and returns 0, or, when the key must still wait, how
// long, without counting it.
func (t *throttle) attempt(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.entries[key]
	if ok && now.Before(a.until) {
		return a.until.Sub(now)
	}
	if !ok {
		if len(t.entries) >= maxThrottled {
			t.sweepLocked(now)
		}
		if len(t.entries) >= maxThrottled {
			return 0 // under a flood of keys, fall back to the unlock concurrency limit
		}
		a = &attempts{}
		t.entries[key] = a
	}
	if t.forget > 0 && now.Sub(a.last) > t.forget {
		a.fails = 0
	}
	a.fails++
	a.last = now
	if over := a.fails - t.free; over > 0 {
		d := t.base << min(over-1, 10)
		a.until = now.Add(min(d, t.ceiling))
	}
	return 0
}

// wait returns how long sign-in for key must still wait (0: go ahead).
func (t *throttle) wait(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.entries[key]; ok && now.Before(a.until) {
		return a.until.Sub(now)
	}
	return 0
}

// refund takes back an attempt that checked nothing or succeeded, leaving any wait it started.
func (t *throttle) refund(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.entries[key]; ok && a.fails > 0 {
		a.fails--
	}
}

// succeeded forgets the key's attempts.
func (t *throttle) succeeded(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, key)
}

// sweepLocked drops keys with no attempt for longer than the ceiling.
func (t *throttle) sweepLocked(now time.Time) {
	for n, a := range t.entries {
		if now.Sub(a.last) > t.ceiling && !now.Before(a.until) {
			delete(t.entries, n)
		}
	}
}
