package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

// Writer writes a batch of reports to the ledger: the typed ledger client of a gateway
// identity satisfies it.
type Writer interface {
	RecordAccesses(ctx context.Context, batch []model.AccessReport) (*model.AuditResult, error)
}

// Flusher moves queued reports to the ledger. Reports are written by the gateway identity of
// the accessor's organisation (a gateway may only report its own organisation's accesses).
type Flusher struct {
	// mu serialises flushes: two concurrent flushes would send the same reports in two
	// transactions, and the later would fail on a read conflict.
	mu       sync.Mutex
	queue    *Queue
	writers  map[string]Writer // by MSP ID
	batch    int
	interval time.Duration
	linger   time.Duration
	log      *slog.Logger
	kick     chan struct{}
}

// FlusherOption configures a Flusher.
type FlusherOption func(*Flusher)

// WithBatchSize sets the most reports per transaction (default 200, at most 500).
func WithBatchSize(n int) FlusherOption { return func(f *Flusher) { f.batch = min(max(n, 1), 500) } }

// WithInterval sets how often the queue is flushed when nobody asks (default 250 ms).
func WithInterval(d time.Duration) FlusherOption { return func(f *Flusher) { f.interval = d } }

// WithLinger sets how long a kicked flush waits for more reports (default 100 ms; 0 flushes
// at once).
//
// Each audit transaction carries some 5 KB of certificates and signatures (the gateway's
// certificate twice, both endorsements) besides its reports, so a read audited in a
// transaction of its own costs the ledger about 7 KB and one audited with a hundred others
// about 1 KB. Reads are queued durably before their content is released, so waiting loses
// nothing; the patient sees the access in their trail that much later.
func WithLinger(d time.Duration) FlusherOption { return func(f *Flusher) { f.linger = max(d, 0) } }

// WithLogger sets the logger; reports are logged by ID only.
func WithLogger(l *slog.Logger) FlusherOption { return func(f *Flusher) { f.log = l } }

// NewFlusher returns a flusher writing through the given gateway identities, keyed by MSP ID.
func NewFlusher(q *Queue, writers map[string]Writer, opts ...FlusherOption) *Flusher {
	f := &Flusher{queue: q, writers: writers, batch: 200, interval: 250 * time.Millisecond, linger: 100 * time.Millisecond, log: slog.New(slog.DiscardHandler), kick: make(chan struct{}, 1)}
	for _, o := range opts {
		o(f)
	}
	return f
}

// Kick asks the flusher to flush soon, without waiting.
func (f *Flusher) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run flushes until ctx ends, then makes one last attempt.
func (f *Flusher) Run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := f.Flush(final); err != nil {
				f.log.Warn("audit flush at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
		case <-f.kick:
			if !f.lingerFor(ctx) {
				continue // ctx ended: the next turn makes the last attempt
			}
		}
		if err := f.Flush(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("audit flush", "err", err)
		}
	}
}

// lingerFor waits the linger after a kick, reporting false if ctx ended first.
func (f *Flusher) lingerFor(ctx context.Context) bool {
	if f.linger == 0 {
		return true
	}
	t := time.NewTimer(f.linger)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Flush writes every queued report to the ledger, a batch per transaction. It stops at the
// first failure that is not the reports' fault (the ledger being unreachable) and leaves the
// rest queued; a batch the ledger refuses is split until the refused reports are isolated and
// set aside as rejected.
func (f *Flusher) Flush(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		items, err := f.queue.Pending(f.batch * 4)
		if err != nil {
			return fmt.Errorf("flush audit queue: %w", err)
		}
		if len(items) == 0 {
			return nil
		}
		for _, group := range byMSP(items) {
			for start := 0; start < len(group); start += f.batch {
				if err := f.write(ctx, group[start:min(start+f.batch, len(group))]); err != nil {
					return err
				}
			}
		}
	}
}

func byMSP(items []Item) [][]Item {
	groups := map[string][]Item{}
	for _, it := range items {
		groups[it.Report.Accessor.MSP] = append(groups[it.Report.Accessor.MSP], it)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]Item, len(keys))
	for i, k := range keys {
		out[i] = groups[k]
	}
	return out
}

func (f *Flusher) write(ctx context.Context, items []Item) error {
	w := f.writers[items[0].Report.Accessor.MSP]
	if w == nil {
		for _, it := range items {
			if err := f.queue.Reject(it, errNoWriter.Error()); err != nil {
				return err
			}
			f.log.Error("audit report rejected", "report", it.Report.ID, "reason", errNoWriter)
		}
		return nil
	}
	batch := make([]model.AccessReport, len(items))
	seqs := make([]uint64, len(items))
	for i, it := range items {
		batch[i], seqs[i] = it.Report, it.Seq
	}
	// Reports that carry a member's certificate and assertion are about 1.5 KiB each: keep
	// each transaction's argument within what the chaincode accepts.
	if enc, err := json.Marshal(batch); err == nil && len(enc) > model.MaxArgumentBytes && len(items) > 1 {
		return f.split(ctx, items)
	}
	_, err := w.RecordAccesses(ctx, batch)
	// A read conflict means another writer (another gateway process, say) recorded some of
	// these reports first; sending the batch again is safe, the ledger skips what it holds.
	for attempt := 0; attempt < 3 && errors.Is(err, &model.Error{Code: model.CodeConflict}); attempt++ {
		_, err = w.RecordAccesses(ctx, batch)
	}
	var refused *model.Error
	switch {
	case err == nil:
		return f.queue.Done(seqs)
	case errors.As(err, &refused) && refused.Code != model.CodeInternal:
		if len(items) == 1 && items[0].Report.Assertion != nil {
			// The content was released; a refused assertion (replayed through another
			// gateway process, say) must not take the access out of the trail. Record it on
			// the gateway's word, which the trail then says.
			f.log.Warn("member's assertion refused by the ledger; recording the access as gateway-asserted", "report", items[0].Report.ID, "code", refused.Code)
			it := items[0]
			it.Report.Assertion, it.Report.Certificate = nil, ""
			if _, err := w.RecordAccesses(ctx, []model.AccessReport{it.Report}); err == nil {
				return f.queue.Done([]uint64{it.Seq})
			}
		}
		if len(items) == 1 {
			f.log.Error("audit report rejected by the ledger", "report", items[0].Report.ID, "code", refused.Code)
			return f.queue.Reject(items[0], refused.Error())
		}
		return f.split(ctx, items)
	default:
		return fmt.Errorf("write %d access reports: %w", len(items), err)
	}
}

// split writes the two halves of items in turn.
func (f *Flusher) split(ctx context.Context, items []Item) error {
	half := len(items) / 2
	if err := f.write(ctx, items[:half]); err != nil {
		return err
	}
	return f.write(ctx, items[half:])
}
