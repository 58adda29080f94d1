package fhir

import (
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
)

// ValidateDocument checks a document upload: non-empty content with a plain media type.
func ValidateDocument(mediaType string, data []byte) error {
	if !model.ValidMediaType(mediaType) {
		return fmt.Errorf("%w: media type %q is not of the form type/subtype", ErrInvalid, mediaType)
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: empty document", ErrInvalid)
	}
	return nil
}
