package fabricca

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// Sentinel errors for the conditions callers branch on; a *ServerError matches them with
// errors.Is according to its HTTP status.
var (
	// ErrUnauthorized means the CA rejected the credentials (wrong secret, unknown, revoked or
	// expired identity, bad token). Fabric CA deliberately does not say which.
	ErrUnauthorized = errors.New("fabric ca: unauthorized")
	// ErrForbidden means the caller is authenticated but may not do this (not a registrar for
	// that type or attribute, not a revoker, enrolment limit reached).
	ErrForbidden = errors.New("fabric ca: forbidden")
	// ErrNotFound means the identity, certificate or CA named in the request does not exist.
	ErrNotFound = errors.New("fabric ca: not found")
	// ErrInvalidRequest means the request was rejected before reaching the CA because it was
	// incomplete or named an unknown role.
	ErrInvalidRequest = errors.New("fabric ca: invalid request")
)

// Message is one error or message entry of a Fabric CA response.
type Message struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// ServerError is a failure reported by the CA. Codes are Fabric CA's own error codes
// (lib/caerrors), useful in logs and support requests.
type ServerError struct {
	Op         string
	StatusCode int
	Errors     []Message
}

func (e *ServerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fabric ca %s: http %d", e.Op, e.StatusCode)
	for _, m := range e.Errors {
		fmt.Fprintf(&b, "; code %d: %s", m.Code, m.Message)
	}
	return b.String()
}

// Is maps the HTTP status to the package's sentinel errors. Fabric CA answers some
// authentication failures with 400 or 500 and the code in the body, so codes are checked too.
func (e *ServerError) Is(target error) bool {
	switch target {
	case ErrUnauthorized:
		if e.StatusCode == http.StatusUnauthorized {
			return true
		}
		for _, m := range e.Errors {
			// 20-28 and 33 are Fabric CA's authentication failures.
			if (m.Code >= 20 && m.Code <= 28) || m.Code == 33 {
				return true
			}
		}
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	}
	return false
}
