package api

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
)

// FuzzDirectoryPut feeds arbitrary bodies to PUT /v1/directory/{pseudonym} as the clinician
// whose entry it is: no body crashes it or makes a 5xx, and whatever is stored keeps the
// directory's rules.
func FuzzDirectoryPut(f *testing.F) {
	f.Add([]byte(`{"name":"Dr Anna Weber","profession":"internist","department":"Cardiology"}`))
	f.Add([]byte(`{"name":"A","profession":"nurse","enrollmentId":"c-1"}`))
	f.Add([]byte(`{"name":"\u202e","profession":"x"}`))
	f.Add([]byte(`{"name":1}`))
	dir, err := directory.Open(filepath.Join(f.TempDir(), "directory.db"), directory.DefaultOrgs())
	require.NoError(f, err)
	f.Cleanup(func() { dir.Close() })
	s := &server{cfg: Config{Directory: dir}, log: discardLogger()}
	me := &caller{MSPID: "ClinicMSP", Role: model.RoleClinician, Pseudonym: model.PseudonymFor("ClinicMSP", "c-1")}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPut, "/v1/directory/"+me.Pseudonym, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rc := chi.NewRouteContext()
		rc.URLParams.Add("pseudonym", me.Pseudonym)
		ctx := context.WithValue(context.WithValue(req.Context(), chi.RouteCtxKey, rc), callerKey{}, me)
		rec := httptest.NewRecorder()
		s.directoryPut(rec, req.WithContext(ctx))
		require.Less(t, rec.Code, 500, rec.Body.String())
		if rec.Code == http.StatusOK {
			e, err := dir.Get(context.Background(), directory.Member{Role: model.RolePatient}, me.Pseudonym)
			require.NoError(t, err)
			require.NoError(t, e.Check())
		}
	})
}
