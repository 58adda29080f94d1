package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/go-chi/chi/v5"
)

// RequestIDHeader carries the request ID in both directions.
const RequestIDHeader = "X-Request-ID"

// A client may choose its own request ID, if it is short and harmless in logs.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// logEntry collects what the access log line says about a request; handlers further down add
// to it through the context.
type logEntry struct {
	id     string
	caller *caller
	code   string
}

type logKey struct{}

func requestID(ctx context.Context) string {
	if e, ok := ctx.Value(logKey{}).(*logEntry); ok {
		return e.id
	}
	return ""
}

func setLogCaller(ctx context.Context, c *caller) {
	if e, ok := ctx.Value(logKey{}).(*logEntry); ok {
		e.caller = c
	}
}

func setLogCode(ctx context.Context, code string) {
	if e, ok := ctx.Value(logKey{}).(*logEntry); ok {
		e.code = code
	}
}

// statusWriter remembers the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives every request an ID, then logs and measures it. The log line names the route
// pattern, never the path, because paths carry pseudonyms and record IDs; it never holds
// content, certificates or pseudonyms.
func (s *server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get(RequestIDHeader)
		if !requestIDPattern.MatchString(id) {
			var b [12]byte
			_, _ = rand.Read(b[:])
			id = hex.EncodeToString(b[:])
		}
		entry := &logEntry{id: id}
		w.Header().Set(RequestIDHeader, id)
		sw := &statusWriter{ResponseWriter: w}
		r = r.WithContext(context.WithValue(r.Context(), logKey{}, entry))
		next.ServeHTTP(sw, r)
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		elapsed := time.Since(start)
		s.metrics.observe(r.Method, route, sw.status, elapsed)
		attrs := []slog.Attr{
			slog.String("request_id", id), slog.String("method", r.Method), slog.String("route", route),
			slog.Int("status", sw.status), slog.Int64("bytes", sw.bytes), slog.Duration("duration", elapsed),
		}
		if entry.caller != nil {
			attrs = append(attrs, slog.Any("caller", entry.caller))
		}
		if entry.code != "" {
			attrs = append(attrs, slog.String("code", entry.code))
		}
		s.log.LogAttrs(r.Context(), slog.LevelInfo, "request", attrs...)
	})
}
