package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/stretchr/testify/require"
)

// TestWalletReadsAreMemberSignedAndTheTrailSaysWhoVouches: a wallet session holds the key, so
// its reads are signed by the person; a certificate sign-in's reads rest on the gateway; the
// patient's access page tells the two apart.
func TestWalletReadsAreMemberSignedAndTheTrailSaysWhoVouches(t *testing.T) {
	e := newEnv(t)
	id := e.upload(t, e.patient, labResult)
	wallet := e.signedIn(t, "patient1")
	status, _, _ := wallet.get("/records/" + id + "/content")
	require.Equal(t, http.StatusOK, status)
	byCert := e.browser(t, e.patient)
	status, _, _ = byCert.get("/records/" + id + "/content")
	require.Equal(t, http.StatusOK, status)

	owner := e.stack.Client(t, e.patient)
	var trail []model.AccessEntry
	require.Eventually(t, func() bool {
		_ = e.stack.Flusher.Flush(context.Background())
		page, err := owner.ListAccessLog(context.Background(), "", ledger.Page{})
		require.NoError(t, err)
		trail = page.Entries
		return len(trail) >= 2
	}, 20*time.Second, 20*time.Millisecond)
	got := []string{trail[0].Assurance, trail[1].Assurance}
	require.ElementsMatch(t, []string{model.AssuranceMemberSigned, model.AssuranceGatewayAsserted}, got)

	status, _, body := wallet.get("/patient/access")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, body, "Who vouches")
	require.Equal(t, 1, strings.Count(body, "they signed for it themselves"), body)
	require.Equal(t, 1, strings.Count(body, "only their organisation&#39;s system says so"), body)
}
