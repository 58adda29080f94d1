package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/stretchr/testify/require"
)

// randomDocument yields n pseudo-random bytes as they are read, hashing them on the way, so
// that the test itself never holds the document.
type randomDocument struct {
	left int64
	rnd  *rand.ChaCha8
	sum  interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newRandomDocument(n int64) *randomDocument {
	return &randomDocument{left: n, rnd: rand.NewChaCha8([32]byte{7}), sum: sha256.New()}
}

func (d *randomDocument) Read(p []byte) (int, error) {
	if d.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), d.left)]
	_, _ = d.rnd.Read(p)
	_, _ = d.sum.Write(p)
	d.left -= int64(len(p))
	return len(p), nil
}

// TestStreamedUploadIsNotHeldInMemory: a 64 MiB document given as a Body is sealed and
// stored as it is read: the heap never grows by anything near its size, and it reads back
// whole.
func TestStreamedUploadIsNotHeldInMemory(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	const size = 64 << 20
	doc := newRandomDocument(size)

	var rec *model.Record
	var err error
	grew := gatewaytest.HeapGrowth(func() {
		rec, err = s.svc.Upload(ctx, s.patient, gateway.Upload{Owner: s.patientID, Category: "document",
			Content: gateway.Content{MediaType: "application/pdf", Body: doc}})
	})
	require.NoError(t, err)
	t.Logf("heap in use grew by %d KiB during a %d MiB upload", grew>>10, size>>20)
	require.Less(t, grew, int64(size/4), "the document was held in memory")

	rel, err := s.svc.Read(ctx, s.patient, rec.ID, 0, "")
	require.NoError(t, err)
	got := sha256.Sum256(rel.Data)
	require.Equal(t, doc.sum.Sum(nil), got[:])
	require.Equal(t, "application/pdf", rel.MediaType)
}

// TestStreamedUploadRefusals: what a streamed body may not be, and a reader's error (the
// API's size limit, a client too slow) reaching the caller unchanged.
func TestStreamedUploadRefusals(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	tooBig := errors.New("body over the limit")
	for _, tc := range []struct {
		name     string
		content  gateway.Content
		category string
		want     error
	}{
		{"empty", gateway.Content{MediaType: "application/pdf", Body: strings.NewReader("")}, "document", gateway.ErrInvalidContent},
		{"FHIR streamed", gateway.Content{MediaType: fhir.MediaType, Body: strings.NewReader(labResult)}, "", gateway.ErrInvalidContent},
		{"bad media type", gateway.Content{MediaType: "pdf", Body: strings.NewReader("%PDF")}, "document", gateway.ErrInvalidContent},
		{"no category", gateway.Content{MediaType: "application/pdf", Body: strings.NewReader("%PDF")}, "", gateway.ErrInvalidContent},
		{"reader fails", gateway.Content{MediaType: "application/pdf", Body: io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), failing{tooBig})}, "document", tooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.svc.Upload(ctx, s.patient, gateway.Upload{Owner: s.patientID, Category: tc.category, Content: tc.content})
			require.ErrorIs(t, err, tc.want)
		})
	}
	// Nothing was registered.
	page, err := s.patient.ListPatientRecords(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Empty(t, page.Records)
}

type failing struct{ err error }

func (f failing) Read([]byte) (int, error) { return 0, f.err }
