package anonymizer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

// adultDir finds the Adult data: $CARELEDGER_ADULT_DIR, else
// ../shared/data/adult next to the repository root (the directory holding
// go.mod). Tests skip when it is absent; the data is never copied here.
func adultDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("CARELEDGER_ADULT_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("Adult data not found: no go.mod above the package; set CARELEDGER_ADULT_DIR")
		}
		dir = parent
	}
	// The chaincode module has its own go.mod; the root is the outermost.
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "go.mod")); err == nil {
		dir = filepath.Dir(dir)
	}
	d := filepath.Join(dir, "..", "shared", "data", "adult")
	if _, err := os.Stat(filepath.Join(d, "adult.csv")); err != nil {
		t.Skipf("Adult data not found at %s; set CARELEDGER_ADULT_DIR to run this test", d)
	}
	return d
}

// table builds a table from ';'-separated lines, the first being the header.
func table(t testing.TB, lines ...string) *anonymizer.Table {
	t.Helper()
	tb, err := anonymizer.ReadCSV(strings.NewReader(strings.Join(lines, "\n")), anonymizer.CSVOptions{Delimiter: ';'})
	require.NoError(t, err)
	return tb
}

func hierarchy(t testing.TB, lines ...string) *anonymizer.Hierarchy {
	t.Helper()
	h, err := anonymizer.ReadHierarchyCSV(strings.NewReader(strings.Join(lines, "\n")))
	require.NoError(t, err)
	return h
}

func setTypes(t testing.TB, tb *anonymizer.Table, typ anonymizer.AttributeType, names ...string) {
	t.Helper()
	for _, n := range names {
		require.NoError(t, tb.SetType(n, typ))
	}
}

func column(t testing.TB, tb *anonymizer.Table, name string) []string {
	t.Helper()
	i, ok := tb.ColumnIndex(name)
	require.True(t, ok, name)
	out := make([]string, tb.NumRows())
	for r := range out {
		out[r] = tb.Value(r, i)
	}
	return out
}
