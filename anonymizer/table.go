package anonymizer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// AttributeType says how an attribute is treated when a table is anonymised.
type AttributeType int

// Attribute types, as in ARX.
const (
	// Insensitive attributes are released unchanged.
	Insensitive AttributeType = iota
	// Identifying attributes (names, record numbers, pseudonyms) are removed.
	Identifying
	// QuasiIdentifying attributes are generalised by their hierarchy.
	QuasiIdentifying
	// Sensitive attributes are released unchanged but protected by
	// l-diversity or t-closeness.
	Sensitive
)

// String returns the lowercase name used in reports.
func (a AttributeType) String() string {
	switch a {
	case Identifying:
		return "identifying"
	case QuasiIdentifying:
		return "quasi-identifying"
	case Sensitive:
		return "sensitive"
	default:
		return "insensitive"
	}
}

// ParseAttributeType is the inverse of AttributeType.String; it also accepts
// the short forms "id", "qi" and "qid".
func ParseAttributeType(s string) (AttributeType, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "identifying", "id":
		return Identifying, nil
	case "quasi-identifying", "quasi", "qi", "qid":
		return QuasiIdentifying, nil
	case "sensitive":
		return Sensitive, nil
	case "insensitive":
		return Insensitive, nil
	}
	return 0, fmt.Errorf("parse attribute type %q: %w", s, ErrMalformedInput)
}

// column is one dictionary-encoded attribute: the engine works on the int
// codes, so a 1.2 M-row table costs 4 bytes a cell plus one string per
// distinct value.
type column struct {
	name  string
	typ   AttributeType
	dict  []string
	index map[string]int32
	codes []int32
}

func (c *column) code(v string) int32 {
	if c.index == nil {
		// Columns built in bulk (the cohort generator, releases) index
		// their values only when someone appends to them.
		c.index = make(map[string]int32, len(c.dict))
		for i, d := range c.dict {
			c.index[d] = int32(i)
		}
	}
	if id, ok := c.index[v]; ok {
		return id
	}
	id := int32(len(c.dict))
	c.dict = append(c.dict, v)
	c.index[v] = id
	return id
}

// Table is a rectangular data set with named, typed, dictionary-encoded
// columns. The zero value is not usable; create tables with NewTable or
// ReadCSV. A Table is not safe for concurrent mutation.
type Table struct {
	cols []*column
	rows int
}

// NewTable returns an empty table with the given column names, all typed
// Insensitive. Names must be non-empty and unique.
func NewTable(names ...string) (*Table, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("new table: no columns: %w", ErrMalformedInput)
	}
	seen := make(map[string]bool, len(names))
	t := &Table{}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return nil, fmt.Errorf("new table: empty column name: %w", ErrMalformedInput)
		}
		if seen[n] {
			return nil, fmt.Errorf("new table: duplicate column %q: %w", n, ErrMalformedInput)
		}
		seen[n] = true
		t.cols = append(t.cols, &column{name: n, index: map[string]int32{}})
	}
	return t, nil
}

// AppendRow adds one record; it must have one value per column.
func (t *Table) AppendRow(values ...string) error {
	if len(values) != len(t.cols) {
		return fmt.Errorf("append row: %d values for %d columns: %w", len(values), len(t.cols), ErrMalformedInput)
	}
	for i, v := range values {
		c := t.cols[i]
		c.codes = append(c.codes, c.code(v))
	}
	t.rows++
	return nil
}

// NumRows returns the number of records.
func (t *Table) NumRows() int { return t.rows }

// Columns returns the column names in order.
func (t *Table) Columns() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
	}
	return out
}

// Value returns the cell at row r, column c (both 0-based).
func (t *Table) Value(r, c int) string { return t.cols[c].dict[t.cols[c].codes[r]] }

// Row returns a copy of record r.
func (t *Table) Row(r int) []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.dict[c.codes[r]]
	}
	return out
}

// Distinct returns the distinct values of a column in first-seen order.
func (t *Table) Distinct(name string) ([]string, error) {
	c, err := t.col(name)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), c.dict...), nil
}

// ColumnIndex returns the position of a column.
func (t *Table) ColumnIndex(name string) (int, bool) {
	for i, c := range t.cols {
		if c.name == name {
			return i, true
		}
	}
	return -1, false
}

func (t *Table) col(name string) (*column, error) {
	i, ok := t.ColumnIndex(name)
	if !ok {
		return nil, fmt.Errorf("column %q: %w", name, ErrUnknownAttribute)
	}
	return t.cols[i], nil
}

// SetType marks how an attribute is treated.
func (t *Table) SetType(name string, typ AttributeType) error {
	c, err := t.col(name)
	if err != nil {
		return fmt.Errorf("set attribute type: %w", err)
	}
	c.typ = typ
	return nil
}

