package api_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/app-api/fhir/conformance"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a log sink the server's goroutines write to while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is the API served over real HTTPS in front of the embedded ledger and gateway stack.
type env struct {
	stack *gatewaytest.Stack
	cfg   api.Config
	srv   *httptest.Server
	logs  *syncBuffer
	pool  *x509.CertPool

	patient, clinician, manufacturer *network.User
	// served collects every FHIR resource /fhir answers, for the R4 schema check.
	served conformance.Served
}

type envOption func(*api.Config)

func startEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	stack := gatewaytest.StartStack(t, 0)
	e := &env{stack: stack, logs: &syncBuffer{}}
	orgs := map[string]api.Org{}
	for _, org := range stack.Node.Config().Consortium.Orgs {
		orgs[org.MSPID] = api.Org{CACerts: orgCACerts(t, stack.Dir, org), Gateway: stack.Gateways[org.MSPID]}
	}
	// PharmaMSP runs no peer; older material has no gateway identity for it, which the
	// deployment then supplies.
	if pharma := orgs[network.PharmaMSP]; pharma.Gateway == nil {
		pharma.Gateway = stack.Client(t, stack.Issue(t, network.PharmaMSP, network.UserSpec{Name: "gateway", Role: network.RoleGateway}))
		orgs[network.PharmaMSP] = pharma
	}
	e.cfg = api.Config{
		Orgs: orgs, Service: stack.Service, Conn: stack.Conn,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&e.cfg)
	}
	h, err := api.New(e.cfg)
	require.NoError(t, err)
	e.srv = httptest.NewUnstartedServer(h)
	e.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake refusals are expected in tests
	e.srv.TLS, err = api.ServerTLSConfig(e.cfg)
	require.NoError(t, err)
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	e.pool = x509.NewCertPool()
	e.pool.AddCert(e.srv.Certificate())
	e.patient = stack.User(t, network.PatientsMSP, "patient1")
	e.clinician = stack.User(t, network.ClinicMSP, "clinician1")
	e.manufacturer = stack.User(t, network.PharmaMSP, "manufacturer1")
	return e
}

func orgCACerts(t testing.TB, dir string, org network.Org) []*x509.Certificate {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(network.OrgDir(dir, org), "msp", "cacerts", "*.pem"))
	require.NoError(t, err)
	var pems [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		pems = append(pems, b)
	}
	certs, err := api.ParseCertificates(pems...)
	require.NoError(t, err)
	return certs
}

// client returns an API client authenticated as u.
func (e *env) client(t testing.TB, u *network.User) *client.Client {
	t.Helper()
	c, err := client.New(e.srv.URL, client.WithIdentity(u.MSPID, u.CertPEM, u.Key), client.WithRootCAs(e.pool), client.WithMaxConnsPerHost(16))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// anonymous returns an API client without a certificate.
func (e *env) anonymous(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(e.srv.URL, client.WithRootCAs(e.pool))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// rawHTTP returns an HTTP client presenting cert (or none) for requests the typed client
// cannot make.
func (e *env) rawHTTP(cert *tls.Certificate) *http.Client {
	tc := &tls.Config{RootCAs: e.pool}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 30 * time.Second}
}

func tlsCert(u *network.User) *tls.Certificate {
	return &tls.Certificate{Certificate: [][]byte{u.Cert.Raw}, PrivateKey: u.Key, Leaf: u.Cert}
}

// auditTrail returns the patient's audit trail once it holds n entries. The flusher writes
// queued access reports in the background; flushing here as well may meet its transaction in
// an MVCC conflict, after which the next round writes them.
func (e *env) auditTrail(t testing.TB, patient *client.Client, n int) []model.AccessEntry {
	t.Helper()
	var entries []model.AccessEntry
	require.Eventually(t, func() bool {
		_ = e.stack.Flusher.Flush(context.Background())
		page, err := patient.AccessLog(context.Background(), "", client.Page{Size: 200})
		require.NoError(t, err)
		entries = page.Entries
		return len(entries) >= n
	}, 20*time.Second, 20*time.Millisecond)
	require.Len(t, entries, n)
	return entries
}

// apiError asserts err is an API error with the status and code.
func apiError(t testing.TB, err error, status int, code string) *client.Error {
	t.Helper()
	require.Error(t, err)
	var ae *client.Error
	require.ErrorAs(t, err, &ae)
	require.Equal(t, status, ae.Status, "code %s: %s", ae.Code, ae.Message)
	require.Equal(t, code, ae.Code, ae.Message)
	require.NotEmpty(t, ae.RequestID)
	return ae
}
