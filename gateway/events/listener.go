// Package events follows the CareLedger chaincode's events with a checkpoint, so a gateway
// that restarts resumes exactly where it stopped: no event is missed and none is handled twice.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
)

// Handler processes one event. It is called in ledger order, one event at a time; the event is
// checkpointed only after the handler returns.
type Handler func(ctx context.Context, ev *client.ChaincodeEvent)

// Listener streams a chaincode's events from a network.
type Listener struct {
	network    *client.Network
	chaincode  string
	checkpoint *client.FileCheckpointer
	log        *slog.Logger
	retry      time.Duration
}

// NewListener returns a listener whose position is kept in the file at checkpointPath.
func NewListener(network *client.Network, chaincode, checkpointPath string, log *slog.Logger) (*Listener, error) {
	cp, err := client.NewFileCheckpointer(checkpointPath)
	if err != nil {
		return nil, fmt.Errorf("open event checkpoint: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Listener{network: network, chaincode: chaincode, checkpoint: cp, log: log, retry: time.Second}, nil
}

// Close closes the checkpoint file.
func (l *Listener) Close() error { return l.checkpoint.Close() }

// Run delivers events to handle until ctx ends, reconnecting after stream failures. A new
// listener (no checkpoint yet) starts from the next block; after a restart it resumes after
// the last checkpointed event.
func (l *Listener) Run(ctx context.Context, handle Handler) error {
	for {
		err := l.stream(ctx, handle)
		if ctx.Err() != nil {
			return nil
		}
		l.log.Warn("chaincode event stream ended; reconnecting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(l.retry):
		}
	}
}

func (l *Listener) stream(ctx context.Context, handle Handler) error {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := l.network.ChaincodeEvents(sctx, l.chaincode, client.WithCheckpoint(l.checkpoint))
	if err != nil {
		return err
	}
	for ev := range events {
		handle(ctx, ev)
		if err := l.checkpoint.CheckpointChaincodeEvent(ev); err != nil {
			return fmt.Errorf("checkpoint event: %w", err)
		}
	}
	return errors.New("event stream closed")
}
