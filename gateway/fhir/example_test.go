package fhir_test

import (
	"errors"
	"fmt"

	"github.com/careledger/careledger/gateway/fhir"
)

func ExampleParse() {
	_, err := fhir.Parse([]byte(`{"resourceType":"Observation","status":"bogus-status","code":{"text":"Hb"}}`))
	var ve *fhir.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Path)
		fmt.Println(err)
	}
	// Output:
	// Observation.status
	// Observation.status: "bogus-status" is not a valid code
}
