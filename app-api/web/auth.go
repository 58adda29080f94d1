package web

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime/debug"
	"sort"
	"strconv"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/wallet"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
)

// Roles with pages.
const (
	rolePatient      = wallet.RolePatient
	roleClinician    = wallet.RoleClinician
	roleManufacturer = wallet.RoleManufacturer
)

func startPage(role string) string {
	switch role {
	case rolePatient:
		return "/patient"
	case roleClinician:
		return "/clinician"
	case roleManufacturer:
		return "/manufacturer"
	}
	return ""
}

// viewer is the person behind a request and the ledger client that acts as them.
type viewer struct {
	MSPID    string
	OrgName  string
	Role     string
	LedgerID string
	// CanSign is true for a wallet sign-in: the person's own key signs consent changes.
	CanSign bool
	// ByCertificate is true for a TLS client certificate sign-in.
	ByCertificate bool
	client        *ledger.Client
	// signer and certPEM are the person's key and certificate when the session holds them
	// (a wallet sign-in), to sign their access assertions.
	signer    crypto.Signer
	certPEM   []byte
	sessionID string
	binding   string // what CSRF tokens are bound to
}

// certRoots verifies browser certificates of one organisation.
type certRoots struct {
	roots, inter *x509.CertPool
}

func buildRoots(orgs map[string]Org) map[string]certRoots {
	out := map[string]certRoots{}
	for id, o := range orgs {
		if len(o.CACerts) == 0 || o.Gateway == nil {
			continue
		}
		cr := certRoots{roots: x509.NewCertPool(), inter: x509.NewCertPool()}
		for _, c := range o.CACerts {
			cr.roots.AddCert(c)
		}
		for _, c := range o.IntermediateCerts {
			cr.inter.AddCert(c)
		}
		out[id] = cr
	}
	return out
}

func (s *server) orgName(mspID string) string {
	if o, ok := s.cfg.Orgs[mspID]; ok && o.Name != "" {
		return o.Name
	}
	if s.cfg.Directory != nil {
		return s.cfg.Directory.OrgName(mspID)
	}
	return mspID
}

// viewer returns who is signed in: a live wallet session first (it can sign), else a verified
// client certificate, else nil.
func (s *server) viewer(r *http.Request) *viewer {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if sess := s.sessions.get(c.Value, s.now()); sess != nil {
			id := sess.ident
			return &viewer{
				MSPID: id.MSPID(), OrgName: s.orgName(id.MSPID()), Role: id.Role(), LedgerID: id.LedgerID(),
				CanSign: true, client: sess.client, sessionID: sess.id, binding: "session\x00" + sess.id,
				signer: id.Signer(), certPEM: id.CertificatePEM(),
			}
		}
	}
	return s.certViewer(r)
}

// certViewer identifies a browser by its TLS client certificate: the chain must verify against
// exactly one organisation's CAs, and that organisation's gateway then acts for the member.
func (s *server) certViewer(r *http.Request) *viewer {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil
	}
	leaf := r.TLS.PeerCertificates[0]
	ids := make([]string, 0, len(s.roots))
	for id := range s.roots {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var match string
	for _, id := range ids {
		cr := s.roots[id]
		inter := cr.inter.Clone()
		for _, c := range r.TLS.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		_, err := leaf.Verify(x509.VerifyOptions{
			Roots: cr.roots, Intermediates: inter, CurrentTime: s.now(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
		})
		if err == nil {
			if match != "" {
				return nil // chains to two organisations: refuse rather than guess
			}
			match = id
		}
	}
	if match == "" {
		return nil
	}
	attrs, err := attrmgr.New().GetAttributesFromCert(leaf)
	if err != nil {
		return nil
	}
	enrollment := attrs.Attrs[wallet.AttrEnrollmentID]
	if enrollment == "" {
		enrollment = leaf.Subject.CommonName
	}
	sum := sha256.Sum256(leaf.Raw)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	return &viewer{
		MSPID: match, OrgName: s.orgName(match), Role: attrs.Attrs[wallet.AttrRole],
		LedgerID: wallet.LedgerID(match, enrollment), ByCertificate: true,
		client:  s.cfg.Orgs[match].Gateway.For(certPEM),
		binding: "cert\x00" + hex.EncodeToString(sum[:]),
	}
}

// reading returns the options for a read of the record by v. A wallet session holds the
// person's key on the server, so it signs their access assertion and the read is recorded as
// member-signed; a certificate sign-in keeps the key in the browser, so its reads are
// gateway-asserted. A signing failure also leaves the read gateway-asserted, which the
// patient's trail then says.
func (v *viewer) reading(recordID string) []gateway.ReadOption {
	if v.signer == nil {
		return nil
	}
	sa, err := model.SignAssertion(v.signer, model.AccessAssertion{Nonce: model.NewAssertionNonce(), RecordID: recordID, Action: model.ActionRead, At: time.Now()})
	if err != nil {
		return nil
	}
	return []gateway.ReadOption{gateway.WithAssertion(sa, v.certPEM)}
}

// handlerFunc is a page handler for a signed-in viewer.
type handlerFunc func(w http.ResponseWriter, r *http.Request, v *viewer)

// signedIn runs h for a signed-in viewer, checking the CSRF token of every form post.
func (s *server) signedIn(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := s.viewer(r)
		if v == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/signin", http.StatusSeeOther)
				return
			}
			s.fail(w, r, nil, http.StatusUnauthorized, "You are not signed in, or your session has ended. Please sign in again.")
			return
		}
		if v.sessionID != "" {
			setSessionCookie(w, v.sessionID, s.sessionExpiry(v.sessionID), s.now())
		}
		if r.Method != http.MethodGet && !s.checkForm(r, v.binding) {
			s.fail(w, r, v, http.StatusForbidden, "This form has expired or did not come from this site. Please go back, reload the page and try again.")
			return
		}
		h(w, r, v)
	})
}

