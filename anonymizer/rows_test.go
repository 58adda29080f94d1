package anonymizer_test

import (
	"errors"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func TestRowBuilder(t *testing.T) {
	ref := time.Date(2026, 6, 30, 0, 0, 0, 0, time.UTC)
	b, err := anonymizer.NewRowBuilder(ref,
		anonymizer.Field{Name: "age", Kind: anonymizer.FieldAge, Type: anonymizer.QuasiIdentifying},
		anonymizer.Field{Name: "sex", Kind: anonymizer.FieldSex, Type: anonymizer.QuasiIdentifying},
		anonymizer.Field{Name: "zip", Kind: anonymizer.FieldPostalCode, Type: anonymizer.QuasiIdentifying},
		anonymizer.Field{Name: "dx", Kind: anonymizer.FieldICD10, Type: anonymizer.Sensitive},
		anonymizer.Field{Name: "drug", Kind: anonymizer.FieldATC},
		anonymizer.Field{Name: "admitted", Kind: anonymizer.FieldDate, Type: anonymizer.QuasiIdentifying},
		anonymizer.Field{Name: "hba1c", Kind: anonymizer.FieldNumber, Decimals: 1},
	)
	require.NoError(t, err)
	require.NoError(t, b.Add(anonymizer.Row{
		"age": time.Date(1960, 7, 1, 0, 0, 0, 0, time.UTC), "sex": "Female", "zip": "123 45",
		"dx": "e119", "drug": "a10ba02", "admitted": time.Date(2026, 3, 2, 15, 4, 0, 0, time.UTC), "hba1c": 7.25,
	}))
	require.Equal(t, []string{"65", "female", "12345", "E11.9", "A10BA02", "2026-03-02", "7.2"}, b.Table().Row(0))
	typ, err := b.Table().Type("dx")
	require.NoError(t, err)
	require.Equal(t, anonymizer.Sensitive, typ)

	err = b.Add(anonymizer.Row{"age": ref.AddDate(0, 0, 1), "sex": "x", "zip": "1", "dx": "??", "drug": "A", "admitted": "today"})
	var re *anonymizer.RowError
	require.True(t, errors.As(err, &re))
	require.Equal(t, 2, re.Row)
	for _, f := range []string{"age", "sex", "dx", "admitted", "hba1c"} {
		require.Contains(t, err.Error(), `"`+f+`"`)
	}
	require.Equal(t, 1, b.Table().NumRows(), "a bad record appends nothing")
}

func TestAgeAt(t *testing.T) {
	ref := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		birth time.Time
		want  int
	}{
		{time.Date(2000, 3, 1, 0, 0, 0, 0, time.UTC), 26},
		{time.Date(2000, 3, 2, 0, 0, 0, 0, time.UTC), 25},
		{time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), 2},
		{ref, 0},
	} {
		got, err := anonymizer.AgeAt(tc.birth, ref)
		require.NoError(t, err)
		require.Equal(t, tc.want, got, tc.birth)
	}
	_, err := anonymizer.AgeAt(ref.AddDate(0, 0, 1), ref)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
}
