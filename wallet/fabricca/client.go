package fabricca

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxResponse bounds what the client reads from the CA; real responses are a few KiB,
// a CRL for a large CA maybe a few MiB.
const maxResponse = 16 << 20

// Client talks to one Fabric CA server on behalf of one organisation (MSP). It is safe for
// concurrent use.
type Client struct {
	base   *url.URL
	mspID  string
	caName string
	hc     *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (for proxies, custom transports or timeouts).
// It overrides WithTLSRoots.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTLSRoots trusts roots for the CA's TLS certificate; for Fabric CA this is usually the
// CA's own certificate (ca-cert.pem) or the TLS CA of the organisation.
func WithTLSRoots(roots *x509.CertPool) Option {
	return func(c *Client) {
		c.hc = &http.Client{
			Timeout: 30 * time.Second,
			Transport: &http.Transport{
				TLSClientConfig:   &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
				ForceAttemptHTTP2: true,
			},
		}
	}
}

// WithCAName selects one CA of a server hosting several (fabric-ca-server --cafiles).
func WithCAName(name string) Option { return func(c *Client) { c.caName = name } }

// New returns a client for the CA at baseURL (for example https://ca.patients:7054),
// issuing identities for mspID.
func New(baseURL, mspID string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("fabric ca client: parse url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fabric ca client: %w: url %q needs http(s)://host:port", ErrInvalidRequest, baseURL)
	}
	if mspID == "" {
		return nil, fmt.Errorf("fabric ca client: %w: empty MSP ID", ErrInvalidRequest)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v1/"
	c := &Client{base: u, mspID: mspID, hc: &http.Client{Timeout: 30 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// MSPID is the organisation whose identities this CA issues.
func (c *Client) MSPID() string { return c.mspID }

// response is the cfssl envelope every Fabric CA endpoint answers with.
type response struct {
	Success  bool            `json:"success"`
	Result   json.RawMessage `json:"result"`
	Errors   []Message       `json:"errors"`
	Messages []Message       `json:"messages"`
}

// auth adds authentication to a request whose body is final.
type auth func(req *http.Request, body []byte) error

func basicAuth(user, secret string) auth {
	return func(req *http.Request, _ []byte) error {
		req.SetBasicAuth(user, secret)
		return nil
	}
}

// call POSTs in as JSON to endpoint and decodes the result into out.
func (c *Client) call(ctx context.Context, op, endpoint string, in any, authn auth, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("fabric ca %s: encode request: %w", op, err)
	}
	u := c.base.JoinPath(endpoint)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("fabric ca %s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if authn != nil {
		if err := authn(req, body); err != nil {
			return fmt.Errorf("fabric ca %s: %w", op, err)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("fabric ca %s: %w", op, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return fmt.Errorf("fabric ca %s: read response: %w", op, err)
	}
	return parseResponse(op, resp.StatusCode, raw, out)
}

// parseResponse decodes the cfssl envelope of a Fabric CA answer into out; failures the CA
// reports become *ServerError.
func parseResponse(op string, status int, raw []byte, out any) error {
	var r response
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r); err != nil {
			if status >= 400 {
				msg := strings.TrimSpace(string(raw[:min(len(raw), 512)]))
				return &ServerError{Op: op, StatusCode: status, Errors: []Message{{Message: msg}}}
			}
			return fmt.Errorf("fabric ca %s: decode response: %w", op, err)
		}
	}
	if status >= 400 || !r.Success || len(r.Errors) > 0 {
		return &ServerError{Op: op, StatusCode: status, Errors: r.Errors}
	}
	if out != nil {
		if err := json.Unmarshal(r.Result, out); err != nil {
			return fmt.Errorf("fabric ca %s: decode result: %w", op, err)
		}
	}
	return nil
}
