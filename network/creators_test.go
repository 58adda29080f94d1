package network

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecentCreatorsKeepTheNewestAndTheFirst(t *testing.T) {
	r := newRecentCreators()
	r.add("tx0", []byte("alice"))
	r.add("tx0", []byte("mallory")) // a later transaction with the same ID does not count
	created, known := r.createdBy("tx0", []byte("alice"))
	require.True(t, known)
	require.True(t, created)
	created, _ = r.createdBy("tx0", []byte("mallory"))
	require.False(t, created)

	for i := range 2 * recentCreatorsSize {
		r.add(fmt.Sprint("tx", i+1), []byte("bob"))
	}
	_, known = r.createdBy("tx0", []byte("alice"))
	require.False(t, known, "the oldest are forgotten")
	created, known = r.createdBy(fmt.Sprint("tx", 2*recentCreatorsSize), []byte("bob"))
	require.True(t, known)
	require.True(t, created)
	created, known = r.createdBy(fmt.Sprint("tx", recentCreatorsSize+1), []byte("bob"))
	require.True(t, known, "at least the last %d are kept", recentCreatorsSize)
	require.True(t, created)
	require.LessOrEqual(t, len(r.cur)+len(r.prev), 2*recentCreatorsSize)
}
