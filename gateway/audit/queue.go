// Package audit makes every release of record content reach the patient's audit trail on the
// ledger, even across crashes. The gateway enqueues an access report durably (on disk, fsynced)
// before it releases content; a flusher writes the queue to the ledger in batches, one
// transaction per batch, so reads are not limited by block time. The chaincode skips reports it
// already holds, so a batch resent after a crash is recorded once.
package audit

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
	bolt "go.etcd.io/bbolt"
)

var (
	bucketPending  = []byte("pending")
	bucketRejected = []byte("rejected")
	// bucketNonces holds the assertions enqueued recently, by accessor, nonce and record;
	// bucketNonceAge holds the same keys prefixed by when they stop mattering, to forget them.
	bucketNonces   = []byte("nonces")
	bucketNonceAge = []byte("nonce-age")
)

// ErrReplayed means a report carries a member's assertion that an earlier report already
// used for the same record: the assertion is being replayed.
var ErrReplayed = errors.New("the member's access assertion was already used for this record")

// Queue is the durable queue of access reports not yet on the ledger.
type Queue struct {
	db *bolt.DB
}

// Item is one queued report.
type Item struct {
	Seq    uint64
	Report model.AccessReport
}

// Open opens (creating if needed) the queue file at path.
func Open(path string) (*Queue, error) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, fmt.Errorf("open audit queue: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketPending, bucketRejected, bucketNonces, bucketNonceAge} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open audit queue: %w", err)
	}
	return &Queue{db: db}, nil
}

// Close closes the queue file. Reports already enqueued stay on disk.
func (q *Queue) Close() error { return q.db.Close() }

// Enqueue stores the report durably. When it returns nil the report survives a crash, so the
// caller may release the content. Concurrent calls share one fsync (group commit). A report
// whose member's assertion was already enqueued for the same record is refused with
// ErrReplayed, before anything is released: the ledger would refuse it too, but only after the
// content was out.
func (q *Queue) Enqueue(ctx context.Context, r model.AccessReport) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("enqueue access report: %w", err)
	}
	err = q.db.Batch(func(tx *bolt.Tx) error {
		if err := useNonce(tx, r); err != nil {
			return err
		}
		bk := tx.Bucket(bucketPending)
		seq, err := bk.NextSequence()
		if err != nil {
			return err
		}
		return bk.Put(seqKey(seq), b)
	})
	if err != nil {
		return fmt.Errorf("enqueue access report: %w", err)
	}
	return nil
}

// useNonce records the report's assertion, refusing one already recorded. An assertion is
// remembered until it can no longer match any access (AssertionWindow after its time, twice
// over, for clock skew between gateway processes); older ones are forgotten a few at a time
// as new ones arrive, measured by the reports' own times, so no clock is read here.
func useNonce(tx *bolt.Tx, r model.AccessReport) error {
	if r.Assertion == nil {
		return nil
	}
	nonces, age := tx.Bucket(bucketNonces), tx.Bucket(bucketNonceAge)
	key := []byte(r.Accessor.ID + "\x00" + r.Assertion.Nonce + "\x00" + r.RecordID)
	if nonces.Get(key) != nil {
		return ErrReplayed
	}
	var stale [][]byte
	c := age.Cursor()
	for k, _ := c.First(); k != nil && len(stale) < 64 && int64(binary.BigEndian.Uint64(k)) < r.AccessedAt.UnixNano(); k, _ = c.Next() {
		stale = append(stale, k)
	}
	for _, k := range stale {
		if err := nonces.Delete(k[8:]); err != nil {
			return err
		}
		if err := age.Delete(k); err != nil {
			return err
		}
	}
	until := binary.BigEndian.AppendUint64(nil, uint64(r.Assertion.At.Add(2*model.AssertionWindow).UnixNano()))
	if err := nonces.Put(key, until); err != nil {
		return err
	}
	return age.Put(append(until, key...), []byte{1})
}

// Pending returns up to limit queued reports, oldest first.
func (q *Queue) Pending(limit int) ([]Item, error) {
	var out []Item
	err := q.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPending).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var r model.AccessReport
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode queued report %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, Item{Seq: binary.BigEndian.Uint64(k), Report: r})
		}
		return nil
	})
	return out, err
}

// Len returns the number of reports waiting.
func (q *Queue) Len() (int, error) {
	n := 0
	err := q.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketPending).Stats().KeyN
		return nil
	})
	return n, err
}

// Done removes reports that are now on the ledger.
func (q *Queue) Done(seqs []uint64) error {
	return q.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucketPending)
		for _, s := range seqs {
			if err := bk.Delete(seqKey(s)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Reject moves a report the ledger refuses for good out of the way, keeping it for an
// operator to inspect, so one bad report cannot block the queue.
func (q *Queue) Reject(it Item, reason string) error {
	b, err := json.Marshal(struct {
		Report model.AccessReport `json:"report"`
		Reason string             `json:"reason"`
	}{it.Report, reason})
	if err != nil {
		return err
	}
	return q.db.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRejected).Put(seqKey(it.Seq), b); err != nil {
			return err
		}
		return tx.Bucket(bucketPending).Delete(seqKey(it.Seq))
	})
}

// Rejected returns the number of reports the ledger refused.
func (q *Queue) Rejected() (int, error) {
	n := 0
	err := q.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketRejected).Stats().KeyN
		return nil
	})
	return n, err
}

func seqKey(s uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, s)
	return k
}

var errNoWriter = errors.New("no gateway identity for the accessor's organisation")
