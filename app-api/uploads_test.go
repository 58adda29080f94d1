package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/stretchr/testify/require"
)

// postDocument uploads body as a PDF document of the caller's and returns the response.
func postDocument(t *testing.T, hc *http.Client, base string, body io.Reader) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/v1/records?category=document", body)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	return resp
}

// TestUploadsPerIdentityAreCapped: while two uploads of one identity are in progress, a third
// is refused with 429 and Retry-After; another identity is not affected, and once the uploads
// finish the identity may upload again.
func TestUploadsPerIdentityAreCapped(t *testing.T) {
	e := startEnv(t)
	hc := e.rawHTTP(tlsCert(e.patient))
	var writers []*io.PipeWriter
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i := range 2 {
		pr, pw := io.Pipe()
		writers = append(writers, pw)
		wg.Go(func() {
			resp := postDocument(t, hc, e.srv.URL, pr)
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
		// More than the client's write buffer, so that the request reaches the server.
		_, err := pw.Write([]byte("%PDF-1.7 " + strings.Repeat("x", 64<<10)))
		require.NoError(t, err)
	}

	// Once both slow uploads have reached the handler, a third is refused; until then one
	// may get through, and must then succeed.
	var resp *http.Response
	require.Eventually(t, func() bool {
		resp = postDocument(t, hc, e.srv.URL, strings.NewReader("%PDF-1.7 third"))
		if resp.StatusCode == http.StatusCreated {
			resp.Body.Close()
			return false
		}
		return true
	}, 30*time.Second, 10*time.Millisecond)
	var eb api.ErrorBody
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
	resp.Body.Close()
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	require.Equal(t, api.CodeTooManyRequests, eb.Error.Code)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))

	other := postDocument(t, e.rawHTTP(tlsCert(e.clinician)), e.srv.URL, strings.NewReader("%PDF-1.7 other"))
	other.Body.Close()
	require.NotEqual(t, http.StatusTooManyRequests, other.StatusCode, "another identity has its own limit")

	for _, pw := range writers {
		_, err := pw.Write([]byte("rest of the document"))
		require.NoError(t, err)
		require.NoError(t, pw.Close())
	}
	wg.Wait()
	require.Equal(t, []int{http.StatusCreated, http.StatusCreated}, statuses)
	resp = postDocument(t, hc, e.srv.URL, strings.NewReader("%PDF-1.7 again"))
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
}

// countingReader is a request body of n bytes that records how far it was read.
type countingReader struct {
	left, read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	left := c.left.Load()
	if left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), left)
	for i := range p[:n] {
		p[i] = byte(i)
	}
	c.left.Add(-n)
	c.read.Add(n)
	return int(n), nil
}

// TestLargeUploadIsNotHeldInMemory: a 24 MiB document goes through the API while the server's
// heap in use grows by far less than its size.
func TestLargeUploadIsNotHeldInMemory(t *testing.T) {
	e := startEnv(t)
	const size = 24 << 20
	body := &countingReader{}
	body.left.Store(size)

	var resp *http.Response
	grew := gatewaytest.HeapGrowth(func() {
		resp = postDocument(t, e.rawHTTP(tlsCert(e.patient)), e.srv.URL, body)
		resp.Body.Close()
	})
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	require.Equal(t, int64(size), body.read.Load())
	t.Logf("heap in use grew by %d KiB during a %d MiB upload", grew>>10, size>>20)
	require.Less(t, grew, int64(size/4), "the upload was held in memory")
}
