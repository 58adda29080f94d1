package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestDecisionCacheEvictsTheLeastRecentlyUsed: a full cache forgets its least recently used
// decision, not all of them, and dropping a patient forgets only that patient's.
func TestDecisionCacheEvictsTheLeastRecentlyUsed(t *testing.T) {
	c := newDecisionCache(time.Minute)
	now := time.Now()
	allow := func(owner string) *model.Decision { return &model.Decision{Allowed: true, Owner: owner} }
	for i := range decisionCacheSize {
		c.put(fmt.Sprint(i), allow("p"), now)
	}
	_, ok := c.get("0", now) // used: now the most recent
	require.True(t, ok)
	c.put("new", allow("q"), now)
	_, ok = c.get("1", now)
	require.False(t, ok, "the least recently used went")
	for _, k := range []string{"0", "2", "new"} {
		_, ok = c.get(k, now)
		require.True(t, ok, k)
	}
	require.Equal(t, decisionCacheSize, c.entries.Len())

	c.dropPatient("q")
	_, ok = c.get("new", now)
	require.False(t, ok)
	_, ok = c.get("0", now)
	require.True(t, ok)
	c.dropAll()
	require.Zero(t, c.entries.Len())

	c.put("denied", &model.Decision{Allowed: false}, now)
	_, ok = c.get("denied", now)
	require.False(t, ok, "refusals are never cached")
	c.put("late", allow("p"), now)
	_, ok = c.get("late", now.Add(time.Minute))
	require.False(t, ok, "no entry outlives the TTL")
}
