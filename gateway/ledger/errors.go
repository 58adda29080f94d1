package ledger

import (
	"errors"
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrUnavailable means the ledger could not be reached or did not answer in time. The call
// may be retried later; for a submit, the transaction was not committed as far as we know.
var ErrUnavailable = errors.New("ledger unavailable")

// CommitError means the transaction was ordered but the peers marked it invalid, for example
// because a concurrent transaction changed what it read (MVCC_READ_CONFLICT).
type CommitError struct {
	TxID string
	Code peer.TxValidationCode
}

func (e *CommitError) Error() string {
	return fmt.Sprintf("transaction %s was not committed: %s", e.TxID, e.Code)
}

// Is lets errors.Is(err, &model.Error{Code: model.CodeConflict}) match read conflicts, which
// callers handle like any other conflict: re-read and try again.
func (e *CommitError) Is(target error) bool {
	var me *model.Error
	return errors.As(target, &me) && me.Code == model.CodeConflict && me.Message == "" &&
		(e.Code == peer.TxValidationCode_MVCC_READ_CONFLICT || e.Code == peer.TxValidationCode_PHANTOM_READ_CONFLICT)
}

// Translate turns an error of the fabric-gateway SDK (or of gRPC under it) from the operation
// op into the errors this package documents. Code that drives the SDK directly, such as the
// API's offline-signing flow, uses it to report failures the same way the Client does.
func Translate(op string, err error) error { return translate(op, err) }

// translate turns an SDK or gRPC error into the chaincode's *model.Error when the chaincode
// refused, ErrUnavailable when the endpoint is down, *CommitError when the transaction was
// invalidated, and a wrapped error otherwise. The original error stays reachable via Unwrap.
func translate(op string, err error) error {
	if err == nil {
		return nil
	}
	if me := chaincodeError(err); me != nil {
		return me
	}
	var commitErr *client.CommitError
	if errors.As(err, &commitErr) {
		return &CommitError{TxID: commitErr.TransactionID, Code: commitErr.Code}
	}
	if transient(err) {
		return fmt.Errorf("%s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// chaincodeError finds the CareLedger error in a gRPC status message or its details.
func chaincodeError(err error) *model.Error {
	st, ok := status.FromError(err)
	if !ok {
		return nil
	}
	if me, ok := model.ParseError(st.Message()); ok {
		return me
	}
	for _, d := range st.Details() {
		if detail, ok := d.(interface{ GetMessage() string }); ok {
			if me, ok := model.ParseError(detail.GetMessage()); ok {
				return me
			}
		}
	}
	return nil
}

// transient reports whether the failure is the network's, not the transaction's.
func transient(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.ResourceExhausted:
		return true
	}
	return false
}
