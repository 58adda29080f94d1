package network

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Composite key delimiters, as defined by the Fabric shim.
const (
	compositeKeyNamespace = "\x00"
	minUnicodeRune        = rune(0)
	maxUnicodeRune        = utf8.MaxRune
	emptyKeySubstitute    = "\x01"
)

// Errors returned to chaincode for features the embedded ledger does not offer; their text
// follows what a Fabric peer with LevelDB state returns.
var (
	errRichQuery   = errors.New("ExecuteQuery not supported for leveldb")
	errPrivateData = errors.New("private data collections are not supported by the embedded ledger")
	errKeyLevelEP  = errors.New("key-level endorsement policies are not supported by the embedded ledger")
)

// MaxKeySize is the longest state key a chaincode may write. The store's own limit is 32 KiB
// per key, including the namespace and history suffix; a longer key must be refused at
// simulation and validation rather than fail a block commit.
const MaxKeySize = 16 * 1024

// maxTxIDSize bounds transaction IDs the node indexes; Fabric's are 64 hex characters.
const maxTxIDSize = 128

// txContext is what a chaincode sees of the proposal it executes.
type txContext struct {
	channel    string
	txID       string
	args       [][]byte
	creator    []byte
	transient  map[string][]byte
	timestamp  *timestamppb.Timestamp
	signedProp *peer.SignedProposal
	nonce      []byte
}

// simulation is the embedded ledger's shim.ChaincodeStubInterface: it executes a chaincode
// against a consistent snapshot of the world state and records what it read and wrote as a
// Fabric read/write set. Like Fabric's transaction simulator it does not read its own writes.
type simulation struct {
	ctx  *txContext
	ns   string
	snap *bolt.Tx

	reads     map[string]*kvrwset.KVRead
	writes    map[string]*kvrwset.KVWrite
	ranges    []*rangeIterator
	event     *peer.ChaincodeEvent
	paginated bool
	wrote     bool
}

var _ shim.ChaincodeStubInterface = (*simulation)(nil)

func newSimulation(ctx *txContext, ns string, snap *bolt.Tx) *simulation {
	return &simulation{ctx: ctx, ns: ns, snap: snap,
		reads: map[string]*kvrwset.KVRead{}, writes: map[string]*kvrwset.KVWrite{}}
}

// GetArgs returns the invocation arguments.
func (s *simulation) GetArgs() [][]byte { return s.ctx.args }

// GetStringArgs returns the invocation arguments as strings.
func (s *simulation) GetStringArgs() []string {
	out := make([]string, len(s.ctx.args))
	for i, a := range s.ctx.args {
		out[i] = string(a)
	}
	return out
}

// GetFunctionAndParameters splits the arguments into function name and parameters.
func (s *simulation) GetFunctionAndParameters() (string, []string) {
	all := s.GetStringArgs()
	if len(all) == 0 {
		return "", []string{}
	}
	return all[0], all[1:]
}

// GetArgsSlice returns the arguments concatenated.
func (s *simulation) GetArgsSlice() ([]byte, error) { return bytes.Join(s.ctx.args, nil), nil }

// GetTxID returns the transaction ID of the proposal.
func (s *simulation) GetTxID() string { return s.ctx.txID }

// GetChannelID returns the channel of the proposal.
func (s *simulation) GetChannelID() string { return s.ctx.channel }

// InvokeChaincode is not available: the embedded node hosts one chaincode.
func (s *simulation) InvokeChaincode(name string, _ [][]byte, _ string) *peer.Response {
	return &peer.Response{Status: shim.ERROR, Message: fmt.Sprintf("chaincode-to-chaincode invocation of %q is not supported by the embedded ledger", name)}
}

// GetState returns the committed value of key, or nil, and records the read.
func (s *simulation) GetState(key string) ([]byte, error) {
	v, ver, ok, err := s.getCommitted(key)
	if err != nil {
		return nil, err
	}
	if _, seen := s.reads[key]; !seen {
		r := &kvrwset.KVRead{Key: key}
		if ok {
			r.Version = &kvrwset.Version{BlockNum: ver.block, TxNum: ver.tx}
		}
		s.reads[key] = r
	}
	return v, nil
}

func (s *simulation) getCommitted(key string) ([]byte, version, bool, error) {
	raw := s.snap.Bucket(bucketState).Get(stateKey(s.ns, key))
	if raw == nil {
		return nil, version{}, false, nil
	}
	ver, v, err := decodeState(raw)
	if err != nil {
		return nil, version{}, false, fmt.Errorf("get state %q: %w", key, err)
	}
	return bytes.Clone(v), ver, true, nil
}

// GetMultipleStates returns the committed values of keys.
func (s *simulation) GetMultipleStates(keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		v, err := s.GetState(k)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func (s *simulation) checkWrite(key string) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if len(key) > MaxKeySize {
		return fmt.Errorf("key of %d bytes is longer than the maximum of %d", len(key), MaxKeySize)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("invalid key. Key must be a valid UTF-8 string: [%x]", key)
	}
	if s.paginated {
		return errors.New("transaction has already performed a paginated query. Writes are not allowed")
	}
	s.wrote = true
	return nil
}