// role runs h only for viewers with the role; others are told the page is not for them.
func (s *server) role(role string, h handlerFunc) http.Handler {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if v.Role != role {
			s.fail(w, r, v, http.StatusForbidden, fmt.Sprintf("This page is for the %s role; you are signed in as %s.", role, roleWord(v.Role)))
			return
		}
		h(w, r, v)
	})
}

func (s *server) sessionExpiry(id string) time.Time {
	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()
	if sess, ok := s.sessions.byID[id]; ok {
		return s.sessions.expiry(sess)
	}
	return s.now()
}

// checkForm checks that a posted form came from one of our pages for this binding.
func (s *server) checkForm(r *http.Request, binding string) bool {
	if !sameOrigin(r) {
		return false
	}
	return s.csrf.valid(binding, r.PostFormValue(csrfField))
}

// preBinding returns the pre-sign-in CSRF binding, setting its cookie if needed.
func (s *server) preBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 43 {
		return "pre\x00" + c.Value
	}
	v := randomToken()
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: v, Path: "/", MaxAge: 3600, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode})
	return "pre\x00" + v
}

// signinPage shows the wallet sign-in form (or, for a certificate holder, where to go).
func (s *server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, http.StatusOK, "", "")
}

func (s *server) renderSignin(w http.ResponseWriter, r *http.Request, status int, label, problem string) {
	cert := s.certViewer(r)
	data := map[string]any{"Label": label, "Cert": cert, "Start": ""}
	if cert != nil {
		data["Start"] = startPage(cert.Role)
	}
	s.renderWith(w, r, status, "signin", nil, s.csrf.token(s.preBinding(w, r)), "Sign in", data, problem)
}

