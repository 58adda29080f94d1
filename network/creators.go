package network

import (
	"crypto/sha256"
	"sync"
)

// recentCreators remembers who created the transactions of the last blocks committed, so that
// CommitStatus, which a client calls right after submitting, need not read a block back to
// check that the caller created the transaction it asks about. Two generations of bounded
// size keep at least the last recentCreatorsSize transactions; older ones are looked up in
// the block.
type recentCreators struct {
	mu        sync.Mutex
	cur, prev map[string][32]byte
}

const recentCreatorsSize = 16384

func newRecentCreators() *recentCreators {
	return &recentCreators{cur: map[string][32]byte{}}
}

// add records the creator of txID, unless txID is known: like the ledger's index, the first
// transaction with an ID is the one that counts.
func (r *recentCreators) add(txID string, creator []byte) {
	h := sha256.Sum256(creator)
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.cur[txID]; ok {
		return
	}
	if _, ok := r.prev[txID]; ok {
		return
	}
	if len(r.cur) >= recentCreatorsSize {
		r.prev, r.cur = r.cur, make(map[string][32]byte, recentCreatorsSize)
	}
	r.cur[txID] = h
}

// createdBy reports whether txID is known and was created by creator.
func (r *recentCreators) createdBy(txID string, creator []byte) (created, known bool) {
	r.mu.Lock()
	h, ok := r.cur[txID]
	if !ok {
		h, ok = r.prev[txID]
	}
	r.mu.Unlock()
	if !ok {
		return false, false
	}
	return h == sha256.Sum256(creator), true
}
