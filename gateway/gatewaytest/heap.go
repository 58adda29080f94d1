package gatewaytest

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// HeapGrowth runs f and returns how far the heap in use rose above its level before f, at the
// highest of samples taken every 2 ms, for tests that check content is streamed rather than
// held whole.
func HeapGrowth(f func()) int64 {
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			peak.Store(max(peak.Load(), ms.HeapInuse))
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	})
	f()
	close(done)
	wg.Wait()
	return int64(peak.Load()) - int64(before.HeapInuse)
}
