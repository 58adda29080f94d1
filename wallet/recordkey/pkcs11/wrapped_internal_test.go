package pkcs11

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/wallet/recordkey"
)

func FuzzParseWrapped(f *testing.F) {
	f.Add(wrapped{version: 1, iv: make([]byte, ivLen), sealed: make([]byte, recordkey.DataKeySize+tagLen)}.marshal())
	f.Add([]byte("CLP1"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := parseWrapped(b)
		if err != nil {
			require.ErrorIs(t, err, recordkey.ErrCorrupt)
			return
		}
		require.NotZero(t, w.version)
		require.Len(t, w.iv, ivLen)
		require.Len(t, w.sealed, recordkey.DataKeySize+tagLen)
		require.True(t, bytes.Equal(b, w.marshal()), "parse and marshal must round-trip")
	})
}
