package web

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestThrottleDoublesUpToTheCeiling(t *testing.T) {
	th := newThrottle()
	at := now
	waits := []time.Duration{}
	for range 12 {
		th.failed("a", at)
		waits = append(waits, th.wait("a", at))
	}
	require.Equal(t, []time.Duration{0, 0, 0, 0, 0,
		30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 15 * time.Minute, 15 * time.Minute}, waits)
	require.Zero(t, th.wait("b", at))
	th.succeeded("a")
	require.Zero(t, th.wait("a", at))
}

func TestThrottleTableIsBounded(t *testing.T) {
	th := newThrottle()
	for i := range maxThrottled + 100 {
		th.failed(fmt.Sprint("name", i), now)
	}
	require.LessOrEqual(t, len(th.entries), maxThrottled)
	// Old entries make room again.
	th.failed("late", now.Add(time.Hour))
	require.Contains(t, th.entries, "late")
}
