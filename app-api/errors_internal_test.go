package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careledger/careledger/app-api/offline"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		code     string
		internal bool
	}{
		{"no certificate", &authError{errNoCertificate}, 401, "UNAUTHENTICATED", false},
		{"bad input", invalid("field x is wrong"), 400, "INVALID_ARGUMENT", false},
		{"too large", fmt.Errorf("read: %w", &http.MaxBytesError{Limit: 10}), 413, CodePayloadTooLarge, false},
		{"no org gateway", fmt.Errorf("PharmaMSP: %w", errNoOrgGateway), 503, CodeNoOrgGateway, false},
		{"no grant", fmt.Errorf("read record r: %w", gateway.ErrNoGrant), 403, CodeNoGrant, false},
		{"expired", gateway.ErrGrantExpired, 403, CodeGrantExpired, false},
		{"revoked", gateway.ErrGrantRevoked, 403, CodeGrantRevoked, false},
		{"not yet valid", gateway.ErrGrantNotYetValid, 403, CodeGrantNotYetValid, false},
		{"role", gateway.ErrNotPermitted, 403, CodeRoleNotPermitted, false},
		{"research", gateway.ErrNoResearchConsent, 403, CodeNoResearchConsent, false},
		{"erased", errors.Join(gateway.ErrErased, &model.Error{Code: model.CodeErased, Message: "x"}), 410, "ERASED", false},
		{"not found", errors.Join(gateway.ErrNotFound, &model.Error{Code: model.CodeNotFound, Message: "x"}), 404, "NOT_FOUND", false},
		{"invalid content", fmt.Errorf("%w: field resourceType is missing", gateway.ErrInvalidContent), 422, CodeInvalidContent, false},
		{"integrity", fmt.Errorf("%w: record r", gateway.ErrIntegrity), 502, CodeIntegrity, true},
		{"content missing", fmt.Errorf("%w: record r version 1", gateway.ErrContentMissing), 503, CodeContentMissing, false},
		{"unavailable", fmt.Errorf("evaluate X: %w: boom", ledger.ErrUnavailable), 503, CodeLedgerUnavailable, false},
		{"deadline", context.DeadlineExceeded, 503, CodeLedgerUnavailable, false},
		{"mvcc", &ledger.CommitError{TxID: "t", Code: peer.TxValidationCode_MVCC_READ_CONFLICT}, 409, "CONFLICT", false},
		{"invalid tx", &ledger.CommitError{TxID: "t", Code: peer.TxValidationCode_ENDORSEMENT_POLICY_FAILURE}, 409, CodeTransactionInvalid, false},
		{"chaincode invalid", &model.Error{Code: model.CodeInvalidArgument, Message: "validUntil must be after validFrom"}, 422, "INVALID_ARGUMENT", false},
		{"chaincode unauthenticated", &model.Error{Code: model.CodeUnauthenticated, Message: "x"}, 401, "UNAUTHENTICATED", false},
		{"chaincode forbidden", &model.Error{Code: model.CodeForbidden, Message: "x"}, 403, "FORBIDDEN", false},
		{"chaincode conflict", &model.Error{Code: model.CodeConflict, Message: "x"}, 409, "CONFLICT", false},
		{"chaincode grant expired", &model.Error{Code: model.CodeGrantExpired, Message: "x"}, 403, CodeGrantExpired, false},
		{"chaincode internal", &model.Error{Code: model.CodeInternal, Message: "x"}, 500, "INTERNAL", true},
		{"cohort not found", fmt.Errorf("open: %w", ErrCohortNotFound), 404, "NOT_FOUND", false},
		{"query refused", fmt.Errorf("%w: cell too small", ErrQueryRefused), 422, CodeQueryRefused, false},
		{"bad signature", offline.ErrBadSignature, 422, CodeBadSignature, false},
		{"creator", errCreator, 403, CodeCreatorMismatch, false},
		{"not implemented", errNotImplemented, 501, CodeNotImplemented, false},
		{"anything else", errors.New("disk on fire at /var/lib/x"), 500, "INTERNAL", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, code, msg, internal := classify(tc.err)
			require.Equal(t, tc.status, status)
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.internal, internal)
			require.NotEmpty(t, msg)
			if internal {
				require.NotContains(t, msg, tc.err.Error(), "internal details are never shown")
			}
		})
	}
}

