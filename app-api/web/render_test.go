package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/stretchr/testify/require"
)

// TestExpiredGrantIsExplainedWhicheverWayItArrives: the read path reports an expired grant as
// gateway.ErrGrantExpired, the ledger's record reads and writes as GRANT_EXPIRED; both are the
// same sentence, never an internal error.
func TestExpiredGrantIsExplainedWhicheverWayItArrives(t *testing.T) {
	s := &server{log: slog.New(slog.DiscardHandler)}
	for _, err := range []error{
		fmt.Errorf("read record r: %w", gateway.ErrGrantExpired),
		fmt.Errorf("append: %w", &model.Error{Code: model.CodeGrantExpired, Message: "the append grant for this record has expired"}),
		errors.Join(errors.New("get record"), &model.Error{Code: model.CodeGrantExpired, Message: "x"}),
	} {
		status, msg := s.explain(err)
		require.Equal(t, http.StatusForbidden, status, "%v", err)
		require.Equal(t, "Your access to these records has expired.", msg)
	}
}
