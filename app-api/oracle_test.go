package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// TestRecordIDsCannotBeProbed: through the API, another patient's record and a record ID that
// names nothing get the same status, code and message (but for the ID) on every record route,
// for every kind of caller who may not see the record; a clinician whose grant expired is told
// GRANT_EXPIRED.
func TestRecordIDsCannotBeProbed(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	st := e.stack
	owner := e.client(t, e.patient)
	rec, err := owner.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	madeUp := uuid.NewString()
	require.Len(t, madeUp, len(rec.ID), "IDs of one length, so messages compare whole")

	expiredUser := st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "probe-expired", Role: network.RoleClinician})
	expired, err := e.client(t, expiredUser).Me(ctx)
	require.NoError(t, err)
	until := time.Now().Add(1500 * time.Millisecond)
	_, _, err = owner.Grant(ctx, model.GrantRequest{Grantee: model.Grantee{ID: expired.ID}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: &until})
	require.NoError(t, err)

	callers := map[string]*http.Client{
		"other patient":              e.rawHTTP(tlsCert(st.Issue(t, network.PatientsMSP, network.UserSpec{Name: "probe-patient", Role: network.RolePatient}))),
		"clinician without a grant":  e.rawHTTP(tlsCert(st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "probe-clinician", Role: network.RoleClinician}))),
		"manufacturer":               e.rawHTTP(tlsCert(e.manufacturer)),
		"anonymiser without consent": e.rawHTTP(tlsCert(st.User(t, network.PatientsMSP, "anonymizer"))),
	}
	// The record routes; a body means POST.
	type route struct{ path, body string }
	routes := []route{
		{"/v1/records/{id}", ""},
		{"/v1/records/{id}/content", ""},
		{"/v1/records/{id}/versions", ""},
		{"/v1/records/{id}/verify?hash=" + rec.LatestHash, ""},
		{"/v1/records/{id}/versions", labResult},
	}
	call := func(hc *http.Client, r route, id string) (int, api.ErrorDetail) {
		url := e.srv.URL + strings.ReplaceAll(r.path, "{id}", id)
		var status int
		var eb api.ErrorBody
		if r.body == "" {
			status, eb, _ = getStatus(t, hc, url)
		} else {
			resp, err := hc.Post(url, client.FHIRMediaType, strings.NewReader(r.body))
			require.NoError(t, err)
			defer resp.Body.Close()
			status = resp.StatusCode
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&eb))
		}
		eb.Error.RequestID = ""
		eb.Error.Message = strings.ReplaceAll(eb.Error.Message, id, "{id}")
		return status, eb.Error
	}
	for name, hc := range callers {
		for _, r := range routes {
			t.Run(name+"/"+r.path+"/post="+fmt.Sprint(r.body != ""), func(t *testing.T) {
				realStatus, realErr := call(hc, r, rec.ID)
				madeStatus, madeErr := call(hc, r, madeUp)
				require.GreaterOrEqual(t, realStatus, 400)
				require.Equal(t, madeStatus, realStatus)
				require.Equal(t, madeErr, realErr)
			})
		}
	}

	time.Sleep(time.Until(until))
	hc := e.rawHTTP(tlsCert(expiredUser))
	for _, r := range routes {
		status, detail := call(hc, r, rec.ID)
		require.Equal(t, http.StatusForbidden, status, r.path)
		require.Equal(t, api.CodeGrantExpired, detail.Code, r.path)
	}
}
