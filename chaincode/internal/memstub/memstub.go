// Package memstub is an in-memory stand-in for a Fabric peer's side of the shim, for unit tests
// of the CareLedger contract. It follows Fabric's rules where the contract depends on them:
// reads see only committed state (never the transaction's own writes), a transaction's writes
// and event take effect only when it succeeds, composite keys and range bounds are built as the
// shim builds them, paginated queries use Fabric's bookmark (the key to resume at) and are
// refused in a transaction that writes. The embedded ledger in network/ runs the same chaincode
// for real.
package memstub

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Ledger is committed world state plus the events of committed transactions.
type Ledger struct {
	mu     sync.Mutex
	state  map[string][]byte
	keys   []string // the keys of state, sorted, so range queries cost what they return
	events []Event
	txSeq  int
}

// Event is a chaincode event of a committed transaction.
type Event struct {
	TxID    string
	Name    string
	Payload []byte
}

// New returns an empty ledger.
func New() *Ledger { return &Ledger{state: map[string][]byte{}} }

// Call describes one transaction proposal.
type Call struct {
	Creator   []byte            // serialized identity of the signer
	Transient map[string][]byte // transient data, not recorded
	Time      time.Time         // transaction timestamp
	Args      []string          // function name then arguments
}

// Result is the outcome of a transaction.
type Result struct {
	TxID     string
	Response *peer.Response
	Writes   map[string][]byte // nil value: delete
	Event    *Event
	// Reads counts the state the transaction read: one per key read, one per range query and
	// one per entry a range query returned. Tests use it as the transaction's cost, which does
	// not vary with the machine.
	Reads int
}

// Invoke runs the chaincode for call. When commit is true and the chaincode succeeds, its
// writes and event are committed, as for a submitted transaction; otherwise nothing changes,
// as for an evaluated one or a failed one.
func (l *Ledger) Invoke(cc shim.Chaincode, call Call, commit bool) *Result {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.txSeq++
	stub := &Stub{ledger: l, call: call, txID: fmt.Sprintf("tx%08d", l.txSeq), writes: map[string][]byte{}}
	resp := cc.Invoke(stub)
	res := &Result{TxID: stub.txID, Response: resp, Writes: stub.writes, Event: stub.event, Reads: stub.reads}
	if commit && resp.GetStatus() == shim.OK {
		for k, v := range stub.writes {
			i, found := slices.BinarySearch(l.keys, k)
			switch {
			case v == nil && found:
				delete(l.state, k)
				l.keys = slices.Delete(l.keys, i, i+1)
			case v != nil:
				if !found {
					l.keys = slices.Insert(l.keys, i, k)
				}
				l.state[k] = v
			}
		}
		if stub.event != nil {
			l.events = append(l.events, *stub.event)
		}
	}
	return res
}

// Snapshot returns a copy of the committed state.
func (l *Ledger) Snapshot() map[string][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string][]byte, len(l.state))
	for k, v := range l.state {
		out[k] = append([]byte(nil), v...)
	}
	return out
}

// Restore replaces the committed state with a copy of state, such as a [Ledger.Snapshot]
// rewritten into an older key layout, to test how the contract reads ledgers it did not write.
func (l *Ledger) Restore(state map[string][]byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.state = make(map[string][]byte, len(state))
	l.keys = l.keys[:0]
	for k, v := range state {
		l.state[k] = append([]byte(nil), v...)
		l.keys = append(l.keys, k)
	}
	slices.Sort(l.keys)
}

// Clone returns an independent copy of the ledger: another peer that committed the same
// history.
func (l *Ledger) Clone() *Ledger {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := &Ledger{state: make(map[string][]byte, len(l.state)), keys: slices.Clone(l.keys), events: slices.Clone(l.events), txSeq: l.txSeq}
	for k, v := range l.state {
		c.state[k] = slices.Clone(v)
	}
	return c
}

// Events returns the events of committed transactions, oldest first.
func (l *Ledger) Events() []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Event(nil), l.events...)
}

