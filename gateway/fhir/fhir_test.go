package fhir_test

import (
	"errors"
	"testing"

	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

func TestValidateFHIR(t *testing.T) {
	good := []struct {
		json, typ, category string
	}{
		{`{"resourceType":"Observation","id":"hb-1","status":"final","code":{"text":"Hb"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`, "Observation", "lab"},
		{`{"resourceType":"Observation","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}]}`, "Observation", "vital-signs"},
		{`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"C50.9"}]}}`, "Condition", "diagnosis"},
		{`{"resourceType":"MedicationStatement","status":"active"}`, "MedicationStatement", "medication"},
		{`{"resourceType":"QuestionnaireResponse","status":"completed"}`, "QuestionnaireResponse", "questionnaire"},
		{` {"resourceType":"DocumentReference"} `, "DocumentReference", "document"},
		{`{"resourceType":"Encounter"}`, "Encounter", "note"},
	}
	for _, g := range good {
		r, err := fhir.Validate([]byte(g.json))
		require.NoError(t, err, g.json)
		require.Equal(t, g.typ, r.Type)
		require.Equal(t, g.category, r.Category, g.json)
	}

	bad := map[string]string{
		``:                               "empty",
		`{`:                              "malformed",
		`[]`:                             "JSON object",
		`"Observation"`:                  "JSON object",
		`{"status":"final"}`:             "resourceType is missing",
		`{"resourceType":""}`:            "resourceType is missing",
		`{"resourceType":7}`:             "resourceType has the wrong type",
		`{"resourceType":"Bloodwork"}`:   "not a FHIR R4 resource type",
		`{"resourceType":"observation"}`: "not a FHIR R4 resource type",
		`{"resourceType":"Observation","id":"a b"}`: "not a FHIR id",
		`{"resourceType":"Observation"} {}`:         "data after",
	}
	for in, want := range bad {
		_, err := fhir.Validate([]byte(in))
		require.Error(t, err, in)
		require.True(t, errors.Is(err, fhir.ErrInvalid))
		require.Contains(t, err.Error(), want, in)
	}
	_, err := fhir.Validate(make([]byte, fhir.MaxResourceBytes+1))
	require.ErrorIs(t, err, fhir.ErrInvalid)
}

func TestValidateDocument(t *testing.T) {
	require.NoError(t, fhir.ValidateDocument("application/pdf", []byte("%PDF-1.7")))
	require.NoError(t, fhir.ValidateDocument("image/dicom+jpeg", []byte{1}))
	for _, mt := range []string{"", "pdf", "application/pdf; charset=x", "APPLICATION/PDF", "a/b/c"} {
		require.ErrorIs(t, fhir.ValidateDocument(mt, []byte("x")), fhir.ErrInvalid, mt)
	}
	require.ErrorIs(t, fhir.ValidateDocument("application/pdf", nil), fhir.ErrInvalid)
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","id":"x"}`))
	f.Add([]byte(`{"resourceType":"Observation","category":[{"coding":[{"code":"survey"}]}]}`))
	f.Add([]byte(`{"resourceType":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := fhir.Validate(data)
		if err == nil {
			require.NotEmpty(t, r.Type)
			require.NotEmpty(t, r.Category)
		} else {
			require.ErrorIs(t, err, fhir.ErrInvalid)
		}
	})
}
