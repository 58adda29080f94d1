package web_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

// passphrase is every test identity's wallet passphrase.
const passphrase = "correct horse battery staple"

// clock is a settable clock for session expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is the web interface on a full gateway stack, served over TLS on loopback, with the
// stack's default users in a wallet under their folder names.
type env struct {
	stack        *gatewaytest.Stack
	srv          *httptest.Server
	dir          *directory.Directory
	wallet       *wallet.Wallet
	clock        *clock
	patient      *network.User
	clinician    *network.User
	manufacturer *network.User
}

type envOption func(*web.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	stack := gatewaytest.StartStack(t, 0)
	w, err := wallet.Open(t.TempDir(), wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}))
	require.NoError(t, err)
	e := &env{
		stack: stack, wallet: w, clock: &clock{t: time.Now()},
		patient:      stack.User(t, network.PatientsMSP, "patient1"),
		clinician:    stack.User(t, network.ClinicMSP, "clinician1"),
		manufacturer: stack.User(t, network.PharmaMSP, "manufacturer1"),
	}
	for _, u := range []*network.User{e.patient, e.clinician, e.manufacturer} {
		e.putWallet(t, u)
	}
	orgs := map[string]web.Org{}
	names := map[string]string{network.PatientsMSP: "Patients' Trust", network.ClinicMSP: "City Clinic", network.PharmaMSP: "Pharma Ltd"}
	dirOrgs := map[string]directory.Org{}
	for _, o := range stack.Node.Config().Consortium.Orgs {
		orgs[o.MSPID] = web.Org{Name: names[o.MSPID], CACerts: orgCACerts(t, stack.Dir, o), Gateway: stack.Gateways[o.MSPID]}
		dirOrgs[o.MSPID] = directory.Org{Name: names[o.MSPID], Clinicians: o.MSPID == network.ClinicMSP}
	}
	e.dir, err = directory.Open(filepath.Join(t.TempDir(), "directory.db"), dirOrgs)
	require.NoError(t, err)
	t.Cleanup(func() { e.dir.Close() })
	cfg := web.Config{Wallet: w, Conn: stack.Conn, Service: stack.Service, Orgs: orgs, Directory: e.dir, Now: e.clock.Now}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := web.New(cfg)
	require.NoError(t, err)
	e.srv = httptest.NewUnstartedServer(h)
	// Browsers may present a certificate; the handler verifies it against the organisations.
	e.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
	e.srv.StartTLS()
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) putWallet(t *testing.T, u *network.User) {
	t.Helper()
	id, err := wallet.ImportMSP(filepath.Join(u.Dir, "msp"), u.MSPID)
	require.NoError(t, err)
	require.NoError(t, e.wallet.Put(u.Name, id, []byte(passphrase)))
}

func orgCACerts(t testing.TB, dir string, org network.Org) []*x509.Certificate {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(network.OrgDir(dir, org), "msp", "cacerts", "*.pem"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	var certs []*x509.Certificate
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		c, err := x509.ParseCertificate(pemBlock(t, b))
		require.NoError(t, err)
		certs = append(certs, c)
	}
	return certs
}

// inDirectory gives a clinician a directory entry, as they would on their profile page.
func (e *env) inDirectory(t *testing.T, u *network.User, p directory.Profile) {
	t.Helper()
	_, err := e.dir.Put(context.Background(), directory.Member{MSP: u.MSPID, Pseudonym: ledgerID(u), Role: model.RoleClinician}, ledgerID(u), "", p)
	require.NoError(t, err)
}

// ledgerID is u's pseudonym.
func ledgerID(u *network.User) string { return wallet.LedgerID(u.MSPID, u.EnrollmentID) }

// upload stores a FHIR resource for the patient, signed by the patient.
func (e *env) upload(t *testing.T, u *network.User, resource string) string {
	t.Helper()
	rec, err := e.stack.Service.Upload(context.Background(), e.stack.Client(t, u), gateway.Upload{
		Owner: ledgerID(u), Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(resource)},
	})
	require.NoError(t, err)
	return rec.ID
}

// browser is a plain HTTP client with its own cookie jar, as one browser profile.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (e *env) browser(t *testing.T, cert *network.User) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	tr := e.srv.Client().Transport.(*http.Transport).Clone()
	if cert != nil {
		tr.TLSClientConfig.Certificates = []tls.Certificate{{Certificate: [][]byte{cert.Cert.Raw}, PrivateKey: cert.Key, Leaf: cert.Cert}}
	}
	return &browser{t: t, base: e.srv.URL, c: &http.Client{
		Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// get fetches a page and returns its status, location and body.
func (b *browser) get(path string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	require.NoError(b.t, err)
	return read(b.t, resp)
}

// post submits a form, as a same-origin browser would.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	return b.postWith(path, form, map[string]string{"Origin": b.base, "Sec-Fetch-Site": "same-origin"})
}

func (b *browser) postWith(path string, form url.Values, headers map[string]string) (int, string, string) {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	return read(b.t, resp)
}

func read(t *testing.T, resp *http.Response) (int, string, string) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf fetches a page and returns the form token on it.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	status, _, body := b.get(path)
	require.Equal(b.t, http.StatusOK, status, body)
	m := csrfRE.FindStringSubmatch(body)
	require.NotNil(b.t, m, "no CSRF token on %s", path)
	return m[1]
}

// signIn signs in with a wallet label and returns the response of the sign-in post.
func (b *browser) signIn(label, pass string) (int, string, string) {
	b.t.Helper()
	token := b.csrf("/signin")
	return b.post("/signin", url.Values{"csrf": {token}, "label": {label}, "passphrase": {pass}})
}

// cookie returns the named cookie the jar holds for the server.
func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.base)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func pemBlock(t testing.TB, b []byte) []byte {
	t.Helper()
	block, _ := pem.Decode(b)
	require.NotNil(t, block)
	return block.Bytes
}
