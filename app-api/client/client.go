// Package client is a Go client for the CareLedger HTTP API, used by the careledger CLI and by
// clinic systems: it authenticates with the member's certificate and key over mutual TLS,
// gives every route a typed method, and runs the offline-signing flow for consent
// transactions locally, so the member's private key never leaves the device. Before signing
// anything it checks that the message says what was asked for and computes the digest itself.
package client

import (
	"bytes"
	"context"
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

// Client calls one CareLedger API server as one member. It is safe for concurrent use.
type Client struct {
	base   *url.URL
	hc     *http.Client
	mspID  string
	cert   *x509.Certificate
	signer crypto.Signer
	// unsigned turns off signing access assertions (WithoutAccessAssertions).
	unsigned bool
}

type options struct {
	mspID      string
	certPEM    []byte
	key        crypto.Signer
	roots      *x509.CertPool
	serverName string
	timeout    time.Duration
	transport  *http.Transport
	unsigned   bool
}

// Option configures a Client.
type Option func(*options)

// WithIdentity authenticates as the member with this MSP ID, certificate and key. The key
// may live in an HSM or a wallet; it signs the TLS handshake and offline-signed transactions.
func WithIdentity(mspID string, certPEM []byte, key crypto.Signer) Option {
	return func(o *options) { o.mspID, o.certPEM, o.key = mspID, certPEM, key }
}

// WithoutAccessAssertions stops the client from signing an access assertion for each read of
// record content, so the reads are recorded as gateway-asserted. By default a client with an
// identity signs them, and the patient's audit trail shows its reads as member-signed.
func WithoutAccessAssertions() Option { return func(o *options) { o.unsigned = true } }

// WithRootCAs trusts these CAs for the server's certificate instead of the system's.
func WithRootCAs(pool *x509.CertPool) Option { return func(o *options) { o.roots = pool } }

// WithServerName expects this name in the server's certificate.
func WithServerName(name string) Option { return func(o *options) { o.serverName = name } }

// WithTimeout bounds each HTTP request (default one minute: a commit can take a while).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithMaxConnsPerHost keeps up to n connections to the server alive, for concurrent use.
func WithMaxConnsPerHost(n int) Option {
	return func(o *options) { o.transport.MaxIdleConnsPerHost = n }
}

// New returns a client for the API at baseURL (https://host:port).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(baseURL, "/"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("new api client: base URL %q must be https://host[:port]", baseURL)
	}
	o := options{timeout: time.Minute, transport: http.DefaultTransport.(*http.Transport).Clone()}
	for _, opt := range opts {
		opt(&o)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.roots, ServerName: o.serverName}
	c := &Client{base: u, mspID: o.mspID, signer: o.key, unsigned: o.unsigned}
	if o.certPEM != nil {
		block, _ := pem.Decode(o.certPEM)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, errors.New("new api client: certificate is not PEM")
		}
		if c.cert, err = x509.ParseCertificate(block.Bytes); err != nil {
			return nil, fmt.Errorf("new api client: %w", err)
		}
		if o.key == nil {
			return nil, errors.New("new api client: a certificate needs its key")
		}
		tc.Certificates = []tls.Certificate{{Certificate: [][]byte{block.Bytes}, PrivateKey: o.key, Leaf: c.cert}}
	}
	o.transport.TLSClientConfig = tc
	o.transport.ForceAttemptHTTP2 = true
	c.hc = &http.Client{Transport: o.transport, Timeout: o.timeout}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Error is an error response of the API. Branch on Code (see the api package's codes and the
// chaincode's); errors.Is(err, &client.Error{Code: "NO_GRANT"}) matches by code.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
	// RetryAfter is set when the server said when to retry (ledger unavailable).
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	return fmt.Sprintf("careledger api: %d %s: %s (request %s)", e.Status, e.Code, e.Message, e.RequestID)
}

// Is matches an *Error with the same code (and status, when the target sets one).
func (e *Error) Is(target error) bool {
	var t *Error
	return errors.As(target, &t) && t.Code == e.Code && (t.Status == 0 || t.Status == e.Status)
}

// Page asks for one page of a listing: zero values are the server's default size and the
// first page.
type Page struct {
	Size     int
	Bookmark string
}

func (p Page) set(q url.Values) {
	if p.Size > 0 {
		q.Set("pageSize", strconv.Itoa(p.Size))
	}
	if p.Bookmark != "" {
		q.Set("bookmark", p.Bookmark)
	}
}

// request is one HTTP call.
type request struct {
	method, path string
	query        url.Values
	contentType  string
	body         []byte
	accept       string
	assertion    *model.AccessAssertion // signed and sent in model.AssertionHeader
}

// do sends a request and returns the response; a non-2xx answer becomes an *Error.
func (c *Client) do(ctx context.Context, r request) (*http.Response, error) {
	u := *c.base
	u.Path += r.path
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		body = bytes.NewReader(r.body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, fmt.Errorf("careledger api %s %s: %w", r.method, r.path, err)
	}
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	if r.assertion != nil && c.signer != nil && !c.unsigned {
		a := *r.assertion
		a.Nonce, a.At = model.NewAssertionNonce(), time.Now()
		sa, err := model.SignAssertion(c.signer, a)
		if err != nil {
			return nil, fmt.Errorf("careledger api %s %s: %w", r.method, r.path, err)
		}
		req.Header.Set(model.AssertionHeader, sa.Encode())
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("careledger api %s %s: %w", r.method, r.path, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	apiErr := &Error{Status: resp.StatusCode, RequestID: resp.Header.Get("X-Request-ID")}
	var eb struct {
		Error struct {
			Code      string `json:"code"`
			Message   string `json:"message"`
			RequestID string `json:"requestId"`
		} `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&eb); err == nil && eb.Error.Code != "" {
		apiErr.Code, apiErr.Message = eb.Error.Code, eb.Error.Message
		if eb.Error.RequestID != "" {
			apiErr.RequestID = eb.Error.RequestID
		}
	} else {
		apiErr.Code, apiErr.Message = "HTTP_"+strconv.Itoa(resp.StatusCode), http.StatusText(resp.StatusCode)
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s >= 0 {
		apiErr.RetryAfter = time.Duration(s) * time.Second
	}
	return nil, apiErr
}

// maxResponse bounds a JSON response.
const maxResponse = 64 << 20

// call sends a request with an optional JSON body and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	r := request{method: method, path: path, query: query}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("careledger api %s %s: %w", method, path, err)
		}
		r.body, r.contentType = b, "application/json"
	}
	return c.send(ctx, r, out)
}

// send sends a request and decodes the JSON answer into out (nil: discard it).
func (c *Client) send(ctx context.Context, r request, out any) error {
	method, path := r.method, r.path
	resp, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("careledger api %s %s: decode response: %w", method, path, err)
	}
	return nil
}

// get is call for GET requests.
func get[T any](ctx context.Context, c *Client, path string, query url.Values) (*T, error) {
	out := new(T)
	if err := c.call(ctx, http.MethodGet, path, query, nil, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Health checks the server is up (no certificate needed).
func (c *Client) Health(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Ready checks the server can reach the ledger.
func (c *Client) Ready(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/readyz", nil, nil, nil)
}

func seg(s string) string { return url.PathEscape(s) }
