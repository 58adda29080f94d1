package blob_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/blob/blobtest"
	"github.com/stretchr/testify/require"
)

// TestS3Conformance runs the conformance suite against a real S3-compatible server: the one
// at CARELEDGER_S3_ENDPOINT (with CARELEDGER_S3_ACCESS_KEY, CARELEDGER_S3_SECRET_KEY) if set,
// else a `minio` binary (MINIO_BIN or PATH) started here on a loopback port.
func TestS3Conformance(t *testing.T) {
	cfg := s3Server(t)
	cfg.Bucket = "careledger-test"
	cfg.Prefix = fmt.Sprintf("run-%d/", time.Now().UnixNano())
	// MinIO answers its readiness probe a moment before it accepts requests; retry the first
	// call for a bounded time.
	var s *blob.S3
	var err error
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if s, err = blob.NewS3(context.Background(), cfg); err == nil || time.Now().After(deadline) {
			break
		}
	}
	require.NoError(t, err)
	blobtest.Run(t, s)
}

func s3Server(t *testing.T) blob.S3Config {
	if ep := os.Getenv("CARELEDGER_S3_ENDPOINT"); ep != "" {
		return blob.S3Config{Endpoint: ep, AccessKey: os.Getenv("CARELEDGER_S3_ACCESS_KEY"), SecretKey: os.Getenv("CARELEDGER_S3_SECRET_KEY")}
	}
	bin := os.Getenv("MINIO_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("minio"); err != nil {
			t.Skip("no S3-compatible server: set CARELEDGER_S3_ENDPOINT, or put a minio binary on PATH (.ci/build-minio builds one)")
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, "server", "--address", addr, "--console-address", "127.0.0.1:0", "--quiet", t.TempDir())
	cmd.Env = append(os.Environ(), "MINIO_ROOT_USER=careledger", "MINIO_ROOT_PASSWORD=careledger-secret", "MINIO_BROWSER=off")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		require.True(t, time.Now().Before(deadline), "minio did not become ready at %s", addr)
		time.Sleep(200 * time.Millisecond)
	}
	return blob.S3Config{Endpoint: addr, AccessKey: "careledger", SecretKey: "careledger-secret"}
}
