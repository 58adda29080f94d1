package network_test

import (
	"encoding/json"
	"strconv"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
)

// testChaincode is a small raw-shim chaincode that exercises the stub: state, ranges,
// composite keys, pagination, history, events, identity and transient data.
type testChaincode struct{}

func (testChaincode) Init(shim.ChaincodeStubInterface) *peer.Response { return shim.Success(nil) }

type kv struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type page struct {
	KVs      []kv   `json:"kvs"`
	Bookmark string `json:"bookmark"`
	Count    int32  `json:"count"`
}

type mod struct {
	TxID     string `json:"txId"`
	Value    string `json:"value"`
	IsDelete bool   `json:"isDelete"`
}

func jsonResponse(v any) *peer.Response {
	b, err := json.Marshal(v)
	if err != nil {
		return shim.Error(err.Error())
	}
	return shim.Success(b)
}

func collect(it shim.StateQueryIteratorInterface) ([]kv, error) {
	defer it.Close()
	out := []kv{}
	for it.HasNext() {
		r, err := it.Next()
		if err != nil {
			return nil, err
		}
		out = append(out, kv{r.GetKey(), string(r.GetValue())})
	}
	return out, nil
}

func (testChaincode) Invoke(stub shim.ChaincodeStubInterface) *peer.Response {
	fn, args := stub.GetFunctionAndParameters()
	switch fn {
	case "put":
		if err := stub.PutState(args[0], []byte(args[1])); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.SetEvent("put", []byte(args[0])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(stub.GetTxID()))
	case "get":
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(v)
	case "del":
		if err := stub.DelState(args[0]); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "incr":
		// Read-modify-write: two concurrent increments conflict under MVCC.
		v, err := stub.GetState(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		n, _ := strconv.Atoi(string(v))
		if err := stub.PutState(args[0], []byte(strconv.Itoa(n+1))); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(strconv.Itoa(n + 1)))
	case "count":
		// Range read then write: a key inserted meanwhile is a phantom.
		it, err := stub.GetStateByRange(args[0], args[1])
		if err != nil {
			return shim.Error(err.Error())
		}
		kvs, err := collect(it)
		if err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState("count", []byte(strconv.Itoa(len(kvs)))); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success([]byte(strconv.Itoa(len(kvs))))
	case "range":
		it, err := stub.GetStateByRange(args[0], args[1])
		if err != nil {
			return shim.Error(err.Error())
		}
		kvs, err := collect(it)
		if err != nil {
			return shim.Error(err.Error())
		}
		return jsonResponse(kvs)
	case "rangepage":
		size, _ := strconv.Atoi(args[2])
		it, md, err := stub.GetStateByRangeWithPagination(args[0], args[1], int32(size), args[3])
		if err != nil {
			return shim.Error(err.Error())
		}
		kvs, err := collect(it)
		if err != nil {
			return shim.Error(err.Error())
		}
		return jsonResponse(page{KVs: kvs, Bookmark: md.GetBookmark(), Count: md.GetFetchedRecordsCount()})
	case "putc":
		key, err := stub.CreateCompositeKey(args[0], args[1:len(args)-1])
		if err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState(key, []byte(args[len(args)-1])); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "partial":
		it, err := stub.GetStateByPartialCompositeKey(args[0], args[1:])
		if err != nil {
			return shim.Error(err.Error())
		}
		kvs, err := collect(it)
		if err != nil {
			return shim.Error(err.Error())
		}
		for i := range kvs {
			_, attrs, err := stub.SplitCompositeKey(kvs[i].Key)
			if err != nil {
				return shim.Error(err.Error())
			}
			b, _ := json.Marshal(attrs)
			kvs[i].Key = string(b)
		}
		return jsonResponse(kvs)
	case "partialpage":
		size, _ := strconv.Atoi(args[1])
		it, md, err := stub.GetStateByPartialCompositeKeyWithPagination(args[0], nil, int32(size), args[2])
		if err != nil {
			return shim.Error(err.Error())
		}
		kvs, err := collect(it)
		if err != nil {
			return shim.Error(err.Error())
		}
		return jsonResponse(page{KVs: kvs, Bookmark: md.GetBookmark(), Count: md.GetFetchedRecordsCount()})
	case "pagethenwrite":
		if _, _, err := stub.GetStateByRangeWithPagination("", "", 1, ""); err != nil {
			return shim.Error(err.Error())
		}
		if err := stub.PutState("x", []byte("y")); err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(nil)
	case "history":
		it, err := stub.GetHistoryForKey(args[0])
		if err != nil {
			return shim.Error(err.Error())
		}
		defer it.Close()
		out := []mod{}
		for it.HasNext() {
			m, err := it.Next()
			if err != nil {
				return shim.Error(err.Error())
			}
			out = append(out, mod{TxID: m.GetTxId(), Value: string(m.GetValue()), IsDelete: m.GetIsDelete()})
		}
		return jsonResponse(out)
	case "whoami":
		mspID, err := cid.GetMSPID(stub)
		if err != nil {
			return shim.Error(err.Error())
		}
		role, _, err := cid.GetAttributeValue(stub, "role")
		if err != nil {
			return shim.Error(err.Error())
		}
		eid, _, err := cid.GetAttributeValue(stub, "hf.EnrollmentID")
		if err != nil {
			return shim.Error(err.Error())
		}
		return jsonResponse(map[string]string{"msp": mspID, "role": role, "enrollmentID": eid})
	case "transient":
		t, err := stub.GetTransient()
		if err != nil {
			return shim.Error(err.Error())
		}
		return shim.Success(t[args[0]])
	case "txinfo":
		ts, err := stub.GetTxTimestamp()
		if err != nil {
			return shim.Error(err.Error())
		}
		sp, err := stub.GetSignedProposal()
		if err != nil || sp == nil {
			return shim.Error("no signed proposal")
		}
		return jsonResponse(map[string]any{"txid": stub.GetTxID(), "channel": stub.GetChannelID(), "seconds": ts.GetSeconds()})
	case "fail":
		return shim.Error("deliberate failure: " + args[0])
	case "panic":
		panic("deliberate panic")
	}
	return shim.Error("unknown function " + fn)
}
