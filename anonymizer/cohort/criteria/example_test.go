package criteria_test

import (
	"fmt"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
)

// A definition is parsed, compiled for a reference date and evaluated over each patient's
// FHIR resources.
func Example() {
	def, err := criteria.Parse([]byte(`{
	  "version": 1,
	  "referenceDate": "2026-01-01",
	  "index": {"condition": "E11"},
	  "include": [
	    {"medication": "A10BA02", "window": {"fromDays": 0, "toDays": 90}},
	    {"lab": {"loinc": "4548-4", "comparator": ">", "value": 7, "unit": "%"}, "window": {"fromDays": 0, "toDays": 365}}
	  ]
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	q, err := criteria.Compile(def, time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	p := criteria.FromFHIR([][]byte{
		[]byte(`{"resourceType":"Patient","gender":"female","birthDate":"1960-05-10"}`),
		[]byte(`{"resourceType":"Condition","code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":"E11.9"}]},"onsetDateTime":"2020-03-01"}`),
		[]byte(`{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/atc","code":"A10BA02"}]},"effectiveDateTime":"2020-04-15"}`),
		[]byte(`{"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"valueQuantity":{"value":58,"unit":"mmol/mol","system":"http://unitsofmeasure.org","code":"mmol/mol"},"effectiveDateTime":"2020-09-01"}`),
	})
	out := q.Evaluate(&p)
	fmt.Println(out.Match, out.Incomparable)

	_, err = criteria.Parse([]byte(`{"version":1,"include":[{"condition":"diabetes"}]}`))
	fmt.Println(err)
	// Output:
	// false [mmol/mol→%]
	// cohort definition: include[0].condition: "diabetes" is not an ICD-10-GM code or prefix (like E11 or E11.9)
}
