package web

import (
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestThrottleDoublesUpToTheCeiling(t *testing.T) {
	th := newThrottle()
	at := now
	waits := []time.Duration{}
	for range 12 {
		require.Zero(t, th.attempt("a", at))
		w := th.wait("a", at)
		waits = append(waits, w)
		if w > 0 {
			require.Equal(t, w, th.attempt("a", at), "refused while waiting, and not counted")
		}
		at = at.Add(w)
	}
	require.Equal(t, []time.Duration{0, 0, 0, 0, 0,
		30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}, waits)
	require.Zero(t, th.attempt("b", at))
	th.succeeded("a")
	require.Zero(t, th.attempt("a", at))
}

func TestThrottleCountsAttemptsBeforeTheyFinish(t *testing.T) {
	th := newThrottle()
	let := 0
	for range 100 { // all at once: none has failed yet
		if th.attempt("a", now) == 0 {
			let++
		}
	}
	require.Equal(t, th.free+1, let, "the attempt after the free ones starts the wait")
}

func TestAddressThrottleForgetsOldTypos(t *testing.T) {
	th := newAddressThrottle()
	at := now
	for range 3 * th.free {
		require.Zero(t, th.attempt("10.0.0.1", at), "one typo every 20 minutes never waits")
		at = at.Add(20 * time.Minute)
	}
	for range th.free {
		require.Zero(t, th.attempt("10.0.0.1", at))
	}
	require.Zero(t, th.attempt("10.0.0.1", at))
	require.Positive(t, th.attempt("10.0.0.1", at))
}

func TestThrottleTableIsBounded(t *testing.T) {
	th := newThrottle()
	for i := range maxThrottled + 100 {
		th.attempt(fmt.Sprint("name", i), now)
	}
	require.LessOrEqual(t, len(th.entries), maxThrottled)
	// Old entries make room again.
	th.attempt("late", now.Add(time.Hour))
	require.Contains(t, th.entries, "late")
}

// FuzzClientAddress: the throttle key of a connection is its host alone, whatever the remote
// address looks like, so that one client cannot get a fresh count per port.
func FuzzClientAddress(f *testing.F) {
	for _, s := range []string{"192.0.2.1:443", "[2001:db8::1]:5000", "2001:db8::1", "", "pipe", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, remote string) {
		got := clientAddress(&http.Request{RemoteAddr: remote})
		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			return // net/http always sets host:port; anything else is kept whole
		}
		if got != host {
			t.Fatalf("%q: key %q, want the host %q", remote, got, host)
		}
		if other := clientAddress(&http.Request{RemoteAddr: net.JoinHostPort(host, "1")}); other != got {
			t.Fatalf("%q: another port of the same host gave %q, not %q", remote, other, got)
		}
	})
}
