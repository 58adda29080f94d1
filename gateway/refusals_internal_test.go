package gateway

import (
	"fmt"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

// TestRefusalReportsAreBounded: at most maxRefusalReports per accessor per window, at most
// maxRefusalAccessors accessors tracked, and a new window starts afresh.
func TestRefusalReportsAreBounded(t *testing.T) {
	var l refusalLimiter
	t0 := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	for i := range maxRefusalReports {
		require.True(t, l.allow("prober", t0.Add(time.Duration(i)*time.Second)))
	}
	require.False(t, l.allow("prober", t0.Add(time.Minute)))
	require.True(t, l.allow("someone else", t0.Add(time.Minute)))
	for i := range maxRefusalAccessors {
		l.allow(fmt.Sprint("a", i), t0.Add(2*time.Minute))
	}
	require.False(t, l.allow("one too many", t0.Add(2*time.Minute)))
	require.True(t, l.allow("prober", t0.Add(model.RefusalWindow)), "a new window")
	require.Positive(t, l.dropped)
}
