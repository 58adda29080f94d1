package network_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func evalJSON(t *testing.T, c interface {
	EvaluateTransaction(string, ...string) ([]byte, error)
}, v any, fn string, args ...string) {
	t.Helper()
	out, err := c.EvaluateTransaction(fn, args...)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(out, v))
}

func TestStubQueries(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := contractFor(t, n, network.PatientsMSP, "gateway")
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		_, err := c.SubmitTransaction("put", k, "v"+k)
		require.NoError(t, err)
	}
	for _, ck := range [][]string{{"rec", "p1", "r1", "x1"}, {"rec", "p1", "r2", "x2"}, {"rec", "p2", "r3", "x3"}, {"other", "z", "x4"}} {
		_, err := c.SubmitTransaction("putc", ck...)
		require.NoError(t, err)
	}

	t.Run("range", func(t *testing.T) {
		tests := []struct {
			start, end string
			want       []kv
		}{
			{"b", "d", []kv{{"b", "vb"}, {"c", "vc"}}},
			{"", "", []kv{{"a", "va"}, {"b", "vb"}, {"c", "vc"}, {"d", "vd"}, {"e", "ve"}}}, // composite keys excluded
			{"d", "", []kv{{"d", "vd"}, {"e", "ve"}}},
			{"x", "z", []kv{}},
		}
		for _, tt := range tests {
			var got []kv
			evalJSON(t, c, &got, "range", tt.start, tt.end)
			require.Equal(t, tt.want, got, "range [%q, %q)", tt.start, tt.end)
		}
	})
	t.Run("pagination follows Fabric bookmarks", func(t *testing.T) {
		var p page
		evalJSON(t, c, &p, "rangepage", "", "", "2", "")
		require.Equal(t, page{KVs: []kv{{"a", "va"}, {"b", "vb"}}, Bookmark: "c", Count: 2}, p)
		evalJSON(t, c, &p, "rangepage", "", "", "2", p.Bookmark)
		require.Equal(t, page{KVs: []kv{{"c", "vc"}, {"d", "vd"}}, Bookmark: "e", Count: 2}, p)
		evalJSON(t, c, &p, "rangepage", "", "", "2", p.Bookmark)
		require.Equal(t, page{KVs: []kv{{"e", "ve"}}, Bookmark: "", Count: 1}, p)

		var cp page
		evalJSON(t, c, &cp, "partialpage", "rec", "2", "")
		require.Len(t, cp.KVs, 2)
		require.Equal(t, []string{"x1", "x2"}, []string{cp.KVs[0].Value, cp.KVs[1].Value})
		evalJSON(t, c, &cp, "partialpage", "rec", "2", cp.Bookmark)
		require.Len(t, cp.KVs, 1)
		require.Equal(t, "x3", cp.KVs[0].Value)
		require.Empty(t, cp.Bookmark)
	})
	t.Run("partial composite key", func(t *testing.T) {
		var got []kv
		evalJSON(t, c, &got, "partial", "rec", "p1")
		require.Equal(t, []kv{{`["p1","r1"]`, "x1"}, {`["p1","r2"]`, "x2"}}, got)
		evalJSON(t, c, &got, "partial", "rec")
		require.Len(t, got, 3)
		evalJSON(t, c, &got, "partial", "other")
		require.Equal(t, []kv{{`["z"]`, "x4"}}, got)
	})
	t.Run("history newest first", func(t *testing.T) {
		tx1, err := c.SubmitTransaction("put", "h", "1")
		require.NoError(t, err)
		tx2, err := c.SubmitTransaction("put", "h", "2")
		require.NoError(t, err)
		_, err = c.SubmitTransaction("del", "h")
		require.NoError(t, err)
		var got []mod
		evalJSON(t, c, &got, "history", "h")
		require.Len(t, got, 3)
		require.True(t, got[0].IsDelete)
		require.Equal(t, mod{TxID: string(tx2), Value: "2"}, got[1])
		require.Equal(t, mod{TxID: string(tx1), Value: "1"}, got[2])
		v, err := c.EvaluateTransaction("get", "h")
		require.NoError(t, err)
		require.Empty(t, v)
	})
	t.Run("tx info", func(t *testing.T) {
		var got map[string]any
		evalJSON(t, c, &got, "txinfo")
		require.Equal(t, network.DefaultChannel, got["channel"])
		require.Len(t, got["txid"], 64)
		require.NotZero(t, got["seconds"])
	})
}

func TestOversizedKeyRefused(t *testing.T) {
	n := startNode(t, t.TempDir())
	c := contractFor(t, n, network.ClinicMSP, "clinician1")
	_, err := c.SubmitTransaction("put", strings.Repeat("k", network.MaxKeySize+1), "v")
	requireEndorseError(t, err, "longer than the maximum")
	_, err = c.SubmitTransaction("put", "fine", "v")
	require.NoError(t, err, "the node keeps committing")
}
