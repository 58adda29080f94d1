package gateway_test

import (
	"context"
	"testing"

	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

func TestAppendVersionAtRefusesAStaleVersion(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	c := gateway.Content{MediaType: fhir.MediaType, Data: []byte(labResult)}
	out, err := s.svc.AppendVersionAt(ctx, s.patient, rec.ID, 1, c)
	require.NoError(t, err)
	require.Equal(t, 2, out.Versions)
	_, err = s.svc.AppendVersionAt(ctx, s.patient, rec.ID, 1, c)
	require.ErrorIs(t, err, gateway.ErrStaleVersion)
	hist, err := s.patient.GetRecordHistory(ctx, rec.ID)
	require.NoError(t, err)
	require.Len(t, hist.Versions, 2, "nothing appended on a stale version")
}
