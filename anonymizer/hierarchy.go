package anonymizer

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Hierarchy is a generalisation hierarchy in ARX's tabular form: one row per
// original value, one column per level, level 0 being the value itself and
// the last column the most general label (usually "*").
//
// A valid hierarchy is a tree: every row has the same number of levels, no
// original value appears twice and a label at level l always generalises to
// the same label at level l+1. The engine relies on the last property to
// roll equivalence classes up one level at a time.
type Hierarchy struct {
	rows  [][]string
	index map[string]int
}

// NewHierarchy validates rows and returns the hierarchy. Errors name the
// offending row (1-based) as a *RowError.
func NewHierarchy(rows [][]string) (*Hierarchy, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("new hierarchy: no rows: %w", ErrMalformedInput)
	}
	width := len(rows[0])
	if width == 0 {
		return nil, rowErr("hierarchy", 1, "no levels")
	}
	h := &Hierarchy{rows: make([][]string, len(rows)), index: make(map[string]int, len(rows))}
	parent := make([]map[string]string, width)
	for l := range parent {
		parent[l] = map[string]string{}
	}
	for i, r := range rows {
		if len(r) != width {
			return nil, rowErr("hierarchy", i+1, "%d levels, row 1 has %d", len(r), width)
		}
		if prev, dup := h.index[r[0]]; dup {
			return nil, rowErr("hierarchy", i+1, "value %q already defined in row %d", r[0], prev+1)
		}
		for l := 1; l+1 < width; l++ {
			if p, ok := parent[l][r[l]]; ok && p != r[l+1] {
				return nil, rowErr("hierarchy", i+1, "inconsistent levels: %q generalises to %q at level %d, elsewhere to %q", r[l], r[l+1], l+1, p)
			}
			parent[l][r[l]] = r[l+1]
		}
		h.index[r[0]] = i
		h.rows[i] = append([]string(nil), r...)
	}
	return h, nil
}

// ReadHierarchyCSV reads a hierarchy in ARX's CSV format (';'-separated, no
// header). Blank lines are skipped.
func ReadHierarchyCSV(r io.Reader) (*Hierarchy, error) {
	cr := csv.NewReader(r)
	cr.Comma = ';'
	cr.FieldsPerRecord = -1
	var rows [][]string
	var lines []int
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, csvErr("hierarchy", err)
		}
		line, _ := cr.FieldPos(0)
		rows = append(rows, rec)
		lines = append(lines, line)
	}
	h, err := NewHierarchy(rows)
	var re *RowError
	if errors.As(err, &re) && re.Row-1 < len(lines) {
		// Report the file's line, which differs from the row index when
		// quoted fields span lines.
		re.Row = lines[re.Row-1]
	}
	if err != nil {
		return nil, fmt.Errorf("read hierarchy: %w", err)
	}
	return h, nil
}

// Levels returns the number of levels including level 0.
func (h *Hierarchy) Levels() int { return len(h.rows[0]) }

// Height returns the highest generalisation level (Levels()-1).
func (h *Hierarchy) Height() int { return len(h.rows[0]) - 1 }

// Values returns the original (level 0) values in file order.
func (h *Hierarchy) Values() []string {
	out := make([]string, len(h.rows))
	for i, r := range h.rows {
		out[i] = r[0]
	}
	return out
}

// Generalize returns the label of value at the given level.
func (h *Hierarchy) Generalize(value string, level int) (string, error) {
	i, ok := h.index[value]
	if !ok {
		return "", fmt.Errorf("generalize %q: %w", value, errValueNotInHierarchy)
	}
	if level < 0 || level > h.Height() {
		return "", fmt.Errorf("generalize %q: level %d outside 0..%d: %w", value, level, h.Height(), ErrMalformedInput)
	}
	return h.rows[i][level], nil
}

// Rows returns a copy of the hierarchy's rows.
func (h *Hierarchy) Rows() [][]string {
	out := make([][]string, len(h.rows))
	for i, r := range h.rows {
		out[i] = append([]string(nil), r...)
	}
	return out
}

// WriteCSV writes the hierarchy in ARX's format.
func (h *Hierarchy) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Comma = ';'
	if err := cw.WriteAll(h.rows); err != nil {
		return fmt.Errorf("write hierarchy: %w", err)
	}
	return nil
}

// rank returns the position of an original value in file order, which
// Mondrian and ordered-distance t-closeness use as the attribute's order.
func (h *Hierarchy) rank(value string) (int, bool) {
	i, ok := h.index[value]
	return i, ok
}

var errValueNotInHierarchy = fmt.Errorf("value not in hierarchy: %w", ErrMalformedInput)

// String summarises the hierarchy for diagnostics.
func (h *Hierarchy) String() string {
	return fmt.Sprintf("hierarchy(%d values, %d levels: %s)", len(h.rows), h.Levels(), strings.Join(h.rows[0], ";"))
}
