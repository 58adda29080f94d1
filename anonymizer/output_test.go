package anonymizer_test

import (
	"bytes"
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/parquet-go/parquet-go"
	"github.com/stretchr/testify/require"
)

func TestWriteParquetRoundTrip(t *testing.T) {
	tb, hs := golden(t)
	res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}})
	require.NoError(t, err)
	var buf bytes.Buffer
	require.NoError(t, res.Output.WriteParquet(&buf))

	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, int64(4), f.NumRows())
	type rec struct {
		Age       string `parquet:"age"`
		Sex       string `parquet:"sex"`
		Diagnosis string `parquet:"diagnosis"`
	}
	rows, err := parquet.Read[rec](bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	require.NoError(t, err)
	require.Equal(t, []rec{{"20-29", "*", "flu"}, {"20-29", "*", "cold"}, {"30-39", "*", "flu"}, {"30-39", "*", "cold"}}, rows)
}
