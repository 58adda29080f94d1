package web

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

const pseudonym = "0123456789abcdef0123456789abcdef"

func TestParseGrantForm(t *testing.T) {
	base := func(kv ...string) url.Values {
		v := url.Values{"grantee_kind": {"person"}, "grantee_id": {pseudonym}, "actions": {"read"}, "categories": {"lab"}, "purpose": {"TREAT"}}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v[kv[i]] = []string{kv[i+1]}
			}
		}
		return v
	}
	t.Run("person, lab, no end", func(t *testing.T) {
		g, err := parseGrantForm(base(), now)
		require.NoError(t, err)
		require.True(t, model.ValidID(g.ID))
		require.Equal(t, model.Grantee{ID: pseudonym}, g.Grantee)
		require.Equal(t, []string{"read"}, g.Actions)
		require.Equal(t, []string{"lab"}, g.Categories)
		require.Nil(t, g.ValidUntil)
	})
	t.Run("organisation, all records, until a date", func(t *testing.T) {
		f := base("grantee_kind", "org", "grantee_org", "ClinicMSP", "until", "2027-01-31")
		f["categories"] = []string{"all", "lab"}
		f["actions"] = []string{"read", "append", "read"}
		g, err := parseGrantForm(f, now)
		require.NoError(t, err)
		require.Equal(t, model.Grantee{MSP: "ClinicMSP"}, g.Grantee)
		require.Equal(t, model.Categories, g.Categories)
		require.Equal(t, []string{"read", "append"}, g.Actions)
		require.Equal(t, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), *g.ValidUntil, "to the end of the day chosen")
	})
	bad := []struct {
		name string
		form url.Values
		want string
	}{
		{"no kind", base("grantee_kind", ""), "one person or to an organisation"},
		{"short ID", base("grantee_id", "abc"), "32 characters"},
		{"upper-case hex is accepted only as lower", base("grantee_id", "XYZ456789abcdef0123456789abcdef0"), "32 characters"},
		{"bad organisation", base("grantee_kind", "org", "grantee_org", "no such org!"), "organisation"},
		{"no action", base("actions", ""), "what they may do"},
		{"unknown action", base("actions", "delete"), "unknown kind of access"},
		{"no category", base("categories", ""), "which kinds of records"},
		{"unknown category", base("categories", "genome"), "unknown kind of record"},
		{"emergency purpose", base("purpose", "ETREAT"), "what the access is for"},
		{"bad date", base("until", "31/01/2027"), "a date like"},
		{"past date", base("until", "2026-11-01"), "in the past"},
		{"far future", base("until", "2046-11-01"), "ten years"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGrantForm(tc.form, now)
			var fe *formError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, fe.msg, tc.want)
		})
	}
	t.Run("upper-case ID is normalised", func(t *testing.T) {
		g, err := parseGrantForm(base("grantee_id", " 0123456789ABCDEF0123456789ABCDEF "), now)
		require.NoError(t, err)
		require.Equal(t, pseudonym, g.Grantee.ID)
	})
}

