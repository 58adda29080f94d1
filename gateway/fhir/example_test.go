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

func ExampleParseBundle() {
	b, err := fhir.ParseBundle([]byte(`{"resourceType":"Bundle","type":"collection","entry":[
		{"fullUrl":"urn:uuid:8c3b","resource":{"resourceType":"Patient","birthDate":"1964-08-12"}},
		{"resource":{"resourceType":"Observation","status":"final","subject":{"reference":"urn:uuid:8c3b"},
		 "code":{"coding":[{"system":"http://loinc.org","code":"2823-3"}],"text":"Kalium"},
		 "valueQuantity":{"value":3.2,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},
		 "referenceRange":[{"low":{"value":3.5},"high":{"value":5.1}}]}}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range b.Entries {
		s := e.Resource.Summary
		if o := s.Observation; o != nil {
			fmt.Println(e.Resource.Category, s.Title, o.Value, o.Flag)
		} else {
			fmt.Println(e.Resource.Category, e.Resource.Type, s.Patient.BirthDate)
		}
	}
	// Output:
	// demographics Patient 1964-08-12
	// lab Kalium 3.2 mmol/L low
}
