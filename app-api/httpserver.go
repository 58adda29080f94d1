package api

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

// ServerLimits bound how long a client may hold a connection of the HTTP server. A zero field
// takes its default.
type ServerLimits struct {
	// ReadHeaderTimeout bounds the time to send the request line and headers (default 10 s).
	ReadHeaderTimeout time.Duration
	// BodyGrace is how long a request body, or a response, may take before the minimum rate
	// applies (default 30 s).
	BodyGrace time.Duration
	// MinRate is the slowest average rate, in bytes per second, at which a client must send a
	// request body and read a response once BodyGrace has passed (default 16 KiB/s: a 32 MiB
	// document may take about 35 minutes). A whole-request timeout would either cut off large
	// uploads over slow links or let a slow-loris client hold a connection for as long.
	MinRate int64
	// IdleTimeout closes a kept-alive connection with no request for this long (default 2 min).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds the request headers (default 64 KiB).
	MaxHeaderBytes int
}

func (l ServerLimits) withDefaults() ServerLimits {
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = 10 * time.Second
	}
	if l.BodyGrace <= 0 {
		l.BodyGrace = 30 * time.Second
	}
	if l.MinRate <= 0 {
		l.MinRate = 16 << 10
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 2 * time.Minute
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 64 << 10
	}
	return l
}

// NewHTTPServer returns an http.Server for h with the limits a server facing clinic networks
// needs: slow or idle clients cannot hold connections for ever, and headers are bounded. Body
// sizes are bounded by the handlers themselves. The server has no whole-request ReadTimeout
// or WriteTimeout: each request body and each response gets a deadline that moves forward as
// bytes flow at limits.MinRate, so that large uploads and downloads over slow links work while
// a client that trickles bytes is cut off.
func NewHTTPServer(addr string, h http.Handler, tlsConfig *tls.Config, errorLog *log.Logger, limits ServerLimits) *http.Server {
	l := limits.withDefaults()
	return &http.Server{
		Addr:              addr,
		Handler:           paced(h, l),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
		ErrorLog:          errorLog,
	}
}

// paced gives every request body and response a deadline that follows the minimum rate.
func paced(next http.Handler, l ServerLimits) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if r.Body != nil && r.Body != http.NoBody {
			pr := &paceReader{body: r.Body, rc: rc, limits: l, start: time.Now()}
			pr.extend()
			r.Body = pr
		}
		next.ServeHTTP(&paceWriter{ResponseWriter: w, rc: rc, limits: l}, r)
	})
}

// deadline is when n bytes must have moved, for a transfer that began at start.
func (l ServerLimits) deadline(start time.Time, n int64) time.Time {
	return start.Add(l.BodyGrace + time.Duration(n)*time.Second/time.Duration(l.MinRate))
}

// errSlowBody is what a handler reading a request body sees when the client sent it too slowly.
var errSlowBody = &requestError{http.StatusRequestTimeout, CodeRequestTimeout, "the request body arrived too slowly"}

// paceReader moves the read deadline forward as the body arrives.
type paceReader struct {
	body   io.ReadCloser
	rc     *http.ResponseController
	limits ServerLimits
	start  time.Time
	n      int64
}

func (p *paceReader) extend() {
	// Not every ResponseWriter supports deadlines (httptest's recorder does not); the limit
	// then rests with the server's other timeouts.
	_ = p.rc.SetReadDeadline(p.limits.deadline(p.start, p.n))
}

func (p *paceReader) Read(b []byte) (int, error) {
	n, err := p.body.Read(b)
	p.n += int64(n)
	if n > 0 {
		p.extend()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, errSlowBody
	}
	return n, err
}

func (p *paceReader) Close() error { return p.body.Close() }

// paceWriter sets the write deadline when the response starts and moves it forward as the
// response is written. Before the first byte there is none: a handler may wait for a block.
type paceWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	limits  ServerLimits
	start   time.Time
	written int64
}

func (p *paceWriter) begin() {
	if p.start.IsZero() {
		p.start = time.Now()
		_ = p.rc.SetWriteDeadline(p.limits.deadline(p.start, 0))
	}
}

func (p *paceWriter) WriteHeader(status int) {
	p.begin()
	p.ResponseWriter.WriteHeader(status)
}

func (p *paceWriter) Write(b []byte) (int, error) {
	p.begin()
	n, err := p.ResponseWriter.Write(b)
	p.written += int64(n)
	_ = p.rc.SetWriteDeadline(p.limits.deadline(p.start, p.written))
	return n, err
}

// Flush lets handlers that stream flush through the wrapper.
func (p *paceWriter) Flush() {
	p.begin()
	_ = p.rc.Flush()
}

// Unwrap lets http.ResponseController reach the server's writer.
func (p *paceWriter) Unwrap() http.ResponseWriter { return p.ResponseWriter }