// Stub implements shim.ChaincodeStubInterface for one transaction.
type Stub struct {
	ledger    *Ledger
	call      Call
	txID      string
	writes    map[string][]byte
	event     *Event
	paginated bool
	reads     int
}

var _ shim.ChaincodeStubInterface = (*Stub)(nil)

var errUnsupported = errors.New("not supported by memstub")

// ErrPaginatedWrite is Fabric's refusal to mix paginated queries and writes in a transaction.
var ErrPaginatedWrite = errors.New("txsimulator: transaction with paginated queries cannot write")

func (s *Stub) GetArgs() [][]byte {
	out := make([][]byte, len(s.call.Args))
	for i, a := range s.call.Args {
		out[i] = []byte(a)
	}
	return out
}
func (s *Stub) GetStringArgs() []string { return append([]string(nil), s.call.Args...) }
func (s *Stub) GetFunctionAndParameters() (string, []string) {
	if len(s.call.Args) == 0 {
		return "", nil
	}
	return s.call.Args[0], append([]string(nil), s.call.Args[1:]...)
}
func (s *Stub) GetArgsSlice() ([]byte, error) { return []byte(strings.Join(s.call.Args, "")), nil }
func (s *Stub) GetTxID() string               { return s.txID }
func (s *Stub) GetChannelID() string          { return "careledger" }
func (s *Stub) InvokeChaincode(string, [][]byte, string) *peer.Response {
	return shim.Error(errUnsupported.Error())
}

func (s *Stub) GetState(key string) ([]byte, error) {
	s.reads++
	if v, ok := s.ledger.state[key]; ok {
		return append([]byte(nil), v...), nil
	}
	return nil, nil
}

func (s *Stub) GetMultipleStates(keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i], _ = s.GetState(k)
	}
	return out, nil
}

func (s *Stub) PutState(key string, value []byte) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if len(value) == 0 {
		// Fabric treats an empty value as a delete.
		value = nil
	}
	if s.paginated {
		return ErrPaginatedWrite
	}
	s.writes[key] = append([]byte(nil), value...)
	if value == nil {
		s.writes[key] = nil
	}
	return nil
}

func (s *Stub) DelState(key string) error {
	if s.paginated {
		return ErrPaginatedWrite
	}
	s.writes[key] = nil
	return nil
}

func (s *Stub) SetStateValidationParameter(string, []byte) error   { return errUnsupported }
func (s *Stub) GetStateValidationParameter(string) ([]byte, error) { return nil, errUnsupported }

func (s *Stub) rangeKeys(start, end string) []string {
	i, _ := slices.BinarySearch(s.ledger.keys, start)
	j := len(s.ledger.keys)
	if end != "" {
		j, _ = slices.BinarySearch(s.ledger.keys, end)
	}
	if j < i {
		return nil
	}
	return slices.Clone(s.ledger.keys[i:j])
}

func (s *Stub) iterator(keys []string) *iter {
	s.reads += 1 + len(keys)
	kvs := make([]*queryresult.KV, len(keys))
	for i, k := range keys {
		kvs[i] = &queryresult.KV{Namespace: "careledger", Key: k, Value: append([]byte(nil), s.ledger.state[k]...)}
	}
	return &iter{kvs: kvs}
}

func (s *Stub) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	for _, k := range []string{startKey, endKey} {
		if k != "" && k[0] == 0 {
			return nil, fmt.Errorf("first character of the key [%s] contains a null character which is not allowed", k)
		}
	}
	if startKey == "" {
		startKey = "\x01"
	}
	return s.iterator(s.rangeKeys(startKey, endKey)), nil
}

func (s *Stub) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.paginate(startKey, endKey, pageSize, bookmark)
}

func (s *Stub) paginate(start, end string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if len(s.writes) > 0 {
		return nil, nil, ErrPaginatedWrite
	}
	if pageSize <= 0 {
		return nil, nil, errors.New("pageSize must be greater than zero")
	}
	s.paginated = true
	if bookmark != "" {
		start = bookmark
	}
	keys := s.rangeKeys(start, end)
	next := ""
	if len(keys) > int(pageSize) {
		next = keys[pageSize]
		keys = keys[:pageSize]
	}
	return s.iterator(keys), &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(keys)), Bookmark: next}, nil
}

