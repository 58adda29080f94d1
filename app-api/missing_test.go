package api_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/stretchr/testify/require"
)

// TestMissingContentIsNotAnIntegrityFailure: a version whose stored content is gone is 503
// CONTENT_MISSING on its own, and in a history it is marked unavailable while the rest is
// served; INTEGRITY_FAILURE stays for content that does not match the ledger.
func TestMissingContentIsNotAnIntegrityFailure(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.client(t, e.patient)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	kept, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	lost, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(e.stack.BlobDir, "objects", "records", me.ID, lost.LatestHash+".blob")))

	_, err = patient.Content(ctx, lost.ID, 0, "")
	apiError(t, err, http.StatusServiceUnavailable, api.CodeContentMissing)

	page, err := patient.PatientContent(ctx, me.ID, "", "", client.Page{})
	require.NoError(t, err)
	require.Len(t, page.Releases, 2)
	for _, rel := range page.Releases {
		if rel.Record.ID == lost.ID {
			require.NotNil(t, rel.Unavailable)
			require.Equal(t, api.CodeContentMissing, rel.Unavailable.Code)
			require.Empty(t, rel.Resource)
		} else {
			require.Equal(t, kept.ID, rel.Record.ID)
			require.Nil(t, rel.Unavailable)
			require.JSONEq(t, labResult, string(rel.Resource))
		}
	}

	tampered := filepath.Join(e.stack.BlobDir, "objects", "records", me.ID, kept.LatestHash+".blob")
	require.NoError(t, os.WriteFile(tampered, []byte("tampered"), 0o600))
	_, err = patient.Content(ctx, kept.ID, 0, "")
	apiError(t, err, http.StatusBadGateway, api.CodeIntegrity)
}
