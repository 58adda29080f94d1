package network

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/rwset/kvrwset"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
)

// rangeIterator walks the state bucket lazily through a cursor of the snapshot.
type rangeIterator struct {
	info   *kvrwset.RangeQueryInfo
	reads  []*kvrwset.KVRead
	prefix []byte
	end    string
	c      *bolt.Cursor
	k, v   []byte
	closed bool
}

// clip ends the iteration once the cursor leaves the namespace or the range.
func (it *rangeIterator) clip() {
	if it.k == nil {
		return
	}
	if !bytes.HasPrefix(it.k, it.prefix) || it.end != "" && string(it.k[len(it.prefix):]) >= it.end {
		it.k, it.v = nil, nil
	}
}

// HasNext reports whether Next will return a result.
func (it *rangeIterator) HasNext() bool { return !it.closed && it.k != nil }

// Next returns the next key and value in key order.
func (it *rangeIterator) Next() (*queryresult.KV, error) {
	if !it.HasNext() {
		return nil, errors.New("no such key")
	}
	ver, val, err := decodeState(it.v)
	if err != nil {
		return nil, err
	}
	key := string(it.k[len(it.prefix):])
	it.reads = append(it.reads, &kvrwset.KVRead{Key: key, Version: &kvrwset.Version{BlockNum: ver.block, TxNum: ver.tx}})
	kv := &queryresult.KV{Key: key, Value: bytes.Clone(val)}
	it.k, it.v = it.c.Next()
	it.clip()
	return kv, nil
}

// Close stops the iteration; the reads so far stay recorded for validation.
func (it *rangeIterator) Close() error {
	it.closed = true
	return nil
}

// result is the RangeQueryInfo a validator re-executes to detect phantom reads.
func (it *rangeIterator) result() *kvrwset.RangeQueryInfo {
	it.info.ItrExhausted = it.k == nil
	it.info.ReadsInfo = &kvrwset.RangeQueryInfo_RawReads{RawReads: &kvrwset.QueryReads{KvReads: it.reads}}
	return it.info
}

// sliceIterator serves an already fetched page.
type sliceIterator struct {
	kvs []*queryresult.KV
	i   int
}

// HasNext reports whether the page has more results.
func (it *sliceIterator) HasNext() bool { return it.i < len(it.kvs) }

// Next returns the next result of the page.
func (it *sliceIterator) Next() (*queryresult.KV, error) {
	if !it.HasNext() {
		return nil, errors.New("no such key")
	}
	it.i++
	return it.kvs[it.i-1], nil
}

// Close releases nothing: the page is already in memory.
func (it *sliceIterator) Close() error { return nil }

// historyIterator walks a key's history entries backwards.
type historyIterator struct {
	c      *bolt.Cursor
	prefix []byte
	k, v   []byte
}

// HasNext reports whether older modifications remain.
func (it *historyIterator) HasNext() bool {
	return it.k != nil && bytes.HasPrefix(it.k, it.prefix) && len(it.k) == len(it.prefix)+16
}

// Next returns the next older modification.
func (it *historyIterator) Next() (*queryresult.KeyModification, error) {
	if !it.HasNext() {
		return nil, errors.New("no such key")
	}
	km := &queryresult.KeyModification{}
	if err := proto.Unmarshal(it.v, km); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	it.k, it.v = it.c.Prev()
	return km, nil
}

// Close ends the iteration.
func (it *historyIterator) Close() error {
	it.k = nil
	return nil
}
