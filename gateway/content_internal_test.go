package gateway

import (
	"bytes"
	"errors"
	"testing"

	"github.com/careledger/careledger/gateway/fhir"
)

// FuzzValidateContent: a document's media type and category are judged alike whether its
// content comes whole or as a stream (only emptiness waits for the stream to be read), and a
// FHIR resource is never accepted as a stream.
func FuzzValidateContent(f *testing.F) {
	f.Add("application/pdf", "document", []byte("%PDF"))
	f.Add(fhir.MediaType, "", []byte(`{"resourceType":"Observation"}`))
	f.Add("text/plain; charset=utf-8", "note", []byte("x"))
	f.Add("pdf", "document", []byte{})
	f.Fuzz(func(t *testing.T, mediaType, category string, data []byte) {
		_, streamErr := validateContent(Content{MediaType: mediaType, Body: bytes.NewReader(data)}, category)
		if streamErr != nil && !errors.Is(streamErr, ErrInvalidContent) {
			t.Fatalf("refusal without ErrInvalidContent: %v", streamErr)
		}
		if mediaType == fhir.MediaType {
			if streamErr == nil {
				t.Fatal("a FHIR resource was accepted as a stream")
			}
			return
		}
		if len(data) == 0 {
			data = []byte{0} // emptiness is found only once a stream is read
		}
		_, wholeErr := validateContent(Content{MediaType: mediaType, Data: data}, category)
		if (streamErr == nil) != (wholeErr == nil) {
			t.Fatalf("streamed: %v, whole: %v", streamErr, wholeErr)
		}
	})
}
