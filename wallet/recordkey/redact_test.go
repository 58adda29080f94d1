package recordkey_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"

	"github.com/careledger/careledger/wallet/recordkey/recordkeytest"
	"github.com/stretchr/testify/require"
)

func TestKeysNeverReachLogs(t *testing.T) {
	l := openLocal(t, t.TempDir())
	dk, err := l.NewDataKey(context.Background(), recordkeytest.NewPatientID(t))
	require.NoError(t, err)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "dk", dk, "store", l)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("x", "dk", dk, "store", l)
	fmt.Fprintf(&buf, "%v %+v %#v %s %v %+v %#v", dk, dk, dk, dk, l, l, l)
	out := buf.String()
	require.Contains(t, out, "redacted")
	require.NotContains(t, out, hex.EncodeToString(dk.Plaintext))
	require.NotContains(t, out, fmt.Sprint(dk.Plaintext))
	require.NotContains(t, out, fmt.Sprint(dk.Plaintext[:4])[1:8])
}
