package fhir

import (
	"fmt"

	"github.com/careledger/careledger/chaincode/model"
)

// ValidateDocument checks a document upload: non-empty content with a plain media type. Its
// errors are ValidationErrors (without a path), like the FHIR ones, so that a caller joining
// them under its own "invalid record content" does not say it twice.
func ValidateDocument(mediaType string, data []byte) error {
	if !model.ValidMediaType(mediaType) {
		return invalid("", fmt.Sprintf("media type %q is not of the form type/subtype", mediaType))
	}
	if len(data) == 0 {
		return invalid("", "empty document")
	}
	return nil
}
