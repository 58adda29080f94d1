package web_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

func TestSignInSetsStrictSessionCookie(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t, nil)
	token := b.csrf("/signin")
	req, err := http.NewRequest(http.MethodPost, b.base+"/signin", strings.NewReader(url.Values{
		"csrf": {token}, "label": {"patient1"}, "passphrase": {passphrase},
	}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/patient", resp.Header.Get("Location"))

	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-careledger-session" {
			session = c
		}
	}
	require.NotNil(t, session, "no session cookie in %v", resp.Header["Set-Cookie"])
	require.True(t, session.HttpOnly, "script must not read the session cookie")
	require.True(t, session.Secure, "the session cookie must never travel over plain HTTP")
	require.Equal(t, http.SameSiteStrictMode, session.SameSite)
	require.Equal(t, "/", session.Path)
	require.Empty(t, session.Domain)
	require.Positive(t, session.MaxAge)
	require.LessOrEqual(t, session.MaxAge, int((15 * time.Minute).Seconds()), "short-lived by default")
	require.GreaterOrEqual(t, len(session.Value), 43, "at least 256 random bits")

	status, _, body := b.get("/patient")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, ledgerID(e.patient))
}

func TestWrongPassphraseOrUnknownNameIsRefusedAlike(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ name, label, pass string }{
		{"wrong passphrase", "patient1", "not the passphrase"},
		{"unknown name", "nobody", passphrase},
		{"invalid name", "../patient1", passphrase},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser(t, nil)
			status, _, body := b.signIn(tc.label, tc.pass)
			require.Equal(t, http.StatusUnauthorized, status)
			require.Contains(t, body, "The wallet name or the passphrase is not right.")
			require.Nil(t, b.cookie("__Host-careledger-session"))
			status, loc, _ := b.get("/patient")
			require.Equal(t, http.StatusSeeOther, status)
			require.Equal(t, "/signin", loc)
		})
	}
	t.Run("empty fields", func(t *testing.T) {
		b := e.browser(t, nil)
		status, _, body := b.signIn("", "")
		require.Equal(t, http.StatusBadRequest, status)
		require.Contains(t, body, "Please fill in both")
	})
}

