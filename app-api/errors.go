package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"

	"github.com/careledger/careledger/app-api/offline"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
)

// Stable error codes of the API, besides the chaincode's own (INVALID_ARGUMENT,
// UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, ERASED, INTERNAL), which pass through.
// Clients branch on the code; messages are for people and may change.
const (
	CodeNoGrant            = "NO_GRANT"
	CodeGrantExpired       = string(model.CodeGrantExpired)
	CodeGrantRevoked       = "GRANT_REVOKED"
	CodeGrantNotYetValid   = "GRANT_NOT_YET_VALID"
	CodeRoleNotPermitted   = "ROLE_NOT_PERMITTED"
	CodeNoResearchConsent  = "NO_RESEARCH_CONSENT"
	CodeInvalidContent     = "INVALID_CONTENT"
	CodeIntegrity          = "INTEGRITY_FAILURE"
	CodeContentMissing     = "CONTENT_MISSING"
	CodeLedgerUnavailable  = "LEDGER_UNAVAILABLE"
	CodeNoOrgGateway       = "NO_ORG_GATEWAY"
	CodeTransactionInvalid = "TRANSACTION_INVALID"
	CodeBadSignature       = "BAD_SIGNATURE"
	CodeCreatorMismatch    = "CREATOR_MISMATCH"
	CodeQueryRefused       = "QUERY_REFUSED"
	CodeCohortRefused      = "COHORT_REFUSED"
	CodePayloadTooLarge    = "PAYLOAD_TOO_LARGE"
	CodeUnsupportedMedia   = "UNSUPPORTED_MEDIA_TYPE"
	CodeMethodNotAllowed   = "METHOD_NOT_ALLOWED"
	CodeNotImplemented     = "NOT_IMPLEMENTED"
	CodeAssertionRefused   = "ASSERTION_REFUSED"
	CodeRequestTimeout     = "REQUEST_TIMEOUT"
	CodeTooManyRequests    = "TOO_MANY_REQUESTS"
	CodeNotReady           = "NOT_READY"
)

// Errors that implementations of CohortFiles and Aggregator return, wrapped, for conditions
// the API reports to the caller.
var (
	// ErrCohortNotFound: no such cohort or file (404).
	ErrCohortNotFound = errors.New("cohort or cohort file not found")
	// ErrQueryRefused: disclosure control refused the query; the error's text says why and is
	// shown to the caller (422 QUERY_REFUSED).
	ErrQueryRefused = errors.New("query refused by disclosure control")
	// ErrCohortRefused: no cohort meeting the privacy model could be built (too few
	// consenting patients, or the model cannot be met within the suppression limit); the
	// error's text says why (422 COHORT_REFUSED).
	ErrCohortRefused = errors.New("cohort refused by its privacy model")
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a stable code, a message for people, and the request ID to quote.
type ErrorDetail struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
}

// requestError is a refusal decided by the API itself (bad input, unsupported media type...).
type requestError struct {
	status  int
	code    string
	message string
}

func (e *requestError) Error() string { return e.message }

// invalid is a 400 INVALID_ARGUMENT whose message names the field.
func invalid(format string, args ...any) error {
	return &requestError{http.StatusBadRequest, string(model.CodeInvalidArgument), fmt.Sprintf(format, args...)}
}

var (
	errNotImplemented = &requestError{http.StatusNotImplemented, CodeNotImplemented, "this server has no cohort engine configured for this operation"}
	errCreator        = &requestError{http.StatusForbidden, CodeCreatorMismatch, "the message was not created for the authenticated caller"}
)

// gatewayRefusals are the policy enforcement point's refusals, each 403 with the reason as code.
var gatewayRefusals = []struct {
	err  error
	code string
}{
	{gateway.ErrNoGrant, CodeNoGrant},
	{gateway.ErrGrantExpired, CodeGrantExpired},
	{gateway.ErrGrantRevoked, CodeGrantRevoked},
	{gateway.ErrGrantNotYetValid, CodeGrantNotYetValid},
	{gateway.ErrNotPermitted, CodeRoleNotPermitted},
	{gateway.ErrNoResearchConsent, CodeNoResearchConsent},
}

var chaincodeStatus = map[model.Code]int{
	model.CodeInvalidArgument: http.StatusUnprocessableEntity,
	model.CodeUnauthenticated: http.StatusUnauthorized,
	model.CodeForbidden:       http.StatusForbidden,
	model.CodeNotFound:        http.StatusNotFound,
	model.CodeConflict:        http.StatusConflict,
	model.CodeErased:          http.StatusGone,
	model.CodeGrantExpired:    http.StatusForbidden,
	model.CodeBudgetExhausted: http.StatusForbidden,
}

// retryAfterSeconds is what a client is told to wait when the ledger is unreachable.
const retryAfterSeconds = "5"