func TestFromSDK(t *testing.T) {
	ccErr := status.Error(codes.Aborted, "failed to endorse transaction: chaincode response 500, FORBIDDEN: only the patient may grant")
	var me *model.Error
	require.ErrorAs(t, ledger.Translate("endorse Grant", ccErr), &me)
	require.Equal(t, model.CodeForbidden, me.Code)
	require.ErrorIs(t, ledger.Translate("submit", status.Error(codes.Unavailable, "connection refused")), ledger.ErrUnavailable)
	require.NotErrorIs(t, ledger.Translate("submit", status.Error(codes.InvalidArgument, "bad")), ledger.ErrUnavailable)
}

func TestWriteErrorSetsRetryAfterAndRequestID(t *testing.T) {
	s := &server{log: discardLogger()}
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
	req = req.WithContext(context.WithValue(req.Context(), logKey{}, &logEntry{id: "req-123456"}))
	s.writeError(rec, req, ledger.ErrUnavailable)
	require.Equal(t, 503, rec.Code)
	require.Equal(t, retryAfterSeconds, rec.Header().Get("Retry-After"))
	require.Contains(t, rec.Body.String(), `"requestId":"req-123456"`)
}

// FuzzDecodeGrant feeds arbitrary bodies to the JSON decoder and the grant checks: they never
// panic, and every refusal is a 4xx request error.
func FuzzDecodeGrant(f *testing.F) {
	f.Add([]byte(`{"grantee":{"msp":"ClinicMSP"},"actions":["read"],"categories":["lab"],"purpose":"TREAT","validUntil":"2030-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"grantee":{"id":"0123456789abcdef0123456789abcdef"},"actions":["append"],"recordIds":["r-1"],"purpose":"CAREMGT"}`))
	f.Add([]byte(`{"validFrom":"yesterday"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/grants", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		var g model.GrantRequest
		err := decodeJSON(httptest.NewRecorder(), req, &g)
		if err == nil {
			if g.ID == "" {
				g.ID = "g-1"
			}
			err = validateGrant(&g)
		}
		if err != nil {
			status, _, _, internal := classify(err)
			require.False(t, internal, "%v", err)
			require.True(t, status >= 400 && status < 500, "%d %v", status, err)
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// FuzzQueryParams feeds arbitrary query strings to the parameter readers: they never panic
// and refuse with a 400.
func FuzzQueryParams(f *testing.F) {
	f.Add("pageSize=10&bookmark=abc&category=lab&purpose=TREAT&active=true&patient=0123456789abcdef0123456789abcdef")
	f.Add("pageSize=-1&pageSize=2")
	f.Add("bookmark=%00")
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/grants", nil)
		req.URL.RawQuery = raw
		q := queryParams(req, "pageSize", "bookmark", "category", "purpose", "active", "patient", "version")
		q.page()
		q.oneOf("category", model.Categories)
		q.oneOf("purpose", model.Purposes)
		q.boolean("active", false)
		q.pseudonym("patient")
		q.integer("version", 1, 1<<30)
		if q.err != nil {
			status, code, _, _ := classify(q.err)
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, "INVALID_ARGUMENT", code)
		}
	})
}

func TestRedactKeepsPseudonymsOutOfLogs(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	in := "get blob records/0123456789abcdef0123456789abcdef/" + hash + ": connection reset"
	out := redact(in)
	require.NotContains(t, out, "0123456789abcdef0123456789abcdef")
	require.Contains(t, out, hash, "64-digit hashes are not pseudonyms and stay for the operator")
	require.Equal(t, "get blob records/<pseudonym>/"+hash+": connection reset", out)
}
