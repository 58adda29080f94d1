package fhir

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func observationType(t testing.TB) *resourceType {
	obs, ok := typeNamed("Observation")
	require.True(t, ok)
	return obs
}

func TestDatePrefixes(t *testing.T) {
	obs := observationType(t)
	res := &served{fields: map[string]json.RawMessage{"effectiveDateTime": json.RawMessage(`"2024-11-04T07:45:00+01:00"`)}}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for query, want := range map[string]bool{
		"2024-11-04": true, "eq2024-11": true, "eq2024-11-05": false, "ne2024-11-05": true, "ne2024": false,
		"lt2024-11-05": true, "lt2024-11-04": false, "le2024-11-04": true, "gt2024-11-03": true, "gt2024-11-04": false,
		"ge2024-11-04": true, "ge2024-11-05": false, "sa2024-11-03": true, "sa2024-11-04": false, "eb2024-11-05": true,
		"eb2024-11-04": false, "ap2024-11-01": true, "ap2020-01-01": false,
		"2024-11-04T06:45:00Z": true, "2024-11-04T07:45:00Z": false,
	} {
		q, err := parseSearch(obs, url.Values{"date": {query}})
		require.NoError(t, err, query)
		require.Equal(t, want, q.matches(res, now), query)
	}
	// A period matches what it overlaps; an open end lasts for ever.
	period := &served{fields: map[string]json.RawMessage{"effectivePeriod": json.RawMessage(`{"start":"2024-01-01"}`)}}
	q, err := parseSearch(obs, url.Values{"date": {"gt2030-01-01"}})
	require.NoError(t, err)
	require.True(t, q.matches(period, now))
}

func TestTokens(t *testing.T) {
	obs := observationType(t)
	res := &served{fields: map[string]json.RawMessage{
		"code":     json.RawMessage(`{"coding":[{"system":"http://loinc.org","code":"4548-4"}]}`),
		"category": json.RawMessage(`[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]`),
	}}
	for query, want := range map[string]bool{
		"code=4548-4": true, "code=http://loinc.org|4548-4": true, "code=http://loinc.org|": true, "code=|4548-4": false,
		"code=http://snomed.info/sct|4548-4": false, "code=1,4548-4": true, "category=laboratory": true,
		"category=vital-signs": false, "code=4548-4&category=vital-signs": false,
	} {
		v, err := url.ParseQuery(query)
		require.NoError(t, err)
		q, err := parseSearch(obs, v)
		require.NoError(t, err, query)
		require.Equal(t, want, q.matches(res, time.Now()), query)
	}
}

func TestCursorRoundTrip(t *testing.T) {
	c := cursor{Cat: 2, Bookmark: "g1AAAA", Skip: 7}
	got, err := decodeCursor(c.encode())
	require.NoError(t, err)
	require.Equal(t, c, got)
}

// FuzzParseSearch feeds arbitrary query strings to the search parser and the matcher: they
// must never panic, every refusal must be a 400 OperationOutcome, and a parsed query must
// match or not match without failing.
func FuzzParseSearch(f *testing.F) {
	for _, seed := range []string{
		"patient=Patient/0123456789abcdef0123456789abcdef&date=ge2024-01-01&date=lt2025&_count=10",
		"code=http://loinc.org|4548-4,85354-9&category=laboratory", "date=ap2024-11-04T07:45:00+01:00",
		"_cursor=eyJjIjoxLCJiIjoieCIsInMiOjN9", "code:text=x", "date=eb", "_count=999999999999", "%zz", "code=|",
	} {
		f.Add("Observation", seed)
	}
	f.Add("DocumentReference", "type=http://loinc.org|18842-5&status=current&date=2024")
	f.Add("Patient", "_id=0123456789abcdef0123456789abcdef")
	res := &served{fields: map[string]json.RawMessage{
		"code": json.RawMessage(`{"coding":[{"system":"http://loinc.org","code":"4548-4"}]}`), "effectiveDateTime": json.RawMessage(`"2024-11-04"`),
		"type": json.RawMessage(`[{"coding":[{"code":"x"}]}]`), "status": json.RawMessage(`"current"`), "date": json.RawMessage(`{"start":"2024"}`),
	}}
	f.Fuzz(func(t *testing.T, typ, raw string) {
		rt, ok := typeNamed(typ)
		if !ok || !rt.search {
			return
		}
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseSearch(rt, v)
		if err != nil {
			status, oo, internal := outcome(err)
			require.Equal(t, 400, status, "%v", err)
			require.False(t, internal)
			require.Equal(t, "OperationOutcome", oo.ResourceType)
			return
		}
		require.LessOrEqual(t, q.count, maxCount)
		q.matches(res, time.Now())
		categories(rt, q)
	})
}