func partialRange(objectType string, attrs []string) (string, string, error) {
	start, err := shim.CreateCompositeKey(objectType, attrs)
	if err != nil {
		return "", "", err
	}
	return start, start + string(utf8.MaxRune), nil
}

func (s *Stub) GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := partialRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	return s.iterator(s.rangeKeys(start, end)), nil
}

func (s *Stub) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	start, end, err := partialRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	return s.paginate(start, end, pageSize, bookmark)
}

func (s *Stub) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.paginate("\x00", "\x01", pageSize, bookmark)
}

func (s *Stub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *Stub) SplitCompositeKey(compositeKey string) (string, []string, error) {
	if len(compositeKey) < 2 || compositeKey[0] != 0 || compositeKey[len(compositeKey)-1] != 0 {
		return "", nil, errors.New("not a composite key")
	}
	parts := strings.Split(compositeKey[1:len(compositeKey)-1], "\x00")
	return parts[0], parts[1:], nil
}

func (s *Stub) GetQueryResult(string) (shim.StateQueryIteratorInterface, error) {
	return nil, errUnsupported
}
func (s *Stub) GetQueryResultWithPagination(string, int32, string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return nil, nil, errUnsupported
}
func (s *Stub) GetHistoryForKey(string) (shim.HistoryQueryIteratorInterface, error) {
	return nil, errUnsupported
}
func (s *Stub) GetPrivateData(string, string) ([]byte, error) { return nil, errUnsupported }
func (s *Stub) GetMultiplePrivateData(string, ...string) ([][]byte, error) {
	return nil, errUnsupported
}
func (s *Stub) GetPrivateDataHash(string, string) ([]byte, error) { return nil, errUnsupported }
func (s *Stub) PutPrivateData(string, string, []byte) error       { return errUnsupported }
func (s *Stub) DelPrivateData(string, string) error               { return errUnsupported }
func (s *Stub) PurgePrivateData(string, string) error             { return errUnsupported }
func (s *Stub) SetPrivateDataValidationParameter(string, string, []byte) error {
	return errUnsupported
}
func (s *Stub) GetPrivateDataValidationParameter(string, string) ([]byte, error) {
	return nil, errUnsupported
}
func (s *Stub) GetPrivateDataByRange(string, string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errUnsupported
}
func (s *Stub) GetPrivateDataByPartialCompositeKey(string, string, []string) (shim.StateQueryIteratorInterface, error) {
	return nil, errUnsupported
}
func (s *Stub) GetPrivateDataQueryResult(string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errUnsupported
}

func (s *Stub) GetCreator() ([]byte, error) { return s.call.Creator, nil }
func (s *Stub) GetTransient() (map[string][]byte, error) {
	if s.call.Transient == nil {
		return map[string][]byte{}, nil
	}
	return s.call.Transient, nil
}
func (s *Stub) GetBinding() ([]byte, error)                      { return nil, errUnsupported }
func (s *Stub) GetDecorations() map[string][]byte                { return nil }
func (s *Stub) GetSignedProposal() (*peer.SignedProposal, error) { return nil, errUnsupported }
func (s *Stub) GetTxTimestamp() (*timestamppb.Timestamp, error) {
	return timestamppb.New(s.call.Time), nil
}

func (s *Stub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.event = &Event{TxID: s.txID, Name: name, Payload: append([]byte(nil), payload...)}
	return nil
}

func (s *Stub) StartWriteBatch()        {}
func (s *Stub) FinishWriteBatch() error { return nil }

type iter struct {
	kvs []*queryresult.KV
	i   int
}

func (it *iter) HasNext() bool { return it.i < len(it.kvs) }
func (it *iter) Close() error  { return nil }
func (it *iter) Next() (*queryresult.KV, error) {
	if it.i >= len(it.kvs) {
		return nil, errors.New("no more results")
	}
	kv := it.kvs[it.i]
	it.i++
	return kv, nil
}
