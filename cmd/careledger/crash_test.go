package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestKillNineUnderLoadLosesNothing kills the whole stack (the test binary acting as
// `careledger up`) with SIGKILL under mixed load three times and checks every acknowledged
// upload, grant, revoke and read afterwards. `careledger bench crash` runs more rounds.
func TestKillNineUnderLoadLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("kill -9 run skipped in -short mode")
	}
	var out bytes.Buffer
	rep, err := crashRun(context.Background(), &out, filepath.Join(t.TempDir(), "data"), crashOptions{
		Rounds: 3, MaxLoad: 1500 * time.Millisecond, Exe: os.Args[0], Env: []string{"CARELEDGER_TEST_AS_MAIN=1"},
	})
	require.NoError(t, err, out.String())
	t.Log(out.String())
	require.Equal(t, 3, rep.Restarts)
	require.Zero(t, rep.Lost, "%v", rep.Problems)
	require.Positive(t, rep.Uploads)
	require.Positive(t, rep.Reads)
}
