package api_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/stretchr/testify/require"
)

// quickLimits make every limit of the test server short, so slow clients are cut off fast.
var quickLimits = api.ServerLimits{
	ReadHeaderTimeout: 300 * time.Millisecond, BodyGrace: 300 * time.Millisecond,
	MinRate: 64 << 10, IdleTimeout: 500 * time.Millisecond, MaxHeaderBytes: 4 << 10,
}

// servePlain runs h behind NewHTTPServer on a loopback listener without TLS and returns its
// address.
func servePlain(t *testing.T, h http.Handler, limits api.ServerLimits) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := api.NewHTTPServer("", h, nil, log.New(io.Discard, "", 0), limits)
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// waitClosed reads from conn until the server closes it, and fails if it has not within
// limit (a bound for a stuck test, not a measurement).
func waitClosed(t *testing.T, conn net.Conn, limit time.Duration) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(limit)))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server kept the connection open: %v", err)
}

// TestSlowClientsAreCutOff: a client that trickles its headers or its body, or keeps an idle
// connection, is disconnected by the server, while a body sent at a normal rate is read whole.
func TestSlowClientsAreCutOff(t *testing.T) {
	addr := servePlain(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		fmt.Fprintf(w, "%d", n)
	}), quickLimits)
	dial := func(t *testing.T) net.Conn {
		conn, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	// trickle writes one byte at a time until the server stops taking them.
	trickle := func(conn net.Conn, s string) {
		for i := range len(s) {
			if _, err := conn.Write([]byte{s[i]}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	t.Run("slow headers", func(t *testing.T) {
		conn := dial(t)
		go trickle(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Padding: "+strings.Repeat("a", 200)+"\r\n\r\n")
		waitClosed(t, conn, 10*time.Second)
	})
	t.Run("slow body", func(t *testing.T) {
		conn := dial(t)
		_, err := conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"))
		require.NoError(t, err)
		go trickle(conn, strings.Repeat("b", 1000))
		waitClosed(t, conn, 10*time.Second)
	})
	t.Run("idle keep-alive", func(t *testing.T) {
		conn := dial(t)
		_, err := conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, "3", string(body))
		waitClosed(t, conn, 10*time.Second)
	})
	t.Run("a kept-alive connection's next request", func(t *testing.T) {
		// The first response's write deadline has passed by the time the second request asks
		// to continue; the server must still answer it.
		conn := dial(t)
		br := bufio.NewReader(conn)
		_, err := conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na"))
		require.NoError(t, err)
		resp, err := http.ReadResponse(br, nil)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		time.Sleep(quickLimits.BodyGrace + 100*time.Millisecond)
		_, err = conn.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"))
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		line, err := br.ReadString('\n')
		require.NoError(t, err)
		require.Contains(t, line, "100 Continue")
		_, _ = br.ReadString('\n')
		_, err = conn.Write([]byte("bc"))
		require.NoError(t, err)
		resp, err = http.ReadResponse(br, nil)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		require.Equal(t, "2", string(body))
	})
	t.Run("headers too large", func(t *testing.T) {
		conn := dial(t)
		_, err := conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("c", 16<<10) + "\r\n\r\n"))
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusRequestHeaderFieldsTooLarge, resp.StatusCode)
	})
	t.Run("a large body at a normal rate", func(t *testing.T) {
		// 4 MiB is far more than the grace period and the minimum rate allow for a trickle,
		// and arrives whole because the deadline moves with the bytes.
		resp, err := http.Post("http://"+addr+"/", "application/octet-stream", strings.NewReader(strings.Repeat("d", 4<<20)))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.Equal(t, fmt.Sprint(4<<20), string(body))
	})
}

// TestSlowReadersAreCutOff: a response is written at the pace the client reads it; a client
// that reads a large response at a normal rate gets all of it, one that stops reading is
// disconnected instead of holding the handler for ever.
func TestSlowReadersAreCutOff(t *testing.T) {
	const size = 256 << 20
	result := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(size))
		_, err := io.Copy(w, io.LimitReader(zeros{}, size))
		result <- err
	})
	addr := servePlain(t, h, quickLimits)
	resp, err := http.Get("http://" + addr + "/")
	require.NoError(t, err)
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, int64(size), n)
	require.NoError(t, <-result)

	// The socket buffers take a few MiB before a write blocks, which counts as progress at the
	// minimum rate: a higher rate keeps the wait for the cut-off short.
	fast := quickLimits
	fast.MinRate = 4 << 20
	conn, err := net.Dial("tcp", servePlain(t, h, fast))
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	require.NoError(t, err)
	select { // the client never reads
	case err := <-result:
		require.Error(t, err, "the server gave up on a client that does not read")
	case <-time.After(30 * time.Second):
		t.Fatal("the handler is still writing to a client that does not read")
	}
}

// serveTLS runs the env's API behind NewHTTPServer with its TLS configuration, HTTP/2
// included, and returns the base URL.
func serveTLS(t *testing.T, e *env, limits api.ServerLimits) string {
	t.Helper()
	h, err := api.New(e.cfg)
	require.NoError(t, err)
	tlsCfg, err := api.ServerTLSConfig(e.cfg, e.srv.TLS.Certificates...)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := api.NewHTTPServer("", h, tlsCfg, log.New(io.Discard, "", 0), limits)
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { _ = srv.Close() })
	return "https://" + ln.Addr().String()
}

// TestTLSAndTransportSecurity: responses carry HSTS; TLS below 1.2 and the CBC-SHA1 suites are
// refused; a 413 reaches an HTTP/2 client whole, with its JSON error body, while it is still
// sending the oversized body.
func TestTLSAndTransportSecurity(t *testing.T) {
	e := startEnv(t, func(c *api.Config) { c.MaxDocumentBytes = 1 << 20 })
	base := serveTLS(t, e, api.ServerLimits{})
	h2 := func(cert *tls.Certificate, tweak func(*tls.Config)) *http.Client {
		tc := &tls.Config{RootCAs: e.pool}
		if cert != nil {
			tc.Certificates = []tls.Certificate{*cert}
		}
		if tweak != nil {
			tweak(tc)
		}
		return &http.Client{Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}, Timeout: time.Minute}
	}

	t.Run("HSTS", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/v1/me", "/nowhere"} {
			resp, err := h2(tlsCert(e.patient), nil).Get(base + path)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, api.HSTS, resp.Header.Get("Strict-Transport-Security"), path)
		}
	})
	t.Run("old TLS and CBC suites refused", func(t *testing.T) {
		for name, tweak := range map[string]func(*tls.Config){
			"TLS 1.1": func(c *tls.Config) { c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11 },
			"CBC-SHA1": func(c *tls.Config) {
				c.MaxVersion = tls.VersionTLS12
				c.CipherSuites = []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA}
			},
		} {
			_, err := h2(nil, tweak).Get(base + "/healthz")
			require.Error(t, err, name)
		}
		resp, err := h2(nil, func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }).Get(base + "/healthz")
		require.NoError(t, err, "TLS 1.2 with an AEAD suite")
		resp.Body.Close()
	})
	t.Run("413 over HTTP/2", func(t *testing.T) {
		// The body is far larger than the stream's flow-control window, so the client is still
		// sending when the server refuses it.
		body := io.LimitReader(zeros{}, 16<<20)
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/v1/records?category=document", body)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/pdf")
		resp, err := h2(tlsCert(e.patient), nil).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		require.Equal(t, 2, resp.ProtoMajor)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		var eb api.ErrorBody
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
		require.Equal(t, api.CodePayloadTooLarge, eb.Error.Code)
		require.NotEmpty(t, eb.Error.RequestID)
	})
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }
