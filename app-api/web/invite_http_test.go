package web_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestInvitationOpenedSignedOut: a link opened from another site (a QR reader, an e-mail)
// carries no session cookie, so the page offers one same-site click and keeps the invitation
// across sign-in, saying nothing about who invites; opened from this site, it goes straight
// to sign-in. A malformed link is refused with its reason.
func TestInvitationOpenedSignedOut(t *testing.T) {
	e := newEnv(t)
	e.inDirectory(t, e.clinician, weber)
	b := e.browser(t, nil)
	link := "/patient/invite?c=" + ledgerID(e.clinician) + "&cat=lab&a=read&p=TREAT&d=30"

	req, err := http.NewRequest(http.MethodGet, b.base+link, nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := b.c.Do(req)
	require.NoError(t, err)
	status, _, body := read(t, resp)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, `id="invite-continue"`)
	require.NotContains(t, body, "Weber", "nothing about the clinician before sign-in")
	require.NotNil(t, b.cookie("__Host-careledger-invite"))

	status, loc, _ := b.get(link)
	require.Equal(t, http.StatusSeeOther, status)
	require.Equal(t, "/signin", loc)

	status, loc, _ = b.signIn("patient1", passphrase)
	require.Equal(t, http.StatusSeeOther, status)
	status, loc, _ = b.get(loc)
	require.Equal(t, http.StatusSeeOther, status, "the start page sends the patient to the invitation")
	require.Contains(t, loc, "/patient/invite?")
	status, _, body = b.get(loc)
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Dr Anna Weber")

	status, _, body = b.get("/patient/invite?c=" + ledgerID(e.clinician) + "&cat=lab&a=read&p=TREAT&d=0")
	require.Equal(t, http.StatusBadRequest, status)
	require.Contains(t, body, "between 1 and 3650 days")
}
