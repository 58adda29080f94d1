package gateway

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/google/uuid"
)

// Refused attempts are what a patient most wants to see in their trail, so the read path
// reports each refusal of a member through the same durable audit queue as releases. Two
// bounds keep a prober from flooding the queue, the ledger or a trail: the gateway reports at
// most maxRefusalReports refusals per accessor per model.RefusalWindow (and tracks at most
// maxRefusalAccessors accessors at once, dropping reports beyond that), and the ledger writes
// at most one refused attempt per accessor and patient per window whatever gateways report,
// and only on records that exist and that it refuses for the same reason.

const (
	maxRefusalReports   = 20
	maxRefusalAccessors = 10000
)

// refusalLimiter counts refusal reports per accessor in fixed windows.
type refusalLimiter struct {
	mu      sync.Mutex
	start   time.Time
	counts  map[string]int
	dropped int
}

func (l *refusalLimiter) allow(accessor string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.counts == nil || now.Sub(l.start) >= model.RefusalWindow || now.Before(l.start) {
		l.start, l.counts = now, map[string]int{}
	}
	n, ok := l.counts[accessor]
	if (!ok && len(l.counts) >= maxRefusalAccessors) || n >= maxRefusalReports {
		l.dropped++
		return false
	}
	l.counts[accessor] = n + 1
	return true
}

// reportRefusal queues a refused attempt for the patient's trail. It never fails the caller's
// request: the refusal is the answer, the report is best effort.
func (s *Service) reportRefusal(ctx context.Context, d *model.Decision, recordID, purpose string) {
	a := d.Accessor
	if !slices.Contains(model.RecordedRefusals, d.Reason) || !model.ValidPseudonym(a.ID) || !model.ValidMSPID(a.MSP) || !a.Role.Valid() || !model.ValidID(recordID) {
		return // nothing the ledger would write (an identity without a role, an erased patient)
	}
	if purpose != "" && !slices.Contains(model.Purposes, purpose) && !slices.Contains(model.ResearchPurposes, purpose) {
		purpose = ""
	}
	if !s.refusals.allow(a.ID, s.now()) {
		return
	}
	at := d.DecidedAt
	if at.IsZero() {
		at = s.now()
	}
	r := model.AccessReport{
		ID: uuid.NewString(), RecordID: recordID, Action: d.Action, Accessor: a,
		Basis: model.BasisRefused, Reason: d.Reason, Purpose: purpose, AccessedAt: at,
	}
	if r.Action == "" {
		r.Action = model.ActionRead
	}
	if err := s.queue.Enqueue(context.WithoutCancel(ctx), r); err != nil {
		s.log.LogAttrs(ctx, slog.LevelWarn, "could not queue a refused attempt for the audit trail", slog.String("err", err.Error()))
		return
	}
	if s.flusher != nil {
		s.flusher.Kick()
	}
}
