package anonymizer

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/parquet-go/parquet-go"
)

// WriteParquet writes the table as a Parquet file: one dictionary-encoded,
// zstd-compressed string column per attribute. Parquet groups order columns
// by name, so readers should address columns by name, not position.
func (t *Table) WriteParquet(w io.Writer) error {
	group := parquet.Group{}
	for _, c := range t.cols {
		group[c.name] = parquet.Encoded(parquet.String(), &parquet.RLEDictionary)
	}
	schema := parquet.NewSchema("cohort", group)
	// Leaf order in the schema is by name; map it to table columns.
	names := t.Columns()
	sorted := slices.Clone(names)
	slices.Sort(sorted)
	src := make([]int, len(sorted))
	for i, n := range sorted {
		src[i] = slices.Index(names, n)
	}
	pw := parquet.NewWriter(w, schema, parquet.Compression(&parquet.Zstd))
	const batch = 4096
	rows := make([]parquet.Row, 0, batch)
	flush := func() error {
		if _, err := pw.WriteRows(rows); err != nil {
			return fmt.Errorf("write parquet: %w", err)
		}
		rows = rows[:0]
		return nil
	}
	for r := 0; r < t.rows; r++ {
		row := make(parquet.Row, len(src))
		for i, ci := range src {
			row[i] = parquet.ByteArrayValue([]byte(t.Value(r, ci))).Level(0, 0, i)
		}
		rows = append(rows, row)
		if len(rows) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := pw.Close(); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
