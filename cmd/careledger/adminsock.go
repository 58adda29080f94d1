package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// adminSocket is the Unix socket through which `careledger backup` asks a running `up` for what
// only the process holding a file can copy consistently: the audit queue (bbolt locks its file).
// Who may use it is decided by the file system: the socket is 0600 inside the data directory,
// so only whoever can already read the data directory can connect.
const adminSocket = "admin.sock"

// serveAdminSocket serves the admin socket until the stack closes.
func (s *stack) serveAdminSocket() error {
	path := filepath.Join(s.cfg.DataDir, adminSocket)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("admin socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("admin socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /backup/audit.db", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if _, err := s.queue.WriteSnapshot(w); err != nil {
			s.log.Error("audit queue snapshot for a backup failed", "err", err)
			// Break the stream so the backup sees a failure, not a short copy.
			panic(http.ErrAbortHandler)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	s.closers = append(s.closers, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(ctx)
	})
	return nil
}

// auditFromRunning returns a function that copies the audit queue through the admin socket of
// the `up` running on dataDir, or nil when none answers there.
func auditFromRunning(dataDir string) func(context.Context, io.Writer) error {
	path := filepath.Join(dataDir, adminSocket)
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return nil // no socket, or one left by a process that is gone
	}
	c.Close()
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}}
	return func(ctx context.Context, w io.Writer) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://careledger/backup/audit.db", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return fmt.Errorf("ask the running careledger for the audit queue: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("ask the running careledger for the audit queue: %s", resp.Status)
		}
		n, err := io.Copy(w, resp.Body)
		if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
}