// signin unlocks a wallet identity and starts a session holding it.
func (s *server) signin(w http.ResponseWriter, r *http.Request) {
	binding := s.preBinding(w, r)
	if !s.checkForm(r, binding) {
		s.renderSignin(w, r, http.StatusForbidden, "", "This form has expired. Please try again.")
		return
	}
	label := r.PostFormValue("label")
	pass := []byte(r.PostFormValue("passphrase"))
	defer clear(pass)
	if label == "" || len(pass) == 0 {
		s.renderSignin(w, r, http.StatusBadRequest, label, "Please fill in both your wallet name and your passphrase.")
		return
	}
	addr := clientAddress(r)
	if d := s.admitSignIn(label, addr); d > 0 {
		mins := int(d.Round(time.Minute) / time.Minute)
		tooMany(w, d)
		s.renderSignin(w, r, http.StatusTooManyRequests, label, fmt.Sprintf("Too many attempts to sign in. Please wait %d minute(s) and try again.", max(1, mins)))
		return
	}
	// Each unlock costs tens of MiB and much CPU (argon2id): a few run at once, a few more
	// wait their turn, and everyone beyond is told at once to come back.
	select {
	case s.queue <- struct{}{}:
	default:
		s.refundSignIn(label, addr)
		tooMany(w, busyRetry)
		s.renderSignin(w, r, http.StatusTooManyRequests, label, "Many people are signing in right now. Please try again in a few seconds.")
		return
	}
	select {
	case s.unlock <- struct{}{}:
	case <-r.Context().Done():
		<-s.queue
		s.refundSignIn(label, addr)
		return
	}
	ident, err := s.cfg.Wallet.Get(label, pass)
	<-s.unlock
	<-s.queue
	// The derivation's 64 MiB are garbage now. Collect them and give the pages back at once
	// rather than when the heap reaches its goal: with the process's GOGC=400 that goal is
	// five times the live heap, and a stream of sign-ins fills it with argon2 blocks. In a
	// trial of 24 unlocks, two at a time, over a 50 MiB live heap, the memory held from the
	// system peaked at 946 MiB without this, 242 MiB with it. Sign-ins are few and
	// throttled, so the extra collections cost little.
	debug.FreeOSMemory()
	if err != nil {
		if !errors.Is(err, wallet.ErrWrongPassphrase) && !errors.Is(err, wallet.ErrNotFound) && !errors.Is(err, wallet.ErrInvalidLabel) {
			s.log.Error("unlock wallet identity", "err", err)
		}
		// One message for every case, so the form does not reveal which names exist.
		s.renderSignin(w, r, http.StatusUnauthorized, label, "The wallet name or the passphrase is not right.")
		return
	}
	s.guard.succeeded(label)
	s.byAddr.refund(addr)
	lid, err := ledger.NewIdentity(ident.MSPID(), ident.CertificatePEM(), ident.Sign)
	if err != nil {
		s.log.Error("sign in", "err", err)
		s.renderSignin(w, r, http.StatusInternalServerError, label, "This identity cannot be used. Please ask your organisation for help.")
		return
	}
	client, err := s.cfg.Conn.As(lid)
	if err != nil {
		s.log.Error("sign in", "err", err)
		s.renderSignin(w, r, http.StatusInternalServerError, label, "Something went wrong on our side. Please try again.")
		return
	}
	// A new sign-in replaces any session this browser had: one identity per browser.
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(c.Value)
	}
	sess, err := s.sessions.create(ident, client, s.now())
	if err != nil {
		s.renderSignin(w, r, http.StatusServiceUnavailable, label, errTooManySessions.Error())
		return
	}
	setSessionCookie(w, sess.id, s.sessions.expiry(sess), s.now())
	clearCookie(w, preCookie)
	start := startPage(ident.Role())
	if start == "" {
		start = "/"
	}
	http.Redirect(w, r, start, http.StatusSeeOther)
}

// busyRetry is what a sign-in refused for lack of unlock capacity is told to wait.
const busyRetry = 2 * time.Second

// admitSignIn counts a sign-in attempt against the wallet name and the client address before
// the passphrase is checked, and returns how long to wait when either must.
func (s *server) admitSignIn(label, addr string) time.Duration {
	now := s.now()
	if d := s.guard.attempt(label, now); d > 0 {
		return d
	}
	if d := s.byAddr.attempt(addr, now); d > 0 {
		s.guard.refund(label)
		return d
	}
	return 0
}

// refundSignIn takes back an attempt that was never checked.
func (s *server) refundSignIn(label, addr string) {
	s.guard.refund(label)
	s.byAddr.refund(addr)
}

// clientAddress is the address the connection comes from. Forwarding headers are not
// trusted: anyone can set them.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooMany says when to come back, in whole seconds.
func tooMany(w http.ResponseWriter, d time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(max(time.Second, d+time.Second-1)/time.Second)))
}

// signout ends the session and wipes the identity held for it.
func (s *server) signout(w http.ResponseWriter, r *http.Request) {
	v := s.viewer(r)
	if v != nil && !s.checkForm(r, v.binding) {
		s.fail(w, r, v, http.StatusForbidden, "This form has expired. Please reload the page and try again.")
		return
	}
	if v != nil && v.sessionID != "" {
		s.sessions.end(v.sessionID)
	}
	clearCookie(w, sessionCookie)
	http.Redirect(w, r, "/signin?out=1", http.StatusSeeOther)
}
