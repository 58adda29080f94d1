package anonymizer

import (
	"errors"
	"fmt"
)

// Sentinel errors callers branch on. Every error returned by the package that
// stems from one of these conditions wraps the sentinel.
var (
	// ErrMalformedInput reports a table, hierarchy or parameter that cannot be
	// used as given. Errors about a particular line are *RowError values that
	// wrap it.
	ErrMalformedInput = errors.New("malformed input")
	// ErrUnknownAttribute reports a reference to a column the table lacks.
	ErrUnknownAttribute = errors.New("unknown attribute")
	// ErrMissingHierarchy reports a quasi-identifier without a hierarchy.
	ErrMissingHierarchy = errors.New("missing hierarchy")
	// ErrNoSolution reports that no transformation satisfies the privacy
	// models within the suppression limit, so nothing may be published.
	ErrNoSolution = errors.New("no transformation satisfies the privacy models")
	// ErrBudgetExhausted reports a differentially private query refused
	// because the requester's privacy budget would be exceeded.
	ErrBudgetExhausted = errors.New("privacy budget exhausted")
)

// RowError locates a malformed line of an input file. Row is 1-based and
// counts physical records as the reader sees them, header included, so that
// it matches what an editor shows.
type RowError struct {
	Source string // what was being read, e.g. "table" or "hierarchy"
	Row    int
	Err    error
}

// Error implements error.
func (e *RowError) Error() string {
	return fmt.Sprintf("%s row %d: %v", e.Source, e.Row, e.Err)
}

// Unwrap returns the cause; RowError always wraps ErrMalformedInput as well.
func (e *RowError) Unwrap() []error { return []error{e.Err, ErrMalformedInput} }

func rowErr(source string, row int, format string, args ...any) error {
	return &RowError{Source: source, Row: row, Err: fmt.Errorf(format, args...)}
}
