package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/wallet"
)

// Cookie names. The __Host- prefix makes browsers refuse the cookie unless it is Secure, has
// Path=/ and no Domain, so no other host or plain-HTTP page can plant or read it.
const (
	sessionCookie = "__Host-careledger-session"
	preCookie     = "__Host-careledger-pre"
	csrfField     = "csrf"
)

// errTooManySessions refuses a sign-in while the session table is full.
var errTooManySessions = errors.New("too many people are signed in; try again in a few minutes")

// session is one wallet sign-in. The unlocked identity lives only here, in memory.
type session struct {
	id      string
	ident   *wallet.Identity
	client  *ledger.Client
	created time.Time
	seen    time.Time
}

// sessions holds the signed-in identities behind random IDs.
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	idle time.Duration
	max  time.Duration
	cap  int
}

func newSessions(idle, max time.Duration, capacity int) *sessions {
	return &sessions{byID: map[string]*session{}, idle: idle, max: max, cap: capacity}
}

// randomToken returns 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create stores a new session for the identity and its ledger client.
func (s *sessions) create(ident *wallet.Identity, client *ledger.Client, now time.Time) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
	if len(s.byID) >= s.cap {
		return nil, errTooManySessions
	}
	sess := &session{id: randomToken(), ident: ident, client: client, created: now, seen: now}
	s.byID[sess.id] = sess
	return sess, nil
}

// get returns the live session with the ID and marks it used; an expired one is ended.
func (s *sessions) get(id string, now time.Time) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.byID[id]
	if !ok {
		return nil
	}
	if s.expired(sess, now) {
		s.endLocked(sess)
		return nil
	}
	sess.seen = now
	return sess
}

// end wipes a session: the identity and its ledger client are dropped at once.
func (s *sessions) end(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.byID[id]; ok {
		s.endLocked(sess)
	}
}

func (s *sessions) expired(sess *session, now time.Time) bool {
	return now.Sub(sess.seen) >= s.idle || now.Sub(sess.created) >= s.max
}

// expiry is when the session ends if it is not used again.
func (s *sessions) expiry(sess *session) time.Time {
	idle, hard := sess.seen.Add(s.idle), sess.created.Add(s.max)
	if hard.Before(idle) {
		return hard
	}
	return idle
}

func (s *sessions) endLocked(sess *session) {
	delete(s.byID, sess.id)
	sess.ident, sess.client = nil, nil
}

func (s *sessions) sweepLocked(now time.Time) {
	for _, sess := range s.byID {
		if s.expired(sess, now) {
			s.endLocked(sess)
		}
	}
}

// setSessionCookie sends the session cookie, expiring with the session.
func setSessionCookie(w http.ResponseWriter, id string, expires time.Time, now time.Time) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: id, Path: "/", Expires: expires, MaxAge: max(1, int(expires.Sub(now).Seconds())),
		HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

// clearCookie tells the browser to forget a cookie.
func clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true, SameSite: http.SameSiteStrictMode,
	})
}

// csrf derives form tokens from a server secret and what the request is bound to (the
// session, the client certificate, or a pre-sign-in cookie), so a token taken from one
// person's page is worthless in anyone else's.
type csrf struct{ key []byte }

func newCSRF() *csrf {
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	return &csrf{key: k}
}

func (c *csrf) token(binding string) string {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("careledger/web/csrf/v1\x00"))
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (c *csrf) valid(binding, got string) bool {
	if binding == "" || got == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(c.token(binding)), []byte(got)) == 1
}

// sameOrigin refuses requests a browser marks as cross-site. SameSite=Strict already keeps the
// session cookie off them; this also protects the sign-in form, which has no session yet.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		return o == "https://"+r.Host
	}
	return true
}