func TestFormsWithoutValidCSRFTokenChangeNothing(t *testing.T) {
	e := newEnv(t)
	clinicianID := ledgerID(e.clinician)
	grantForm := func(token string) url.Values {
		return url.Values{
			"csrf": {token}, "grantee_kind": {"person"}, "grantee_id": {clinicianID},
			"actions": {"read"}, "categories": {"lab"}, "purpose": {"TREAT"},
		}
	}
	victim := e.browser(t, nil)
	status, _, _ := victim.signIn("patient1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
	attacker := e.browser(t, nil)
	status, _, _ = attacker.signIn("clinician1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
	attackerToken := attacker.csrf("/clinician")
	goodToken := victim.csrf("/patient/sharing")

	cases := []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", grantForm(""), map[string]string{"Sec-Fetch-Site": "same-origin"}},
		{"garbage token", grantForm("AAAA"), map[string]string{"Sec-Fetch-Site": "same-origin"}},
		{"another session's token", grantForm(attackerToken), map[string]string{"Sec-Fetch-Site": "same-origin"}},
		{"cross-site post with a stolen token", grantForm(goodToken), map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"foreign origin", grantForm(goodToken), map[string]string{"Origin": "https://evil.example"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, _, body := victim.postWith("/patient/grants", tc.form, tc.headers)
			require.Equal(t, http.StatusForbidden, status)
			require.Contains(t, body, "This form has expired or did not come from this site")
		})
	}
	page, err := e.stack.Client(t, e.patient).ListGrants(context.Background(), "", false, ledger.Page{})
	require.NoError(t, err)
	require.Empty(t, page.Grants, "a refused form must not reach the ledger")

	// The same form with the right token goes through.
	status, loc, body := victim.post("/patient/grants", grantForm(goodToken))
	require.Equal(t, http.StatusSeeOther, status, body)
	require.Equal(t, "/patient/sharing?done=granted", loc)

	t.Run("sign-in form", func(t *testing.T) {
		b := e.browser(t, nil)
		b.csrf("/signin") // sets the pre-sign-in cookie
		status, _, _ := b.post("/signin", url.Values{"label": {"patient1"}, "passphrase": {passphrase}})
		require.Equal(t, http.StatusForbidden, status)
		require.Nil(t, b.cookie("__Host-careledger-session"))
	})
}

func TestSessionsExpire(t *testing.T) {
	e := newEnv(t)
	t.Run("idle", func(t *testing.T) {
		b := e.browser(t, nil)
		status, _, _ := b.signIn("patient1", passphrase)
		require.Equal(t, http.StatusSeeOther, status)
		e.clock.Add(10 * time.Minute)
		status, _, _ = b.get("/patient") // use keeps it alive
		require.Equal(t, http.StatusOK, status)
		e.clock.Add(10 * time.Minute)
		status, _, _ = b.get("/patient")
		require.Equal(t, http.StatusOK, status)
		e.clock.Add(16 * time.Minute)
		status, loc, _ := b.get("/patient")
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/signin", loc)
	})
	t.Run("absolute", func(t *testing.T) {
		b := e.browser(t, nil)
		status, _, _ := b.signIn("patient1", passphrase)
		require.Equal(t, http.StatusSeeOther, status)
		for range 9 { // 9 × 14 minutes: always active, but past the 2 hour limit
			e.clock.Add(14 * time.Minute)
			b.get("/patient")
		}
		status, loc, _ := b.get("/patient")
		require.Equal(t, http.StatusSeeOther, status)
		require.Equal(t, "/signin", loc)
	})
}

func TestSignOutWipesTheSession(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t, nil)
	status, _, _ := b.signIn("patient1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
	stolen := b.cookie("__Host-careledger-session")
	require.NotNil(t, stolen)
	token := b.csrf("/patient")
	status, loc, _ := b.post("/signout", url.Values{"csrf": {token}})
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin?out=1", loc)
	require.Nil(t, b.cookie("__Host-careledger-session"))

	// Replaying the old cookie value finds nothing: the identity is gone from the server.
	replay := e.browser(t, nil)
	req, err := http.NewRequest(http.MethodGet, replay.base+"/patient", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
	resp, err := replay.c.Do(req)
	require.NoError(t, err)
	status, loc, _ = read(t, resp)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin", loc)
}

func TestCertificateSignInReadsButCannotConsent(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t, e.patient)
	status, loc, _ := b.get("/")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/patient", loc)

	status, _, body := b.get("/patient/sharing")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "sign in with your wallet")
	require.NotContains(t, body, `action="/patient/grants"`)

	token := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, token, "certificate pages still carry a form token")
	status, _, body = b.post("/patient/grants", url.Values{
		"csrf": {token[1]}, "grantee_kind": {"person"}, "grantee_id": {ledgerID(e.clinician)},
		"actions": {"read"}, "categories": {"lab"}, "purpose": {"TREAT"},
	})
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "must be signed with your own key")

	// A certificate of no consortium CA is ignored, and one for another role is kept off the
	// patient's pages.
	clin := e.browser(t, e.clinician)
	status, _, body = clin.get("/patient")
	require.Equal(t, http.StatusForbidden, status)
	require.Contains(t, body, "This page is for the patient role")
	other := e.browser(t, foreignUser(t))
	status, loc, _ = other.get("/")
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin", loc)
}

// foreignUser is a patient of a consortium generated elsewhere: its CA is not ours.
func foreignUser(t *testing.T) *network.User {
	t.Helper()
	dir := t.TempDir()
	cons := network.DefaultConsortium()
	require.NoError(t, network.GenerateMaterial(dir, cons))
	org, ok := cons.Org(network.PatientsMSP)
	require.True(t, ok)
	u, err := network.IssueUser(dir, org, network.UserSpec{Name: "patient1", Role: network.RolePatient})
	require.NoError(t, err)
	return u
}

func TestSessionTableIsBounded(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.MaxSessions = 1 })
	first := e.browser(t, nil)
	status, _, _ := first.signIn("patient1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
	second := e.browser(t, nil)
	status, _, body := second.signIn("clinician1", passphrase)
	require.Equal(t, http.StatusServiceUnavailable, status)
	require.Contains(t, body, "too many people are signed in")

	// Once the first session has expired, its place is free again.
	e.clock.Add(16 * time.Minute)
	status, _, _ = second.signIn("clinician1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
}

func TestUnknownPagesAreNotFound(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t, nil)
	for _, p := range []string{"/nope", "/patient/records/../../etc/passwd", "/static/missing.css"} {
		status, _, _ := b.get(p)
		require.Contains(t, []int{http.StatusNotFound, http.StatusSeeOther, http.StatusMovedPermanently, http.StatusTemporaryRedirect}, status, p)
		require.NotEqual(t, http.StatusOK, status, p)
	}
	status, _, body := b.get("/nope")
	require.Equal(t, http.StatusNotFound, status)
	require.Contains(t, body, "There is no such page.")
}

