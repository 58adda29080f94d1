package network

import (
	"sync"
	"syscall"
)

// BlockLogFault is how a faulty disk fails block log writes.
type BlockLogFault int

// The faults a test can inject.
const (
	// NoFault: the disk works.
	NoFault BlockLogFault = iota
	// FullDisk: writes fail with ENOSPC before a byte is written.
	FullDisk
	// TornWrite: a write stores half its bytes, then fails with ENOSPC.
	TornWrite
	// FailedSync: writes succeed, fsync fails with EIO, as when the disk lost the data.
	FailedSync
)

// BlockLogFaults makes a node's block log fail on demand.
type BlockLogFaults struct {
	logFile
	mu    sync.Mutex
	fault BlockLogFault
}

// InjectBlockLogFaults puts a file that fails on demand under n's block log. Call it between
// New and Start.
func InjectBlockLogFaults(n *Node) *BlockLogFaults {
	f := &BlockLogFaults{logFile: n.store.log.f}
	n.store.log.f = f
	return f
}

// Set changes the fault from now on.
func (f *BlockLogFaults) Set(fault BlockLogFault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fault = fault
}

func (f *BlockLogFaults) current() BlockLogFault {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fault
}

func (f *BlockLogFaults) WriteAt(p []byte, off int64) (int, error) {
	switch f.current() {
	case FullDisk:
		return 0, syscall.ENOSPC
	case TornWrite:
		n, _ := f.logFile.WriteAt(p[:len(p)/2], off)
		return n, syscall.ENOSPC
	}
	return f.logFile.WriteAt(p, off)
}

func (f *BlockLogFaults) Sync() error {
	if f.current() == FailedSync {
		return syscall.EIO
	}
	return f.logFile.Sync()
}
