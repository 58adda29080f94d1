package network_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func TestIssueEphemeralWritesNothing(t *testing.T) {
	dir := t.TempDir()
	cons := network.DefaultConsortium()
	require.NoError(t, network.GenerateMaterial(dir, cons))
	o, _ := cons.Org(network.PatientsMSP)
	is, err := network.NewIssuer(dir, o)
	require.NoError(t, err)
	before := countFiles(t, dir)
	u, err := is.IssueEphemeral(network.UserSpec{Name: "demo", Role: network.RolePatient})
	require.NoError(t, err)
	require.Equal(t, before, countFiles(t, dir))
	require.Equal(t, network.PatientsMSP, u.MSPID)
	require.Len(t, u.EnrollmentID, 32)
	require.NotNil(t, u.Key)
	require.Empty(t, u.Dir)
}

func countFiles(t *testing.T, dir string) int {
	n := 0
	require.NoError(t, filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n++
		}
		return err
	}))
	return n
}