// PutState records a write of value to key.
func (s *simulation) PutState(key string, value []byte) error {
	if err := s.checkWrite(key); err != nil {
		return err
	}
	s.writes[key] = &kvrwset.KVWrite{Key: key, Value: bytes.Clone(value)}
	return nil
}

// DelState records the deletion of key.
func (s *simulation) DelState(key string) error {
	if err := s.checkWrite(key); err != nil {
		return err
	}
	s.writes[key] = &kvrwset.KVWrite{Key: key, IsDelete: true}
	return nil
}

// SetStateValidationParameter is not supported.
func (s *simulation) SetStateValidationParameter(string, []byte) error { return errKeyLevelEP }

// GetStateValidationParameter returns no key-level policy: none can be set.
func (s *simulation) GetStateValidationParameter(string) ([]byte, error) { return nil, nil }

// GetStateByRange iterates keys in [startKey, endKey); an empty endKey means to the end.
func (s *simulation) GetStateByRange(startKey, endKey string) (shim.StateQueryIteratorInterface, error) {
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, err
	}
	return s.newRange(startKey, endKey), nil
}

// GetStateByRangeWithPagination returns one page of GetStateByRange starting at bookmark.
func (s *simulation) GetStateByRangeWithPagination(startKey, endKey string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if startKey == "" {
		startKey = emptyKeySubstitute
	}
	if err := validateSimpleKeys(startKey, endKey); err != nil {
		return nil, nil, err
	}
	return s.paginatedRange(startKey, endKey, pageSize, bookmark)
}

// GetStateByPartialCompositeKey iterates composite keys with the given prefix attributes.
func (s *simulation) GetStateByPartialCompositeKey(objectType string, keys []string) (shim.StateQueryIteratorInterface, error) {
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, err
	}
	return s.newRange(start, end), nil
}

// GetStateByPartialCompositeKeyWithPagination returns one page of a partial composite key query.
func (s *simulation) GetStateByPartialCompositeKeyWithPagination(objectType string, keys []string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	start, end, err := partialCompositeRange(objectType, keys)
	if err != nil {
		return nil, nil, err
	}
	return s.paginatedRange(start, end, pageSize, bookmark)
}

// GetAllStatesCompositeKeyWithPagination returns one page of all composite keys.
func (s *simulation) GetAllStatesCompositeKeyWithPagination(pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return s.paginatedRange(compositeKeyNamespace, compositeKeyNamespace+string(maxUnicodeRune), pageSize, bookmark)
}

// CreateCompositeKey joins objectType and attributes the way the Fabric shim does.
func (s *simulation) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return createCompositeKey(objectType, attributes)
}

// SplitCompositeKey splits a key made by CreateCompositeKey.
func (s *simulation) SplitCompositeKey(compositeKey string) (string, []string, error) {
	return splitCompositeKey(compositeKey)
}

// GetQueryResult is not supported: the embedded ledger's state database, like LevelDB, has no
// rich queries.
func (s *simulation) GetQueryResult(string) (shim.StateQueryIteratorInterface, error) {
	return nil, errRichQuery
}

// GetQueryResultWithPagination is not supported, see GetQueryResult.
func (s *simulation) GetQueryResultWithPagination(string, int32, string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	return nil, nil, errRichQuery
}

// GetHistoryForKey returns every committed modification of key, newest first, as Fabric does.
func (s *simulation) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	if key == "" {
		return nil, errors.New("key must not be an empty string")
	}
	prefix := historyPrefix(s.ns, key)
	c := s.snap.Bucket(bucketHistory).Cursor()
	// Seek past the last entry of the key, then step back.
	upper := append(bytes.Clone(prefix), bytes.Repeat([]byte{0xff}, 17)...)
	k, v := c.Seek(upper)
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	return &historyIterator{c: c, prefix: prefix, k: k, v: v}, nil
}

// Private data is not available on the embedded ledger.
func (s *simulation) GetPrivateData(string, string) ([]byte, error) { return nil, errPrivateData }

// GetMultiplePrivateData is not supported, see GetPrivateData.
func (s *simulation) GetMultiplePrivateData(string, ...string) ([][]byte, error) {
	return nil, errPrivateData
}

// GetPrivateDataHash is not supported, see GetPrivateData.
func (s *simulation) GetPrivateDataHash(string, string) ([]byte, error) { return nil, errPrivateData }

// PutPrivateData is not supported, see GetPrivateData.
func (s *simulation) PutPrivateData(string, string, []byte) error { return errPrivateData }

// DelPrivateData is not supported, see GetPrivateData.
func (s *simulation) DelPrivateData(string, string) error { return errPrivateData }

// PurgePrivateData is not supported, see GetPrivateData.
func (s *simulation) PurgePrivateData(string, string) error { return errPrivateData }