// classify is the one place where errors become HTTP statuses. It returns the status, the
// code and the message to show; internal reports whether the error is the server's own
// problem, whose text is logged and never shown.
func classify(err error) (status int, code, message string, internal bool) {
	var (
		reqErr    *requestError
		authErr   *authError
		maxBytes  *http.MaxBytesError
		commitErr *ledger.CommitError
		ccErr     *model.Error
		notReady  *NotReadyError
	)
	switch {
	case errors.As(err, &authErr):
		return http.StatusUnauthorized, string(model.CodeUnauthenticated), authErr.Error(), false
	case errors.As(err, &reqErr):
		return reqErr.status, reqErr.code, reqErr.message, false
	case errors.As(err, &notReady):
		return http.StatusServiceUnavailable, CodeNotReady, "not ready: " + notReady.Reason, false
	case errors.As(err, &maxBytes):
		return http.StatusRequestEntityTooLarge, CodePayloadTooLarge, fmt.Sprintf("request body larger than %d bytes", maxBytes.Limit), false
	case errors.Is(err, errNoOrgGateway):
		return http.StatusServiceUnavailable, CodeNoOrgGateway, "this server does not serve the members of your organisation yet: it has no gateway identity for it", false
	case errors.Is(err, gateway.ErrErased):
		return http.StatusGone, string(model.CodeErased), "the patient's data has been erased", false
	case errors.Is(err, gateway.ErrAssertion):
		return http.StatusForbidden, CodeAssertionRefused, err.Error(), false
	}
	if st, code, msg, ok := directoryError(err); ok {
		return st, code, msg, false
	}
	for _, r := range gatewayRefusals {
		if errors.Is(err, r.err) {
			return http.StatusForbidden, r.code, r.err.Error(), false
		}
	}
	switch {
	case errors.Is(err, gateway.ErrInvalidContent):
		return http.StatusUnprocessableEntity, CodeInvalidContent, err.Error(), false
	case errors.Is(err, gateway.ErrIntegrity):
		return http.StatusBadGateway, CodeIntegrity, "stored content does not match the ledger; the operator has been alerted", true
	case errors.Is(err, gateway.ErrContentMissing):
		// Lost, not altered: the gateway has alerted the operator, who can restore it.
		return http.StatusServiceUnavailable, CodeContentMissing, "the record's stored content is missing; the operator has been alerted", false
	case errors.As(err, &commitErr):
		if errors.Is(err, &model.Error{Code: model.CodeConflict}) {
			return http.StatusConflict, string(model.CodeConflict), "a concurrent transaction changed the same data; read again and retry", false
		}
		return http.StatusConflict, CodeTransactionInvalid, "the ledger marked the transaction invalid: " + commitErr.Code.String(), false
	case errors.Is(err, ledger.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, CodeLedgerUnavailable, "the ledger is unreachable; retry later", false
	case errors.Is(err, gateway.ErrNotFound), errors.Is(err, ErrCohortNotFound):
		return http.StatusNotFound, string(model.CodeNotFound), "not found", false
	case errors.Is(err, ErrQueryRefused):
		return http.StatusUnprocessableEntity, CodeQueryRefused, err.Error(), false
	case errors.Is(err, ErrCohortRefused):
		return http.StatusUnprocessableEntity, CodeCohortRefused, err.Error(), false
	case errors.Is(err, ErrBudgetExhausted):
		return http.StatusForbidden, CodeBudgetExhausted, err.Error(), false
	case errors.Is(err, offline.ErrBadSignature):
		return http.StatusUnprocessableEntity, CodeBadSignature, err.Error(), false
	case errors.As(err, &ccErr):
		if st, ok := chaincodeStatus[ccErr.Code]; ok {
			return st, string(ccErr.Code), ccErr.Message, false
		}
	}
	return http.StatusInternalServerError, string(model.CodeInternal), "internal error; quote the request ID when reporting it", true
}

// writeError sends err as a JSON error and logs it when it is the server's own.
func (s *server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, message, internal := classify(err)
	id := requestID(r.Context())
	if internal {
		// The text of internal errors names operations and IDs, never content.
		s.log.LogAttrs(r.Context(), slog.LevelError, "request failed", slog.String("request_id", id), slog.String("err", redact(err.Error())))
	}
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable && (code == CodeLedgerUnavailable || code == CodeNotReady) {
		w.Header().Set("Retry-After", retryAfterSeconds)
	}
	setLogCode(r.Context(), code)
	writeJSON(w, status, ErrorBody{Error: ErrorDetail{Code: code, Message: message, RequestID: id}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, "application/json", v)
}

func writeJSONAs(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client went away; nothing to do
}

// pseudonymPattern matches a ledger pseudonym standing alone (32 hex digits, not part of a
// 64-digit hash). Internal errors can carry one, for example in a blob key.
var pseudonymPattern = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// redact keeps pseudonyms out of logged error text.
func redact(s string) string { return pseudonymPattern.ReplaceAllString(s, "<pseudonym>") }