func TestRepeatedWrongPassphrasesSlowDownSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t, nil)
	for range 5 {
		status, _, _ := b.signIn("patient1", "guess")
		require.Equal(t, http.StatusUnauthorized, status)
	}
	status, _, _ := b.signIn("patient1", "guess")
	require.Equal(t, http.StatusUnauthorized, status, "the sixth failure starts the wait")
	status, _, body := b.signIn("patient1", passphrase)
	require.Equal(t, http.StatusTooManyRequests, status, "even the right passphrase waits")
	require.Contains(t, body, "Please wait 1 minute(s)")

	// Other names are not affected.
	other := e.browser(t, nil)
	status, _, _ = other.signIn("clinician1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)

	e.clock.Add(31 * time.Second)
	status, _, _ = b.signIn("patient1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
}

// countingWallet counts the unlocks (key derivations) running at once.
type countingWallet struct {
	web.Wallet
	running, peak, calls atomic.Int32
	hold                 chan struct{}
}

func (c *countingWallet) Get(label string, pass []byte) (*wallet.Identity, error) {
	n := c.running.Add(1)
	defer c.running.Add(-1)
	for p := c.peak.Load(); n > p && !c.peak.CompareAndSwap(p, n); p = c.peak.Load() {
	}
	c.calls.Add(1)
	<-c.hold // keep the slot until the test lets go, so that the attempts surely overlap
	return c.Wallet.Get(label, pass)
}

// TestParallelWrongPassphrasesAreRefusedBeforeTheyAreChecked: 150 wrong passphrases sent at
// once are counted as they arrive: only a few are checked, never more than two at a time, and
// the rest are refused with 429 and Retry-After without a key derivation.
func TestParallelWrongPassphrasesAreRefusedBeforeTheyAreChecked(t *testing.T) {
	cw := &countingWallet{hold: make(chan struct{})}
	e := newEnv(t, func(c *web.Config) { cw.Wallet = c.Wallet; c.Wallet = cw })
	b := e.browser(t, nil)
	token := b.csrf("/signin")
	burst := func(t *testing.T, label func(i int) string) (refused int) {
		var wg sync.WaitGroup
		statuses := make([]int, 150)
		retry := make([]string, 150)
		var answered atomic.Int32
		release := sync.OnceFunc(func() { close(cw.hold) })
		defer release()
		for i := range statuses {
			wg.Go(func() {
				form := url.Values{"csrf": {token}, "label": {label(i)}, "passphrase": {"guess"}}
				req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/signin", strings.NewReader(form.Encode()))
				require.NoError(t, err)
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", e.srv.URL)
				resp, err := b.c.Do(req)
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				statuses[i], retry[i] = resp.StatusCode, resp.Header.Get("Retry-After")
				answered.Add(1)
			})
		}
		// Let the unlocks finish only once everything but the unlocks in flight (at most the
		// eight running or waiting) has been answered: the refusals did not wait for them.
		require.Eventually(t, func() bool { return answered.Load() >= 150-8 }, time.Minute, 5*time.Millisecond)
		release()
		wg.Wait()
		cw.hold = make(chan struct{})
		for i, st := range statuses {
			switch st {
			case http.StatusTooManyRequests:
				refused++
				require.NotEmpty(t, retry[i], "a refusal says when to come back")
			case http.StatusUnauthorized:
			default:
				t.Fatalf("attempt %d: status %d", i, st)
			}
		}
		return refused
	}

	t.Run("one name", func(t *testing.T) {
		refused := burst(t, func(int) string { return "patient1" })
		require.LessOrEqual(t, int(cw.calls.Load()), 6, "five free attempts and the one that starts the wait")
		require.GreaterOrEqual(t, refused, 144)
	})
	cw.calls.Store(0)
	t.Run("many names from one address", func(t *testing.T) {
		refused := burst(t, func(i int) string { return fmt.Sprintf("guess%d", i) })
		require.LessOrEqual(t, int(cw.calls.Load()), 31)
		require.GreaterOrEqual(t, refused, 119)
	})
	require.LessOrEqual(t, int(cw.peak.Load()), 2, "key derivations running at once")
	require.Positive(t, cw.peak.Load())
}
