// Package fabricatest starts a real fabric-ca-server for tests: on a free loopback port,
// with TLS, in a temporary home, stopped when the test ends. Tests skip, naming the build
// script, when the binary is not installed.
package fabricatest

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvBinary names the environment variable that points at a fabric-ca-server binary.
const EnvBinary = "FABRIC_CA_SERVER"

// Bootstrap admin credentials of every test server.
const (
	AdminID     = "admin"
	AdminSecret = "adminpw"
)

// Server is a running fabric-ca-server.
type Server struct {
	// URL is the server's base URL, https://127.0.0.1:<port>.
	URL string
	// Home is the server's home directory.
	Home string
	// CACertPEM is the CA certificate, which also issued the server's TLS certificate.
	CACertPEM []byte
	// TLSRoots trusts CACertPEM.
	TLSRoots *x509.CertPool

	cmd  *exec.Cmd
	log  *lockedBuffer
	done chan struct{}
}

// Binary finds fabric-ca-server: $FABRIC_CA_SERVER, then PATH, then the default output of
// .ci/build-fabric-ca.
func Binary() (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath("fabric-ca-server"); err == nil {
		return p, nil
	}
	if dir, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(dir, "careledger", "bin", "fabric-ca-server")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("fabric-ca-server not found")
}

// Start starts a server, or skips the test when the binary is missing. The server is
// stopped and its home removed when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := Binary()
	if err != nil {
		tb.Skipf("skipping: %v; build it with .ci/build-fabric-ca and set %s or PATH", err, EnvBinary)
	}
	var lastErr error
	// Picking a free port and handing it to another process is racy; retry a few times.
	for range 3 {
		s, err := start(tb, bin)
		if err == nil {
			return s
		}
		lastErr = err
	}
	tb.Fatalf("start fabric-ca-server: %v", lastErr)
	return nil
}

func start(tb testing.TB, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	home := tb.TempDir()
	s := &Server{URL: "https://127.0.0.1:" + strconv.Itoa(port), Home: home, log: &lockedBuffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "start",
		"-b", AdminID+":"+AdminSecret,
		"-H", home,
		"--address", "127.0.0.1",
		"-p", strconv.Itoa(port),
		"--tls.enabled",
		"--csr.hosts", "127.0.0.1,localhost",
	)
	s.cmd.Dir = home
	s.cmd.SysProcAttr = procAttr()
	// The operations (metrics) server defaults to 127.0.0.1:9443, which parallel servers
	// would fight over.
	s.cmd.Env = append(os.Environ(), "FABRIC_CA_SERVER_OPERATIONS_LISTENADDRESS=127.0.0.1:0")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(60 * time.Second); err != nil {
		s.stop()
		return nil, fmt.Errorf("%w\nserver log:\n%s", err, s.log.String())
	}
	tb.Cleanup(s.stop)
	return s, nil
}

func (s *Server) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return errors.New("fabric-ca-server exited during start-up")
		case <-time.After(100 * time.Millisecond):
		}
		if s.TLSRoots == nil {
			pemBytes, err := os.ReadFile(filepath.Join(s.Home, "ca-cert.pem"))
			if err != nil {
				continue
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pemBytes) {
				continue // still being written
			}
			s.CACertPEM, s.TLSRoots = pemBytes, pool
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		ok := s.ping(ctx)
		cancel()
		if ok {
			return nil
		}
	}
	return fmt.Errorf("fabric-ca-server not ready after %s", timeout)
}

func (s *Server) ping(ctx context.Context) bool {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: s.TLSRoots}}}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/cainfo", nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (s *Server) stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
	}
	<-s.done
}

// Log returns what the server printed so far, for failure messages.
func (s *Server) Log() string { return s.log.String() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
