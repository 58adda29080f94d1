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
// caller, the ciphertext's hash checked against the version the ledger holds, decryption, and
// the access durably queued for the patient's audit trail before anything is returned. It
// differs from Read in one step only: the listing, which the ledger authorised for the caller
// record by record a moment ago, gives the version, so a record whose read decision is in the
// decision cache costs no further evaluation (see decisionCache for why that cannot widen
// access), and one whose listing carried the ledger's read decision (RecordHistory.Read) costs
// none while that decision is as fresh as a cached one; any other costs one AuthorizeRead, as
// Read does. One record that cannot be
// released degrades only itself (Paged.Err). Reads run concurrently, so their audit reports
// are written to the queue in one batch.
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
	if h.Record.Versions < 1 || h.Record.Versions > len(h.Versions) {
		return nil, fmt.Errorf("%w: the listing of record %s has no version %d", ErrIntegrity, h.Record.ID, h.Record.Versions)
	}
	v := h.Versions[h.Record.Versions-1]
	if d, ok := s.cache.get(cacheKey(as.Key(), h.Record.ID, model.ActionRead, purpose), s.now()); ok {
		// The read happens now, on a decision the ledger took a moment ago: the audit report
		// says when the content was released, and the ledger re-decides it at that time.
		return s.release(ctx, d, h.Record, v, accessReport(d, h.Record.ID, v.Number, purpose, s.now()))
	}
	// The listing carries the ledger's decision on reading each record, made with the listing
	// itself (RecordHistory.Read); the release rests on it (and is audited on it) for as long
	// as a cached decision would be reused (decisionCache.usable). Without one (a ledger that
	// does not send it, a purpose asked for, a listing gone stale), ask.
	if d := h.Read; d != nil && purpose == "" && d.RecordID == h.Record.ID && d.Action == model.ActionRead && s.cache.usable(d, s.now()) {
		return s.release(ctx, d, h.Record, v, accessReport(d, h.Record.ID, v.Number, purpose, s.now()))
	}
	a, err := s.authorize(ctx, as, h.Record.ID, v.Number, purpose)
	if err != nil {
		return nil, err
	}
	return s.release(ctx, &a.Decision, *a.Record, *a.Version, accessReport(&a.Decision, h.Record.ID, a.Version.Number, purpose, a.Decision.DecidedAt))
}
