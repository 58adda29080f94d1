package api

import (
	"net/http"
	"sync"
)

// uploadLimiter bounds the uploads one identity runs at once. Uploads are streamed, so memory
// is not what it protects any more; what it stops is one certificate occupying the server's
// disk bandwidth, spool space and connections with parallel uploads.
type uploadLimiter struct {
	mu      sync.Mutex
	running map[string]int
	max     int
}

func newUploadLimiter(maxPerIdentity int) *uploadLimiter {
	return &uploadLimiter{running: map[string]int{}, max: maxPerIdentity}
}

// errTooManyUploads is the refusal of an upload over the identity's limit.
var errTooManyUploads = &requestError{http.StatusTooManyRequests, CodeTooManyRequests, "too many uploads of yours are in progress; wait for one to finish"}

// begin counts an upload for identity and returns the function that ends it, or
// errTooManyUploads.
func (l *uploadLimiter) begin(identity string) (done func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.running[identity] >= l.max {
		return nil, errTooManyUploads
	}
	l.running[identity]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.running[identity]--; l.running[identity] == 0 {
			delete(l.running, identity)
		}
	}, nil
}
