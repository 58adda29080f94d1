package model

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable, machine-readable error class returned by the chaincode. Clients branch on
// the code; the message after it is for people and may change.
type Code string

// The error codes. Every error the chaincode returns starts with one of them followed by ": ".
const (
	CodeInvalidArgument Code = "INVALID_ARGUMENT"
	CodeUnauthenticated Code = "UNAUTHENTICATED"
	CodeForbidden       Code = "FORBIDDEN"
	CodeNotFound        Code = "NOT_FOUND"
	CodeConflict        Code = "CONFLICT"
	CodeErased          Code = "ERASED"
	CodeInternal        Code = "INTERNAL"
	// CodeGrantExpired refuses a read or write whose newest relevant grant has expired, so
	// the grantee knows to ask the patient to renew it. Only a caller the grant disclosed the
	// record to gets it; everyone else gets FORBIDDEN.
	CodeGrantExpired Code = "GRANT_EXPIRED"
)

var codes = []Code{
	CodeInvalidArgument, CodeUnauthenticated, CodeForbidden, CodeNotFound, CodeConflict,
	CodeErased, CodeInternal, CodeGrantExpired, CodeBudgetExhausted,
}

// Error is a chaincode error with a stable code. Its text is "CODE: message", which survives
// the trip through a Fabric peer's error wrapping so that [ParseError] can recover it.
type Error struct {
	Code    Code
	Message string
}

func (e *Error) Error() string { return string(e.Code) + ": " + e.Message }

// Is reports whether target is an *Error with the same code, so callers can write
// errors.Is(err, &model.Error{Code: model.CodeForbidden}).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Errorf builds an *Error; the message should name what was wrong without any personal data.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ParseError recovers a chaincode *Error from an error message that contains one, such as the
// message of a Fabric endorsement failure ("chaincode response 500, FORBIDDEN: ..."). It
// returns false when the text carries no CareLedger error code.
func ParseError(text string) (*Error, bool) {
	best := -1
	var found Code
	for _, c := range codes {
		i := strings.Index(text, string(c)+": ")
		if i >= 0 && (best < 0 || i < best) {
			best, found = i, c
		}
	}
	if best < 0 {
		return nil, false
	}
	msg := text[best+len(found)+2:]
	// Peers append their own context after the chaincode message in some versions.
	if j := strings.IndexAny(msg, "\n"); j >= 0 {
		msg = msg[:j]
	}
	return &Error{Code: found, Message: msg}, true
}
