package fhir

import (
	"errors"
	"log/slog"
)

// ErrInvalid is wrapped by every validation failure, so callers can branch with errors.Is
// without knowing which element was wrong.
var ErrInvalid = errors.New("invalid record content")

// ValidationError says which element of a resource is wrong and why. Path is a FHIRPath-like
// element path in the form FHIR servers report in OperationOutcome.issue.expression:
// "Observation.status", "Patient.name[0].family",
// "Bundle.entry[3].resource.Observation.code.coding[0].code"; it is empty when the content
// is not JSON at all. Message may quote the offending value, which can be personal data: show
// it to the sender, never log it (LogValue keeps it out of slog).
type ValidationError struct {
	Path    string
	Message string
}

func (e *ValidationError) Error() string {
	if e.Path == "" {
		return e.Message
	}
	return e.Path + ": " + e.Message
}

// Unwrap makes every ValidationError match ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// LogValue logs the element path only: the message may quote record content.
func (e *ValidationError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("path", e.Path))
}

// invalid builds a ValidationError.
func invalid(path, message string) *ValidationError {
	return &ValidationError{Path: path, Message: message}
}

// Issues lists every ValidationError in err's tree in order, for a response that reports
// each wrong element on its own (one OperationOutcome.issue per element). It is empty when
// err holds none.
func Issues(err error) []*ValidationError {
	var out []*ValidationError
	var walk func(error)
	walk = func(e error) {
		switch x := e.(type) {
		case nil:
		case *ValidationError:
			out = append(out, x)
		case interface{ Unwrap() []error }:
			for _, inner := range x.Unwrap() {
				walk(inner)
			}
		case interface{ Unwrap() error }:
			walk(x.Unwrap())
		}
	}
	walk(err)
	return out
}
