package contract

import (
	"encoding/base64"
	"strings"

	"github.com/careledger/careledger/chaincode/model"
)

const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// checkPageSize validates a requested page size; 0 means the default.
func checkPageSize(n int) (int, error) {
	switch {
	case n == 0:
		return defaultPageSize, nil
	case n < 0 || n > maxPageSize:
		return 0, model.Errorf(model.CodeInvalidArgument, "pageSize must be between 1 and %d", maxPageSize)
	}
	return n, nil
}

// page lists entries under a partial composite key, calling keep for each until size entries
// were kept. It returns the bookmark to continue from ("" at the end). Bookmarks are the Fabric
// bookmark (the key to resume at) in base64url, checked to lie under the listed prefix so that a
// crafted bookmark cannot read another patient's entries.
//
// Fabric allows paginated queries only in read-only transactions, so listing transactions must
// be evaluated.
func (t *txn) page(objectType string, attrs []string, bookmark string, size int, keep func(key string, value []byte) (bool, error)) (string, error) {
	prefix := t.key(objectType, attrs...)
	resume, err := decodeBookmark(bookmark, prefix)
	if err != nil {
		return "", err
	}
	kept := 0
	for {
		// Ask for exactly the number still wanted, so every fetched entry is consumed and the
		// bookmark Fabric returns is the right place to resume.
		it, meta, err := t.stub.GetStateByPartialCompositeKeyWithPagination(objectType, attrs, int32(size-kept), resume)
		if err != nil {
			return "", model.Errorf(model.CodeInternal, "query state: %v", err)
		}
		for it.HasNext() {
			kv, err := it.Next()
			if err != nil {
				it.Close()
				return "", model.Errorf(model.CodeInternal, "query state: %v", err)
			}
			ok, err := keep(kv.Key, kv.Value)
			if err != nil {
				it.Close()
				return "", err
			}
			if ok {
				kept++
			}
		}
		it.Close()
		resume = ""
		if meta != nil {
			resume = meta.GetBookmark()
		}
		if resume == "" || !strings.HasPrefix(resume, prefix) {
			return "", nil
		}
		if kept >= size {
			return base64.RawURLEncoding.EncodeToString([]byte(resume)), nil
		}
	}
}

func decodeBookmark(bookmark, prefix string) (string, error) {
	if bookmark == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(bookmark)
	if err != nil || !strings.HasPrefix(string(b), prefix) {
		return "", model.Errorf(model.CodeInvalidArgument, "bookmark does not belong to this listing")
	}
	return string(b), nil
}
