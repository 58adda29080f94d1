package fhir

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	r4 "github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
)

// OperationOutcome is the FHIR R4 OperationOutcome every error is sent as.
type OperationOutcome struct {
	ResourceType string  `json:"resourceType"`
	Issue        []Issue `json:"issue"`
}

// Issue is OperationOutcome.issue: severity, an issue-type code, what went wrong, and where
// (expression, a FHIRPath to the element at fault).
type Issue struct {
	Severity    string   `json:"severity"`
	Code        string   `json:"code"`
	Diagnostics string   `json:"diagnostics,omitempty"`
	Expression  []string `json:"expression,omitempty"`
}

// fhirError is a refusal this package decides itself.
type fhirError struct {
	status int
	code   string // the issue type (http://hl7.org/fhir/issue-type)
	msg    string
	expr   []string
}

func (e *fhirError) Error() string { return e.msg }

var (
	errUnknownPath = &fhirError{http.StatusNotFound, "not-found", "no such FHIR endpoint on this server; GET /fhir/metadata lists what is supported", nil}
	errMethod      = &fhirError{http.StatusMethodNotAllowed, "not-supported", "this interaction is not supported on this resource; GET /fhir/metadata lists what is", nil}
	errRole        = &fhirError{http.StatusForbidden, "forbidden", "the FHIR interface serves patients and clinicians; your role may not read records", nil}
	errNoPrepare   = &fhirError{http.StatusNotImplemented, "not-supported", "this server prepares no consent transactions", nil}
)

// badRequest is a 400 about the request (parameters, ids), naming the part at fault.
func badRequest(expr, format string, args ...any) error {
	e := &fhirError{http.StatusBadRequest, "invalid", fmt.Sprintf(format, args...), nil}
	if expr != "" {
		e.expr = []string{expr}
	}
	return e
}

// unprocessable is a 422 about an element of the resource sent: it is not stored. It also
// matches gateway.ErrInvalidContent, so the /v1 API reports it as INVALID_CONTENT.
func unprocessable(path, format string, args ...any) error {
	return errors.Join(gateway.ErrInvalidContent, &r4.ValidationError{Path: path, Message: fmt.Sprintf(format, args...)})
}

// notAccessible is the one answer for a resource that does not exist, was never readable by
// the caller, or no longer is: a made-up id and a forbidden one look the same.
func notAccessible(typ, id string) error {
	return &fhirError{http.StatusNotFound, "not-found", fmt.Sprintf("%s/%s is not known, or not accessible to you", typ, id), nil}
}

// hidden reports whether err is a refusal or absence that a read answers with notAccessible.
func hidden(err error) bool {
	for _, e := range []error{gateway.ErrNoGrant, gateway.ErrGrantExpired, gateway.ErrGrantRevoked, gateway.ErrGrantNotYetValid,
		gateway.ErrNotPermitted, gateway.ErrNoResearchConsent, gateway.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return errors.Is(err, &model.Error{Code: model.CodeNotFound}) || errors.Is(err, &model.Error{Code: model.CodeForbidden})
}

// outcome is the one place where errors become HTTP statuses and OperationOutcomes. internal
// reports an error that is the server's own: its text is logged, never shown.
func outcome(err error) (status int, oo OperationOutcome, internal bool) {
	issue := func(status int, code, msg string, expr ...string) (int, OperationOutcome, bool) {
		return status, OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{{Severity: "error", Code: code, Diagnostics: msg, Expression: expr}}}, false
	}
	var (
		fe        *fhirError
		authErr   *AuthError
		maxBytes  *http.MaxBytesError
		commitErr *ledger.CommitError
		ccErr     *model.Error
	)
	switch {
	case errors.As(err, &fe):
		return issue(fe.status, fe.code, fe.msg, fe.expr...)
	case errors.As(err, &authErr):
		return issue(http.StatusUnauthorized, "login", authErr.Error())
	case errors.As(err, &maxBytes):
		return issue(http.StatusRequestEntityTooLarge, "too-long", fmt.Sprintf("request body larger than %d bytes", maxBytes.Limit))
	case errors.Is(err, gateway.ErrInvalidContent), errors.Is(err, r4.ErrInvalid):
		return http.StatusUnprocessableEntity, OperationOutcome{ResourceType: "OperationOutcome", Issue: validationIssues(err)}, false
	case errors.Is(err, gateway.ErrErased):
		return issue(http.StatusGone, "deleted", "the patient's data has been erased")
	case errors.Is(err, gateway.ErrIntegrity):
		status, oo, _ := issue(http.StatusBadGateway, "exception", "stored content does not match the ledger; the operator has been alerted")
		return status, oo, true
	case errors.As(err, &commitErr), errors.Is(err, &model.Error{Code: model.CodeConflict}):
		return issue(http.StatusConflict, "conflict", "a concurrent change or an existing record conflicts with this request; read again and retry")
	case errors.Is(err, ErrNoGateway):
		return issue(http.StatusServiceUnavailable, "transient", "this server does not serve the members of your organisation yet")
	case errors.Is(err, ledger.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return issue(http.StatusServiceUnavailable, "transient", "the ledger is unreachable; retry later")
	case errors.Is(err, gateway.ErrNotFound), errors.Is(err, &model.Error{Code: model.CodeNotFound}):
		return issue(http.StatusNotFound, "not-found", "not found")
	case hidden(err):
		return issue(http.StatusForbidden, "forbidden", "the ledger does not allow you this")
	case errors.As(err, &ccErr) && ccErr.Code == model.CodeInvalidArgument:
		return issue(http.StatusUnprocessableEntity, "processing", "the ledger refused the request: "+ccErr.Message)
	case errors.As(err, &ccErr) && ccErr.Code == model.CodeUnauthenticated:
		return issue(http.StatusUnauthorized, "login", ccErr.Message)
	}
	status, oo, _ = issue(http.StatusInternalServerError, "exception", "internal error; quote the request ID when reporting it")
	return status, oo, true
}

// validationIssues lists every *r4.ValidationError in err (a join of several) as an issue
// naming its element.
func validationIssues(err error) []Issue {
	var issues []Issue
	var walk func(error)
	walk = func(e error) {
		if ve, ok := e.(*r4.ValidationError); ok {
			is := Issue{Severity: "error", Code: "invalid", Diagnostics: ve.Error()}
			if ve.Path != "" {
				is.Expression = []string{ve.Path}
			}
			issues = append(issues, is)
			return
		}
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	if len(issues) == 0 {
		issues = []Issue{{Severity: "error", Code: "invalid", Diagnostics: err.Error()}}
	}
	return issues
}

// fail sends err as an OperationOutcome with its status, logging it only when it is the
// server's own (by request ID; record content and pseudonyms never reach the log).
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, oo, internal := outcome(err)
	if internal {
		// The error's text may name records or pseudonyms: its type says where to look.
		id := h.cfg.RequestID(r.Context())
		h.log.LogAttrs(r.Context(), slog.LevelError, "fhir request failed", slog.String("request_id", id), slog.String("err_type", fmt.Sprintf("%T", err)))
		oo.Issue[0].Diagnostics = "internal error; quote the request ID " + id + " when reporting it"
	}
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeResource(w, r, status, oo)
}
