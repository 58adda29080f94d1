package anonymizer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name string
		in   string
		cols []string
		rows int
	}{
		{"semicolon", "a;b\n1;2\n3;4\n", []string{"a", "b"}, 2},
		{"comma detected", "a,b,c\n1,2,3\n", []string{"a", "b", "c"}, 1},
		{"bom and spaces", "\ufeff a ; b \n1;2", []string{"a", "b"}, 1},
		{"quoted delimiter", "a;b\n\"x;y\";2\n", []string{"a", "b"}, 1},
		{"header only", "a;b\n", []string{"a", "b"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := anonymizer.ReadCSV(strings.NewReader(tc.in), anonymizer.CSVOptions{})
			require.NoError(t, err)
			require.Equal(t, tc.cols, tb.Columns())
			require.Equal(t, tc.rows, tb.NumRows())
		})
	}
}

func TestReadCSVRejectsMalformedNamingTheRow(t *testing.T) {
	tests := []struct {
		name string
		in   string
		opts anonymizer.CSVOptions
		row  int
	}{
		{"short record", "a;b\n1;2\n3\n", anonymizer.CSVOptions{}, 3},
		{"long record", "a;b\n1;2\n1;2\n1;2;3\n", anonymizer.CSVOptions{}, 4},
		{"empty", "", anonymizer.CSVOptions{}, 1},
		{"duplicate header", "a;a\n1;2\n", anonymizer.CSVOptions{}, 1},
		{"empty header name", "a;\n1;2\n", anonymizer.CSVOptions{}, 1},
		{"bare quote", "a;b\n1;2\n\"x\"y;2\n", anonymizer.CSVOptions{}, 3},
		{"too many rows", "a\n1\n2\n3\n", anonymizer.CSVOptions{MaxRows: 2}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := anonymizer.ReadCSV(strings.NewReader(tc.in), tc.opts)
			require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
			var re *anonymizer.RowError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Equal(t, tc.row, re.Row, "%v", err)
			require.Contains(t, err.Error(), "row")
		})
	}
}

func TestTableCSVRoundTrip(t *testing.T) {
	tb := table(t, "a;b", "x;1", "y,z;2")
	var buf bytes.Buffer
	require.NoError(t, tb.WriteCSV(&buf, ';'))
	back, err := anonymizer.ReadCSV(&buf, anonymizer.CSVOptions{})
	require.NoError(t, err)
	require.Equal(t, column(t, tb, "a"), column(t, back, "a"))
	require.Equal(t, []string{"x", "y,z"}, column(t, back, "a"))
}

func TestAttributeTypes(t *testing.T) {
	tb := table(t, "a;b", "1;2")
	require.ErrorIs(t, tb.SetType("zz", anonymizer.Sensitive), anonymizer.ErrUnknownAttribute)
	for _, s := range []string{"identifying", "qi", "sensitive", "insensitive"} {
		typ, err := anonymizer.ParseAttributeType(s)
		require.NoError(t, err)
		back, err := anonymizer.ParseAttributeType(typ.String())
		require.NoError(t, err)
		require.Equal(t, typ, back)
	}
	_, err := anonymizer.ParseAttributeType("secret")
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}

func FuzzReadCSV(f *testing.F) {
	f.Add("a;b\n1;2\n")
	f.Add("a,b\n\"x\",2\n")
	f.Add("a;b\n1\n")
	f.Add("\"")
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := anonymizer.ReadCSV(strings.NewReader(in), anonymizer.CSVOptions{MaxRows: 1000})
		if err != nil {
			require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
			return
		}
		// Whatever parses must survive a round trip unchanged.
		var buf bytes.Buffer
		require.NoError(t, tb.WriteCSV(&buf, ';'))
		back, err := anonymizer.ReadCSV(&buf, anonymizer.CSVOptions{Delimiter: ';'})
		require.NoError(t, err)
		require.Equal(t, tb.NumRows(), back.NumRows())
		for r := 0; r < tb.NumRows(); r++ {
			require.Equal(t, tb.Row(r), back.Row(r))
		}
	})
}