func TestParseEmergencyForm(t *testing.T) {
	ok := url.Values{"patient": {pseudonym}, "reason": {"life-threatening"}, "minutes": {"240"}}
	e, err := parseEmergencyForm(ok)
	require.NoError(t, err)
	require.Equal(t, model.EmergencyRequest{ID: e.ID, Patient: pseudonym, Reason: "life-threatening", DurationMinutes: 240}, e)
	for name, f := range map[string]url.Values{
		"no reason":       {"patient": {pseudonym}, "minutes": {"240"}},
		"free-text":       {"patient": {pseudonym}, "reason": {"the patient Jane Doe fell"}, "minutes": {"240"}},
		"odd duration":    {"patient": {pseudonym}, "reason": {"life-threatening"}, "minutes": {"100000"}},
		"no patient":      {"reason": {"life-threatening"}, "minutes": {"240"}},
		"patient by name": {"patient": {"Jane Doe"}, "reason": {"life-threatening"}, "minutes": {"240"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseEmergencyForm(f)
			var fe *formError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestParseEntryFormBuildsValidFHIR(t *testing.T) {
	cases := []struct {
		name     string
		form     url.Values
		category string
		view     string
	}{
		{"note", url.Values{"kind": {"note"}, "note": {"Wound healing well. Stitches out on Friday."}}, "note", "Wound healing well"},
		{"result", url.Values{"kind": {"result"}, "test": {"Potassium"}, "value": {"4,1"}, "unit": {"mmol/L"}}, "lab", "4.1 mmol/L"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := parseEntryForm(tc.form, now)
			require.NoError(t, err)
			res, err := fhir.Validate(data)
			require.NoError(t, err)
			require.Equal(t, tc.category, res.Category)
			v := viewContent(fhir.MediaType, data, berlinView)
			var all string
			for _, f := range v.Facts {
				all += f.Value + "\n"
			}
			for _, r := range v.Results {
				all += r.Value + "\n"
			}
			require.Contains(t, all, tc.view)
		})
	}
	for name, f := range map[string]url.Values{
		"no kind":      {},
		"empty note":   {"kind": {"note"}, "note": {"   "}},
		"long note":    {"kind": {"note"}, "note": {string(make([]byte, maxNoteRunes+1))}},
		"no test name": {"kind": {"result"}, "value": {"1"}},
		"not a number": {"kind": {"result"}, "test": {"K"}, "value": {"high"}},
		"infinite":     {"kind": {"result"}, "test": {"K"}, "value": {"Inf"}},
		"NaN":          {"kind": {"result"}, "test": {"K"}, "value": {"NaN"}},
		"bad UTF-8":    {"kind": {"note"}, "note": {"\xff\xfe"}},
		"long unit":    {"kind": {"result"}, "test": {"K"}, "value": {"1"}, "unit": {string(make([]rune, 41))}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseEntryForm(f, now)
			var fe *formError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestParseResearchForm(t *testing.T) {
	rc, err := parseResearchForm(url.Values{"choice": {"yes"}, "purposes": {"drug-safety", "public-health", "drug-safety"}})
	require.NoError(t, err)
	require.Equal(t, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety", "public-health"}}, rc)
	rc, err = parseResearchForm(url.Values{"choice": {"no"}, "purposes": {"drug-safety"}})
	require.NoError(t, err)
	require.False(t, rc.OptIn)
	require.Empty(t, rc.Purposes, "withdrawing names no purposes")
	for _, f := range []url.Values{{}, {"choice": {"yes"}}, {"choice": {"yes"}, "purposes": {"marketing"}}} {
		_, err := parseResearchForm(f)
		var fe *formError
		require.ErrorAs(t, err, &fe)
	}
}

func TestParseQueryForm(t *testing.T) {
	attrs := []string{"ageBand", "sex"}
	q, err := parseQueryForm(url.Values{"group1": {"ageBand"}, "group2": {"sex"}, "statistic": {"count"}, "attribute": {"ignored"}}, attrs)
	require.NoError(t, err)
	require.Equal(t, AggregateQuery{GroupBy: []string{"ageBand", "sex"}, Statistic: "count"}, q)
	q, err = parseQueryForm(url.Values{"group1": {"sex"}, "group2": {"sex"}, "statistic": {"mean"}, "attribute": {"bmi"}}, attrs)
	require.NoError(t, err)
	require.Equal(t, AggregateQuery{GroupBy: []string{"sex"}, Statistic: "mean", Attribute: "bmi"}, q)
	for name, f := range map[string]url.Values{
		"no group":          {"statistic": {"count"}},
		"unknown group":     {"group1": {"zip"}, "statistic": {"count"}},
		"unknown stat":      {"group1": {"sex"}, "statistic": {"max"}},
		"mean without attr": {"group1": {"sex"}, "statistic": {"mean"}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseQueryForm(f, attrs)
			var fe *formError
			require.ErrorAs(t, err, &fe)
		})
	}
}

func TestChartMarksSuppressedCells(t *testing.T) {
	c := newChart(&AggregateResult{Rows: []AggregateRow{
		{Values: []string{"a"}, Value: 50}, {Values: []string{"b"}, Value: 100}, {Values: []string{"c"}, Suppressed: true}, {Values: []string{"d"}, Value: 0},
	}})
	require.Len(t, c.Bars, 4)
	require.Equal(t, 2*c.Bars[0].W, c.Bars[1].W, "bars are proportional")
	require.True(t, c.Bars[2].Suppressed)
	require.Equal(t, "suppressed", c.Bars[2].Value)
	require.Zero(t, c.Bars[3].W)
	require.Equal(t, "0", c.Bars[3].Value, "a released zero is a value, not a suppressed cell")
}

// FuzzParseGrantForm checks that no form crashes the parser and that whatever it accepts is
// a grant the ledger's vocabulary allows.
func FuzzParseGrantForm(f *testing.F) {
	f.Add("person", pseudonym, "", "read", "lab", "TREAT", "")
	f.Add("org", "", "ClinicMSP", "append", "all", "CAREMGT", "2027-01-01")
	f.Fuzz(func(t *testing.T, kind, id, org, action, category, purpose, until string) {
		g, err := parseGrantForm(url.Values{
			"grantee_kind": {kind}, "grantee_id": {id}, "grantee_org": {org},
			"actions": {action}, "categories": {category}, "purpose": {purpose}, "until": {until},
		}, now)
		if err != nil {
			return
		}
		require.True(t, model.ValidPseudonym(g.Grantee.ID) != model.ValidMSPID(g.Grantee.MSP))
		require.NotEmpty(t, g.Actions)
		require.NotEmpty(t, g.Categories)
		for _, c := range g.Categories {
			require.Contains(t, model.Categories, c)
		}
		require.Contains(t, grantPurposes, g.Purpose)
		if g.ValidUntil != nil {
			require.True(t, g.ValidUntil.After(now))
		}
	})
}

// FuzzParseEntryForm checks that whatever a clinician types becomes valid FHIR or a form
// error.
func FuzzParseEntryForm(f *testing.F) {
	f.Add("note", "Call back in two weeks", "", "", "")
	f.Add("result", "", "Sodium", "139", "mmol/L")
	f.Fuzz(func(t *testing.T, kind, note, test, value, unit string) {
		data, err := parseEntryForm(url.Values{"kind": {kind}, "note": {note}, "test": {test}, "value": {value}, "unit": {unit}}, now)
		if err != nil {
			var fe *formError
			require.ErrorAs(t, err, &fe)
			return
		}
		_, err = fhir.Validate(data)
		require.NoError(t, err)
		require.True(t, json.Valid(data))
	})
}

// FuzzViewContent feeds arbitrary record content to the renderer, which must never fail or
// produce unbounded output.
func FuzzViewContent(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","code":{"text":"x"},"valueQuantity":{"value":1,"unit":"u"}}`))
	f.Add([]byte(`{"resourceType":"QuestionnaireResponse","item":[{"text":"q","answer":[{"valueBoolean":true,"item":[{"text":"r","answer":[{"valueString":"s"}]}]}]}]}`))
	f.Add([]byte(`{"resourceType":"MedicationStatement","dosage":[1,{"text":"t"}],"effectivePeriod":"x"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := viewContent(fhir.MediaType, data, berlinView)
		require.NotEmpty(t, v.Kind)
		require.LessOrEqual(t, len(v.Facts), maxFacts)
	})
}
