package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// withDirectory serves a fresh clinician directory with the default organisation names.
func withDirectory(t testing.TB) envOption {
	dir, err := directory.Open(filepath.Join(t.TempDir(), "directory.db"), directory.DefaultOrgs())
	require.NoError(t, err)
	t.Cleanup(func() { dir.Close() })
	return func(c *api.Config) { c.Directory = dir }
}

// TestDirectoryStory: a clinician writes their entry; a patient reads it with the clinic's
// name; a manufacturer is refused; nobody writes another's entry.
func TestDirectoryStory(t *testing.T) {
	e := startEnv(t, withDirectory(t))
	ctx := context.Background()
	cme, err := e.client(t, e.clinician).Me(ctx)
	require.NoError(t, err)
	pme, err := e.client(t, e.patient).Me(ctx)
	require.NoError(t, err)
	call := func(u *network.User, method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := e.rawHTTP(tlsCert(u)).Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	status, _ := call(e.patient, "GET", "/v1/directory/"+cme.ID, "")
	require.Equal(t, http.StatusNotFound, status, "no entry yet")

	status, out := call(e.clinician, "PUT", "/v1/directory/"+cme.ID, `{"name":"Dr Anna Weber","profession":"internist","department":"Cardiology"}`)
	require.Equal(t, http.StatusOK, status, out)

	status, out = call(e.patient, "GET", "/v1/directory/"+cme.ID, "")
	require.Equal(t, http.StatusOK, status, out)
	require.Equal(t, "Dr Anna Weber", out["name"])
	require.Equal(t, "Klinikum Musterstadt", out["organization"])
	require.Equal(t, "PractitionerRole", out["fhir"].(map[string]any)["practitionerRole"].(map[string]any)["resourceType"])

	status, _ = call(e.manufacturer, "GET", "/v1/directory/"+cme.ID, "")
	require.Equal(t, http.StatusForbidden, status)
	status, _ = call(e.clinician, "GET", "/v1/directory/"+pme.ID, "")
	require.Equal(t, http.StatusNotFound, status, "a patient's pseudonym is like any unknown one")
	status, _ = call(e.patient, "PUT", "/v1/directory/"+cme.ID, `{"name":"Mallory","profession":"quack"}`)
	require.Equal(t, http.StatusForbidden, status)
	status, _ = call(e.clinician, "PUT", "/v1/directory/"+pme.ID, `{"name":"Erika","profession":"nurse"}`)
	require.Equal(t, http.StatusForbidden, status, "a clinician cannot name a patient")

	got, err := e.client(t, e.patient).Directory(ctx, cme.ID)
	require.NoError(t, err, "the Go client reads the same")
	require.Equal(t, "Cardiology", got.Department)
	orgs, err := e.client(t, e.manufacturer).Organizations(ctx)
	require.NoError(t, err)
	require.Contains(t, orgs, client.Organization{MSP: "PharmaMSP", Name: "Pharma Research GmbH"})
	_, err = e.client(t, e.clinician).SetDirectory(ctx, cme.ID, "", directory.Profile{Name: "Dr Anna Weber", Profession: "cardiologist"})
	require.NoError(t, err)

	status, out = call(e.patient, "GET", "/v1/organizations", "")
	require.Equal(t, http.StatusOK, status)
	require.Contains(t, out["organizations"], map[string]any{"msp": "ClinicMSP", "name": "Klinikum Musterstadt"})
}
