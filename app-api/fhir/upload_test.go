package fhir

import (
	"errors"
	"testing"

	"github.com/careledger/careledger/gateway"
	"github.com/stretchr/testify/require"
)

const fuzzOwner = "0123456789abcdef0123456789abcdef"

// FuzzSplitBundle feeds arbitrary bodies to the Bundle splitter: it must never panic, and
// every refusal must be a 422 naming content that is not stored (gateway.ErrInvalidContent).
func FuzzSplitBundle(f *testing.F) {
	for _, seed := range []string{
		`{"resourceType":"Bundle","type":"transaction","entry":[{"fullUrl":"urn:uuid:1","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","id":"p1"}},` +
			`{"request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:1"}}}]}`,
		`{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":"Binary","contentType":"text/plain","data":"aGk="}}]}`,
		`{"resourceType":"Bundle","type":"transaction","entry":[{"resource":{"resourceType":"Bundle"}}]}`,
		`{"resourceType":"Bundle"}`, `[]`, `{"resourceType":"Bundle","type":"collection","entry":[{}]}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sp, err := splitBundle([]byte(body), fuzzOwner, false)
		if err != nil {
			require.True(t, errors.Is(err, gateway.ErrInvalidContent), "%v", err)
			status, _, internal := outcome(err)
			require.Equal(t, 422, status)
			require.False(t, internal)
			return
		}
		require.Equal(t, fuzzOwner, sp.owner, "a Bundle is stored for the patient it was sent for")
		require.Len(t, sp.records, len(sp.ids))
	})
}

func TestSplitBundleRewritesReferences(t *testing.T) {
	body := `{"resourceType":"Bundle","type":"transaction","entry":[
{"fullUrl":"urn:uuid:p","request":{"method":"POST","url":"Patient"},"resource":{"resourceType":"Patient","id":"ehr-42"}},
{"fullUrl":"urn:uuid:o","request":{"method":"POST","url":"Observation"},"resource":{"resourceType":"Observation","id":"lab-1","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/ehr-42"}}},
{"request":{"method":"POST","url":"DiagnosticReport"},"resource":{"resourceType":"DiagnosticReport","status":"final","code":{"text":"x"},"subject":{"reference":"urn:uuid:p"},"result":[{"reference":"Observation/lab-1"}]}}]}`
	sp, err := splitBundle([]byte(body), fuzzOwner, true)
	require.NoError(t, err)
	require.Equal(t, fuzzOwner, sp.ids[0], "the Patient's id is the pseudonym")
	require.Contains(t, string(sp.records[1].Data), `"reference":"Patient/`+fuzzOwner+`"`)
	require.Contains(t, string(sp.records[2].Data), `"reference":"Patient/`+fuzzOwner+`"`)
	require.Contains(t, string(sp.records[2].Data), `"reference":"Observation/`+sp.ids[1]+`"`)
	require.NotContains(t, string(sp.records[2].Data), "lab-1")
}
