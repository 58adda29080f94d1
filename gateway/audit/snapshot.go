package audit

import (
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ErrInUse means the queue file is open in another process, which must take the snapshot.
var ErrInUse = errors.New("audit queue is open in another process")

// WriteSnapshot writes a consistent copy of the queue file to w inside one bbolt read
// transaction: enqueues and flushes go on meanwhile (bbolt readers never block its writer).
func (q *Queue) WriteSnapshot(w io.Writer) (int64, error) {
	var n int64
	err := q.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("snapshot audit queue: %w", err)
	}
	return n, nil
}

// SnapshotFile writes a consistent copy of the queue file at path, which no process may have
// open (ErrInUse otherwise), to w.
func SnapshotFile(path string, w io.Writer) (int64, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bolt.ErrTimeout) {
		return 0, fmt.Errorf("snapshot audit queue: %w", ErrInUse)
	}
	if err != nil {
		return 0, fmt.Errorf("snapshot audit queue: %w", err)
	}
	defer db.Close()
	q := &Queue{db: db}
	return q.WriteSnapshot(w)
}
