package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/gofrs/flock"
)

// endpoint is what a running `up` tells the commands on the same machine about its API, in
// <data-dir>/api/endpoint.json (0600), so they find it without --api or --api-ca. It is
// removed on a clean stop; a file left by a killed `up` names a dead pid and is ignored.
type endpoint struct {
	URL string `json:"url"`
	CA  string `json:"ca"`
	PID int    `json:"pid"`
}

func endpointFile(dataDir string) string { return filepath.Join(dataDir, "api", "endpoint.json") }

// writeEndpoint records where this process serves the API.
func writeEndpoint(dataDir, url, caFile string) error {
	b, err := json.MarshalIndent(endpoint{URL: url, CA: caFile, PID: os.Getpid()}, "", "  ")
	if err != nil {
		return err
	}
	path := endpointFile(dataDir)
	if err := writeTo(path, func(w io.Writer) error { _, err := w.Write(append(b, '\n')); return err }); err != nil {
		return fmt.Errorf("write API endpoint file: %w", err)
	}
	return os.Chmod(path, 0o600)
}

// readEndpoint returns the endpoint of the `up` running on dataDir, or false when there is
// none (no file, or its process is gone).
func readEndpoint(dataDir string) (endpoint, bool) {
	var ep endpoint
	b, err := os.ReadFile(endpointFile(dataDir))
	if err != nil || json.Unmarshal(b, &ep) != nil || ep.URL == "" || !processAlive(ep.PID) {
		return endpoint{}, false
	}
	return ep, true
}

// processAlive reports whether a process with pid exists (signal 0 checks without sending).
func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	p, err := os.FindProcess(pid)
	return err == nil && p.Signal(syscall.Signal(0)) == nil
}

// errAlreadyRunning is returned when another `up` holds the data directory.
var errAlreadyRunning = errors.New("already running")

// upLock is the lock a running `up` holds on its data directory; the file holds its pid for
// the message a second `up` prints.
type upLock struct{ fl *flock.Flock }

func lockDataDir(dataDir string) (*upLock, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	path := filepath.Join(dataDir, "up.lock")
	fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	if !ok {
		if pid := lockHolder(path); pid > 0 {
			return nil, fmt.Errorf("careledger up is %w on %s (pid %d)", errAlreadyRunning, dataDir, pid)
		}
		return nil, fmt.Errorf("careledger up is %w on %s", errAlreadyRunning, dataDir)
	}
	if err := os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
		fl.Unlock()
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	return &upLock{fl: fl}, nil
}

func (l *upLock) release() error { return l.fl.Unlock() }

// lockHolder reads the pid a lock file names, 0 when it names none.
func lockHolder(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return pid
}

// ledgerInUse reports whether a running node holds the embedded ledger in dataDir, and the
// pid of the `up` running there when known. It takes a shared lock on the node's LOCK file and
// returns it held, so no node can start while the caller reads; release it when done.
func ledgerInUse(ledgerDir, dataDir string) (inUse bool, pid int, release func(), err error) {
	path := filepath.Join(ledgerDir, "LOCK")
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return false, 0, func() {}, nil
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDONLY))
	ok, err := fl.TryRLock()
	if err != nil {
		return false, 0, nil, fmt.Errorf("check the ledger lock: %w", err)
	}
	if !ok {
		if ep, found := readEndpoint(dataDir); found {
			pid = ep.PID
		}
		return true, pid, nil, nil
	}
	return false, 0, func() { fl.Unlock() }, nil
}