// SetPrivateDataValidationParameter is not supported, see GetPrivateData.
func (s *simulation) SetPrivateDataValidationParameter(string, string, []byte) error {
	return errPrivateData
}

// GetPrivateDataValidationParameter is not supported, see GetPrivateData.
func (s *simulation) GetPrivateDataValidationParameter(string, string) ([]byte, error) {
	return nil, errPrivateData
}

// GetPrivateDataByRange is not supported, see GetPrivateData.
func (s *simulation) GetPrivateDataByRange(string, string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errPrivateData
}

// GetPrivateDataByPartialCompositeKey is not supported, see GetPrivateData.
func (s *simulation) GetPrivateDataByPartialCompositeKey(string, string, []string) (shim.StateQueryIteratorInterface, error) {
	return nil, errPrivateData
}

// GetPrivateDataQueryResult is not supported, see GetPrivateData.
func (s *simulation) GetPrivateDataQueryResult(string, string) (shim.StateQueryIteratorInterface, error) {
	return nil, errPrivateData
}

// GetCreator returns the serialized identity that signed the proposal.
func (s *simulation) GetCreator() ([]byte, error) { return s.ctx.creator, nil }

// GetTransient returns the proposal's transient map, which never reaches the ledger.
func (s *simulation) GetTransient() (map[string][]byte, error) { return s.ctx.transient, nil }

// GetBinding returns SHA-256(nonce || creator || epoch), Fabric's proposal binding.
func (s *simulation) GetBinding() ([]byte, error) {
	h := sha256.New()
	h.Write(s.ctx.nonce)
	h.Write(s.ctx.creator)
	var epoch [8]byte
	binary.LittleEndian.PutUint64(epoch[:], 0)
	h.Write(epoch[:])
	return h.Sum(nil), nil
}

// GetDecorations returns no decorations: the embedded node runs no decorator plugins.
func (s *simulation) GetDecorations() map[string][]byte { return map[string][]byte{} }

// GetSignedProposal returns the proposal as the client signed it.
func (s *simulation) GetSignedProposal() (*peer.SignedProposal, error) { return s.ctx.signedProp, nil }

// GetTxTimestamp returns the client's timestamp from the proposal's channel header.
func (s *simulation) GetTxTimestamp() (*timestamppb.Timestamp, error) { return s.ctx.timestamp, nil }

// SetEvent sets the transaction's single chaincode event; a later call replaces it.
func (s *simulation) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.event = &peer.ChaincodeEvent{ChaincodeId: s.ns, TxId: s.ctx.txID, EventName: name, Payload: bytes.Clone(payload)}
	return nil
}

// StartWriteBatch is a no-op: in-process writes cost no round trip to batch.
func (s *simulation) StartWriteBatch() {}

// FinishWriteBatch is a no-op, see StartWriteBatch.
func (s *simulation) FinishWriteBatch() error { return nil }

// readWriteSet returns the simulation's result in Fabric's form, keys sorted as Fabric sorts
// them so that equal simulations give byte-identical read/write sets.
func (s *simulation) readWriteSet() *kvrwset.KVRWSet {
	rw := &kvrwset.KVRWSet{}
	for _, k := range sortedKeys(s.reads) {
		rw.Reads = append(rw.Reads, s.reads[k])
	}
	for _, r := range s.ranges {
		rw.RangeQueriesInfo = append(rw.RangeQueriesInfo, r.result())
	}
	for _, k := range sortedKeys(s.writes) {
		rw.Writes = append(rw.Writes, s.writes[k])
	}
	return rw
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// newRange starts a lazy range scan over [start, end) that records what it returns.
func (s *simulation) newRange(start, end string) *rangeIterator {
	it := &rangeIterator{
		info:   &kvrwset.RangeQueryInfo{StartKey: start, EndKey: end},
		prefix: stateKey(s.ns, ""),
		end:    end,
		c:      s.snap.Bucket(bucketState).Cursor(),
	}
	it.k, it.v = it.c.Seek(stateKey(s.ns, start))
	it.clip()
	s.ranges = append(s.ranges, it)
	return it
}

func (s *simulation) paginatedRange(start, end string, pageSize int32, bookmark string) (shim.StateQueryIteratorInterface, *peer.QueryResponseMetadata, error) {
	if pageSize <= 0 {
		return nil, nil, errors.New("pagesize must be greater than zero")
	}
	if s.wrote {
		return nil, nil, errors.New("transaction has already performed a write. Paginated queries are not allowed")
	}
	s.paginated = true
	if bookmark != "" {
		start = bookmark
	}
	it := s.newRange(start, end)
	// A page is fetched whole, as the peer fetches it, so the metadata can name the bookmark.
	var page []*queryresult.KV
	for len(page) < int(pageSize) && it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, nil, err
		}
		page = append(page, kv)
	}
	md := &peer.QueryResponseMetadata{FetchedRecordsCount: int32(len(page))}
	if it.k != nil {
		md.Bookmark = strings.TrimPrefix(string(it.k), string(it.prefix))
	}
	return &sliceIterator{kvs: page}, md, nil
}