// Type returns the attribute type of a column.
func (t *Table) Type(name string) (AttributeType, error) {
	c, err := t.col(name)
	if err != nil {
		return 0, err
	}
	return c.typ, nil
}

// namesOf returns the column names with the given type, in table order.
func (t *Table) namesOf(typ AttributeType) []string {
	var out []string
	for _, c := range t.cols {
		if c.typ == typ {
			out = append(out, c.name)
		}
	}
	return out
}

// QuasiIdentifiers returns the names of the quasi-identifying columns.
func (t *Table) QuasiIdentifiers() []string { return t.namesOf(QuasiIdentifying) }

// CSVOptions controls ReadCSV.
type CSVOptions struct {
	// Delimiter is ';' or ','; zero detects it from the header line
	// (whichever occurs more often, ';' on a tie as ARX writes).
	Delimiter rune
	// MaxRows bounds the records read (0: unlimited), so a hostile upload
	// cannot exhaust memory.
	MaxRows int
}

// ReadCSV reads a table with a header line. Every record must have as many
// fields as the header; a violation is reported as a *RowError naming the
// line. All columns start as Insensitive.
func ReadCSV(r io.Reader, opts CSVOptions) (*Table, error) {
	br := bufio.NewReader(r)
	delim := opts.Delimiter
	if delim == 0 {
		head, err := br.Peek(4096)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("read csv: %w", err)
		}
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			head = head[:i]
		}
		delim = ';'
		if bytes.Count(head, []byte{','}) > bytes.Count(head, []byte{';'}) {
			delim = ','
		}
	}
	if delim != ';' && delim != ',' {
		return nil, fmt.Errorf("read csv: delimiter %q: %w", delim, ErrMalformedInput)
	}
	cr := csv.NewReader(br)
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, rowErr("table", 1, "missing header")
	}
	if err != nil {
		return nil, csvErr("table", err)
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = strings.TrimPrefix(strings.TrimSpace(h), "\ufeff")
	}
	t, err := NewTable(names...)
	if err != nil {
		return nil, &RowError{Source: "table", Row: 1, Err: err}
	}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, csvErr("table", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != len(names) {
			return nil, rowErr("table", line, "%d fields, header has %d", len(rec), len(names))
		}
		if opts.MaxRows > 0 && t.rows >= opts.MaxRows {
			return nil, rowErr("table", line, "more than %d records", opts.MaxRows)
		}
		if err := t.AppendRow(rec...); err != nil {
			return nil, &RowError{Source: "table", Row: line, Err: err}
		}
	}
}

func csvErr(source string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &RowError{Source: source, Row: pe.Line, Err: pe.Err}
	}
	return fmt.Errorf("read %s: %w", source, err)
}

// WriteCSV writes the table with a header line, using delim (';' or ',').
func (t *Table) WriteCSV(w io.Writer, delim rune) error {
	cw := csv.NewWriter(w)
	cw.Comma = delim
	if err := cw.Write(t.Columns()); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	rec := make([]string, len(t.cols))
	for r := 0; r < t.rows; r++ {
		for i, c := range t.cols {
			rec[i] = c.dict[c.codes[r]]
		}
		if len(rec) == 1 && rec[0] == "" {
			// encoding/csv would write a blank line, which readers skip:
			// quote the empty field so the record survives.
			cw.Flush()
			if _, err := io.WriteString(w, "\"\"\n"); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
			continue
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("write csv: %w", err)
	}
	return nil
}

// AddGeneralized appends a column dst holding column src generalised to
// level of h (e.g. ICD-10 chapters from diagnoses, for aggregate queries).
// dst gets src's attribute type.
func (t *Table) AddGeneralized(src, dst string, h *Hierarchy, level int) error {
	c, err := t.col(src)
	if err != nil {
		return fmt.Errorf("add generalized: %w", err)
	}
	if _, dup := t.ColumnIndex(dst); dup || strings.TrimSpace(dst) == "" {
		return fmt.Errorf("add generalized: column name %q: %w", dst, ErrMalformedInput)
	}
	nc := &column{name: dst, typ: c.typ, index: map[string]int32{}}
	remap := make([]int32, len(c.dict))
	for code, v := range c.dict {
		g, err := h.Generalize(v, level)
		if err != nil {
			row := slices.Index(c.codes, int32(code))
			return &RowError{Source: "table", Row: row + 2, Err: fmt.Errorf("add generalized %q: %w", src, err)}
		}
		remap[code] = nc.code(g)
	}
	nc.codes = make([]int32, t.rows)
	for r, code := range c.codes {
		nc.codes[r] = remap[code]
	}
	t.cols = append(t.cols, nc)
	return nil
}
