package anonymizer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func TestReadHierarchyCSV(t *testing.T) {
	h := hierarchy(t, "1;0-4;0-9;*", "5;5-9;0-9;*", "12;10-14;10-19;*")
	require.Equal(t, 4, h.Levels())
	require.Equal(t, 3, h.Height())
	require.Equal(t, []string{"1", "5", "12"}, h.Values())
	g, err := h.Generalize("12", 2)
	require.NoError(t, err)
	require.Equal(t, "10-19", g)
	_, err = h.Generalize("99", 1)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
	_, err = h.Generalize("1", 4)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)

	var buf bytes.Buffer
	require.NoError(t, h.WriteCSV(&buf))
	back, err := anonymizer.ReadHierarchyCSV(&buf)
	require.NoError(t, err)
	require.Equal(t, h.Rows(), back.Rows())
}

func TestReadHierarchyRejectsMalformedNamingTheRow(t *testing.T) {
	tests := []struct {
		name string
		in   string
		row  int
		msg  string
	}{
		{"missing level", "a;x;*\nb;x;*\nc;*\n", 3, "levels"},
		{"extra level", "a;x;*\nb;x;*;*\n", 2, "levels"},
		{"duplicate value", "a;x;*\nb;x;*\na;y;*\n", 3, "already defined"},
		{"inconsistent levels", "a;x;p;*\nb;x;q;*\n", 2, "inconsistent"},
		{"empty", "", 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := anonymizer.ReadHierarchyCSV(strings.NewReader(tc.in))
			require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
			if tc.row == 0 {
				return
			}
			var re *anonymizer.RowError
			require.True(t, errors.As(err, &re), "%v", err)
			require.Equal(t, tc.row, re.Row, "%v", err)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

func TestAnonymizeRejectsValueMissingFromHierarchy(t *testing.T) {
	tb := table(t, "age;x", "1;a", "2;a", "3;a")
	setTypes(t, tb, anonymizer.QuasiIdentifying, "age")
	h := hierarchy(t, "1;*", "2;*")
	_, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
		Hierarchies: map[string]*anonymizer.Hierarchy{"age": h},
		Criteria:    []anonymizer.Criterion{anonymizer.KAnonymity(2)},
	})
	var re *anonymizer.RowError
	require.True(t, errors.As(err, &re), "%v", err)
	require.Equal(t, 4, re.Row) // header is line 1, value "3" on line 4
	require.Contains(t, err.Error(), `"3"`)
}

func TestIntervalHierarchy(t *testing.T) {
	h, err := anonymizer.IntervalHierarchy([]string{"3", "17", "42", "17"}, 5, 10, 20)
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"3", "0-4", "0-9", "0-19", "*"},
		{"17", "15-19", "10-19", "0-19", "*"},
		{"42", "40-44", "40-49", "40-59", "*"},
	}, h.Rows())

	h, err = anonymizer.IntervalHierarchy([]string{"7.25", "8.1"}, 0.5, 1)
	require.NoError(t, err)
	require.Equal(t, []string{"7.25", "[7, 7.5)", "[7, 8)", "*"}, h.Rows()[0])

	_, err = anonymizer.IntervalHierarchy([]string{"1"}, 5, 7)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
	_, err = anonymizer.IntervalHierarchy([]string{"1", "x"}, 5)
	var re *anonymizer.RowError
	require.True(t, errors.As(err, &re))
	require.Equal(t, 2, re.Row)
}

func TestDateHierarchy(t *testing.T) {
	h, err := anonymizer.DateHierarchy([]string{"2024-05-17", "2024-12-31"}, time.DateOnly)
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"2024-05-17", "2024-05", "2024-Q2", "2024", "*"},
		{"2024-12-31", "2024-12", "2024-Q4", "2024", "*"},
	}, h.Rows())
	_, err = anonymizer.DateHierarchy([]string{"2024-13-01"}, time.DateOnly)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}

func TestPostalCodeHierarchyHIPAA(t *testing.T) {
	h, err := anonymizer.PostalCodeHierarchy([]string{"12345", "03601", "05999"}, anonymizer.HIPAARestrictedZIP3)
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"12345", "1234*", "123**", "12***", "1****", "*"},
		{"03601", "0360*", "000**", "00***", "0****", "*"},
		{"05999", "0599*", "000**", "00***", "0****", "*"},
	}, h.Rows())
	_, err = anonymizer.PostalCodeHierarchy([]string{"12345", "1234"}, nil)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}

func TestICD10Hierarchy(t *testing.T) {
	h, err := anonymizer.ICD10Hierarchy([]string{"E11.9", "I21.4", "C50.9", "S72.0", "Z38.0", "U07.1"})
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"E11.9", "E11", "E10-E14", "E00-E90", "*"},
		{"I21.4", "I21", "I20-I25", "I00-I99", "*"},
		{"C50.9", "C50", "C50-C50", "C00-D48", "*"},
		{"S72.0", "S72", "S70-S79", "S00-T98", "*"},
		{"Z38.0", "Z38", "Z30-Z39", "Z00-Z99", "*"},
		{"U07.1", "U07", "U00-U49", "U00-U99", "*"},
	}, h.Rows())
	for _, bad := range []string{"", "11.9", "E1", "E11.", "E11.12345", "É11"} {
		_, err := anonymizer.ICD10Hierarchy([]string{bad})
		require.ErrorIs(t, err, anonymizer.ErrMalformedInput, bad)
	}
}

func TestATCHierarchy(t *testing.T) {
	h, err := anonymizer.ATCHierarchy([]string{"C10AA05", "a10ba02"})
	require.NoError(t, err)
	require.Equal(t, [][]string{
		{"C10AA05", "C10AA", "C10A", "C10", "C", "*"},
		{"a10ba02", "A10BA", "A10B", "A10", "A", "*"},
	}, h.Rows())
	_, err = anonymizer.ATCHierarchy([]string{"C1AA05"})
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}

func FuzzReadHierarchyCSV(f *testing.F) {
	f.Add("a;x;*\nb;x;*\n")
	f.Add("a;x;p;*\nb;x;q;*\n")
	f.Add("a\n")
	f.Add("a;\"x\ny\";*\n")
	f.Fuzz(func(t *testing.T, in string) {
		h, err := anonymizer.ReadHierarchyCSV(strings.NewReader(in))
		if err != nil {
			require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
			return
		}
		// A hierarchy that loads is a tree: every value generalises at
		// every level, and equal labels have equal parents.
		type node struct {
			level int
			label string
		}
		parent := map[node]string{}
		for _, v := range h.Values() {
			for l := 1; l < h.Height(); l++ {
				a, err := h.Generalize(v, l)
				require.NoError(t, err)
				b, err := h.Generalize(v, l+1)
				require.NoError(t, err)
				key := node{l, a}
				if p, ok := parent[key]; ok {
					require.Equal(t, p, b)
				}
				parent[key] = b
			}
		}
	})
}
