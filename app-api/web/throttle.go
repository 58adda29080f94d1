package web

import (
	"sync"
	"time"
)

// throttle slows down passphrase guessing: after a few wrong passphrases for a wallet name,
// sign-in for that name waits, doubling up to a ceiling. It is kept per name rather than per
// address because addresses behind a hospital's proxy are shared, and a name is what a guesser
// must attack. The price is that anyone can delay one person's sign-in for a while, never
// block it for good.
type throttle struct {
	mu      sync.Mutex
	entries map[string]*attempts
	free    int           // failures allowed before waiting starts
	base    time.Duration // first wait
	ceiling time.Duration // longest wait
}

type attempts struct {
	fails int
	until time.Time
	last  time.Time
}

// maxThrottled bounds the table, so that made-up names cannot fill memory.
const maxThrottled = 10000

func newThrottle() *throttle {
	return &throttle{entries: map[string]*attempts{}, free: 5, base: 30 * time.Second, ceiling: 15 * time.Minute}
}

// wait returns how long sign-in for the name must still wait (0: go ahead).
func (t *throttle) wait(name string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.entries[name]
	if !ok || !now.Before(a.until) {
		return 0
	}
	return a.until.Sub(now)
}

// failed records a wrong passphrase for the name.
func (t *throttle) failed(name string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	a, ok := t.entries[name]
	if !ok {
		if len(t.entries) >= maxThrottled {
			t.sweepLocked(now)
		}
		if len(t.entries) >= maxThrottled {
			return // under a flood of names, fall back to the unlock concurrency limit
		}
		a = &attempts{}
		t.entries[name] = a
	}
	a.fails++
	a.last = now
	if over := a.fails - t.free; over > 0 {
		d := t.base << min(over-1, 10)
		a.until = now.Add(min(d, t.ceiling))
	}
}

// succeeded forgets the name's failures.
func (t *throttle) succeeded(name string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.entries, name)
}

// sweepLocked drops names with no failure for longer than the ceiling.
func (t *throttle) sweepLocked(now time.Time) {
	for n, a := range t.entries {
		if now.Sub(a.last) > t.ceiling && !now.Before(a.until) {
			delete(t.entries, n)
		}
	}
}
