package backup

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRestoreLeavesNothingBehindOnBadInput: a refused archive creates neither the data
// directory nor its work directory, and an existing directory is never restored over.
func TestRestoreLeavesNothingBehindOnBadInput(t *testing.T) {
	notALedger := entry{name: blockLogPath, data: "not a block log"}
	m := manifestOf(FormatVersion, notALedger)
	m.Ledger.Height = 1
	newer := manifestOf(FormatVersion, notALedger)
	newer.Components = map[string]int{"blocklog": 99}
	tests := []struct {
		name    string
		archive []byte
		want    error
	}{
		{"tampered", craft(t, []entry{{name: blockLogPath, data: "tampered"}}, m), ErrIntegrity},
		{"ledger shorter than its manifest", craft(t, []entry{notALedger}, m), ErrIntegrity},
		{"newer component", craft(t, []entry{notALedger}, newer), ErrFormat},
		{"path traversal", craft(t, []entry{{name: "../../etc/cron.d/x", data: "x"}}, m), ErrUnsafePath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "data")
			_, err := Restore(context.Background(), bytes.NewReader(tt.archive), RestoreOptions{DataDir: dir})
			require.ErrorIs(t, err, tt.want)
			left, err := os.ReadDir(parent)
			require.NoError(t, err)
			require.Empty(t, left)
		})
	}
	t.Run("existing directory", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Restore(context.Background(), bytes.NewReader(nil), RestoreOptions{DataDir: dir})
		require.ErrorContains(t, err, "exists")
	})
}
