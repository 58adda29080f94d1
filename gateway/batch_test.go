package gateway_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/stretchr/testify/require"
)

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	n := 0
	require.NoError(t, filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	}))
	return n
}

func TestUploadBatchIsAllOrNothing(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	item := func(body string) gateway.BatchItem {
		return gateway.BatchItem{Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(body)}}
	}
	condition := `{"resourceType":"Condition","subject":{"reference":"Patient/p"},"code":{"text":"Diabetes"}}`

	recs, err := s.svc.UploadBatch(ctx, s.patient, s.patientID, []gateway.BatchItem{item(labResult), item(condition)})
	require.NoError(t, err)
	require.Len(t, recs, 2)
	require.Equal(t, []string{"lab", "diagnosis"}, []string{recs[0].Category, recs[1].Category})
	rel, err := s.svc.Read(ctx, s.patient, recs[1].ID, 0, "")
	require.NoError(t, err)
	require.JSONEq(t, condition, string(rel.Data))

	// Invalid content is refused before anything is stored, naming the item.
	files := countFiles(t, s.blobDir)
	_, err = s.svc.UploadBatch(ctx, s.patient, s.patientID, []gateway.BatchItem{item(labResult), item(`{"resourceType":"Observation","status":"bogus-status","code":{"text":"x"}}`)})
	var be *gateway.BatchError
	require.ErrorAs(t, err, &be)
	require.Equal(t, 1, be.Index)
	require.ErrorIs(t, err, gateway.ErrInvalidContent)
	require.Equal(t, files, countFiles(t, s.blobDir))

	// A clinician with append on lab only: the ledger refuses the batch, and the ciphertexts
	// already stored are removed again.
	_, err = s.patient.Grant(ctx, model.GrantRequest{ID: "g-batch", Grantee: model.Grantee{ID: s.clinicianID}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)
	_, err = s.svc.UploadBatch(ctx, s.clinicianViaGateway, s.patientID, []gateway.BatchItem{item(labResult), item(condition)})
	require.ErrorIs(t, err, &model.Error{Code: model.CodeForbidden})
	require.Equal(t, files, countFiles(t, s.blobDir))
	page, err := s.patient.ListPatientRecords(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, page.Records, 2)
}
