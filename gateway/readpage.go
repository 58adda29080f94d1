package gateway

import (
	"context"
	"fmt"
	"sync"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// Paged is one record of ReadPage: its release, or why it was not released.
type Paged struct {
	*Release
	Err error
}

// readPageParallel bounds the concurrent reads of one ReadPage call. It is as large as a
// listing page usually is, so that every audit report of the page joins one batch of the
// queue (whose commits wait for their batch to fill or a few milliseconds to pass).
const readPageParallel = 64

// ReadPage releases the latest version of each record of a page the ledger listed to the
// caller (GetPatientHistory), as Read releases one record: the ledger's decision for the
// caller, the ciphertext's hash checked against the version the ledger holds, decryption,
// and the access durably queued for the patient's audit trail before anything is returned.
// It differs from Read in where two things come from: the version chain and the decision
// come from the listing, which the ledger made for the caller record by record a moment
// ago (RecordHistory.Read), instead of a GetRecordHistory and a CheckAccess evaluation per
// record, so a page of records costs one evaluation rather than two per record. One record that cannot be released
// degrades only itself (Paged.Err). Reads run concurrently, so their audit reports are
// written to the queue in one batch.
//
// Read and ReadPage release through the same function, so they audit the same way
// (TestReadPageAuditsAsReadDoes).
func (s *Service) ReadPage(ctx context.Context, as *ledger.Client, page []model.RecordHistory, purpose string) []Paged {
	out := make([]Paged, len(page))
	sem := make(chan struct{}, readPageParallel)
	var wg sync.WaitGroup
	for i, h := range page {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i].Release, out[i].Err = s.readListed(ctx, as, h, purpose)
		})
	}
	wg.Wait()
	return out
}

func (s *Service) readListed(ctx context.Context, as *ledger.Client, h model.RecordHistory, purpose string) (*Release, error) {
	// The listing carries the ledger's decision on reading each record, made with the
	// listing itself; the release rests on it (and is audited on it) as on a CheckAccess,
	// for as long as a cached decision would be reused (decisionCache.usable). Without one
	// (a ledger that does not send it, a purpose asked for, a listing gone stale), ask.
	d := h.Read
	if d == nil || purpose != "" || d.RecordID != h.Record.ID || d.Action != model.ActionRead || !s.cache.usable(d, s.now()) {
		var err error
		if d, err = s.decide(ctx, as, h.Record.ID, model.ActionRead, purpose); err != nil {
			return nil, err
		}
	}
	if h.Record.Versions < 1 || h.Record.Versions > len(h.Versions) {
		return nil, fmt.Errorf("%w: the listing of record %s has no version %d", ErrIntegrity, h.Record.ID, h.Record.Versions)
	}
	v := h.Versions[h.Record.Versions-1]
	return s.release(ctx, d, h.Record, v, accessReport(d, h.Record.ID, v.Number, purpose))
}
