package datadir_test

import (
	"context"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/internal/datadir"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

var update = flag.Bool("update", false, "regenerate testdata/v1, a data directory in the previous release's format")

// TestGeneratePreviousRelease writes testdata/v1 with -update: the data directory layout of
// the release before format.json, as far as it matters here (the ledger's block log and the
// consortium; no private key is kept in the repository).
func TestGeneratePreviousRelease(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate testdata/v1")
	}
	dir := t.TempDir()
	cc, err := contract.NewChaincode()
	require.NoError(t, err)
	n, err := network.New(network.Config{Dir: filepath.Join(dir, "network"), ListenAddr: "127.0.0.1:0", Chaincode: cc})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	require.NoError(t, n.Close())
	out := filepath.Join("testdata", "v1")
	require.NoError(t, os.RemoveAll(out))
	require.NoError(t, os.MkdirAll(filepath.Join(out, "network", "ledger"), 0o755))
	f, err := os.Create(filepath.Join(out, "network", "ledger", "blocks.log"))
	require.NoError(t, err)
	_, err = network.SnapshotBlockLog(context.Background(), filepath.Join(dir, "network"), f)
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.NoError(t, os.WriteFile(filepath.Join(out, "recordkeys.custodian"), []byte("local key store\n"), 0o644))
}

// copyTree copies testdata into a temporary directory the test may change.
func copyTree(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.CopyFS(to, os.DirFS(from)))
	return to
}

func TestMigratesThePreviousRelease(t *testing.T) {
	dir := copyTree(t, filepath.Join("testdata", "v1"))
	f, err := datadir.Read(dir)
	require.NoError(t, err)
	require.Equal(t, 1, f.Version)
	require.NoError(t, datadir.Migrate(context.Background(), dir, nil, nil))
	f, err = datadir.Read(dir)
	require.NoError(t, err)
	require.Equal(t, datadir.Format{Version: datadir.Current}, f)
	h, err := network.RebuildIndex(filepath.Join(dir, "network"), nil)
	require.NoError(t, err, "the previous release's ledger opens")
	require.EqualValues(t, 1, h)
	require.NoError(t, datadir.Migrate(context.Background(), dir, nil, nil), "a migrated directory stays as it is")
}

func TestFirstStartRecordsTheFormat(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new")
	require.NoError(t, datadir.Migrate(context.Background(), dir, nil, nil))
	b, err := os.ReadFile(filepath.Join(dir, datadir.FileName))
	require.NoError(t, err)
	require.JSONEq(t, `{"version":2}`, string(b))
}

func TestRefusesANewerDirectory(t *testing.T) {
	for name, content := range map[string]string{
		"newer":                 `{"version":99}`,
		"newer still migrating": `{"version":2,"migrating":true}`,
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, datadir.FileName), []byte(content), 0o600))
			err := datadir.Migrate(context.Background(), dir, nil, nil)
			var newer *datadir.NewerError
			require.ErrorAs(t, err, &newer)
			require.Contains(t, err.Error(), "written by a newer CareLedger")
		})
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, datadir.FileName), []byte(`{"version":`), 0o600))
	require.ErrorContains(t, datadir.Migrate(context.Background(), dir, nil, nil), "malformed")
}

var errCrash = errors.New("injected crash")

// TestCrashDuringMigration interrupts a two-file migration between its files: the directory
// says a migration is under way, and the next start finishes it.
func TestCrashDuringMigration(t *testing.T) {
	dir := copyTree(t, filepath.Join("testdata", "v1"))
	crash := true
	steps := []datadir.Step{
		{Name: "v1 to v2", Apply: func(context.Context, string) error { return nil }},
		{Name: "split a file in two", Apply: func(_ context.Context, dir string) error {
			if err := os.WriteFile(filepath.Join(dir, "a"), []byte("a"), 0o600); err != nil {
				return err
			}
			if crash {
				return errCrash
			}
			return os.WriteFile(filepath.Join(dir, "b"), []byte("b"), 0o600)
		}},
	}
	require.ErrorIs(t, datadir.Migrate(context.Background(), dir, steps, nil), errCrash)
	f, err := datadir.Read(dir)
	require.NoError(t, err)
	require.Equal(t, datadir.Format{Version: 2, Migrating: true}, f, "the half-done step is recorded")
	_, err = os.Stat(filepath.Join(dir, "b"))
	require.ErrorIs(t, err, fs.ErrNotExist)

	crash = false
	require.NoError(t, datadir.Migrate(context.Background(), dir, steps, nil))
	f, err = datadir.Read(dir)
	require.NoError(t, err)
	require.Equal(t, datadir.Format{Version: 3}, f)
	require.FileExists(t, filepath.Join(dir, "b"))
}
