package web

import (
	"net/url"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

func TestParseInvitation(t *testing.T) {
	good := url.Values{"c": {pseudonym}, "n": {"Dr Anna Weber"}, "cat": {"lab,medication"}, "a": {"read,append"}, "p": {"TREAT"}, "d": {"30"}}
	inv, err := parseInvitation(good)
	require.NoError(t, err)
	require.Equal(t, invitation{Clinician: pseudonym, Name: "Dr Anna Weber", Categories: []string{"lab", "medication"}, Actions: []string{"read", "append"}, Purpose: "TREAT", Days: 30}, inv)
	again, err := parseInvitation(inv.query())
	require.NoError(t, err)
	require.Equal(t, inv, again)

	cases := []struct{ name, key, value, mentions string }{
		{"no clinician", "c", "", "clinician"},
		{"a name, not a pseudonym", "c", "dr-weber", "clinician"},
		{"unknown category", "cat", "lab,gossip", "kind of record"},
		{"no category", "cat", "", "kind of record"},
		{"unknown action", "a", "read,delete", "kind of access"},
		{"emergency purpose", "p", "ETREAT", "purpose"},
		{"zero days", "d", "0", "between 1 and 3650"},
		{"too many days", "d", "3651", "between 1 and 3650"},
		{"days not a number", "d", "forever", "between 1 and 3650"},
		{"name with a bidi override", "n", "Dr \u202eAnna", "readable"},
		{"name too long", "n", strings.Repeat("a", 101), "readable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := url.Values{}
			for k, v := range good {
				q[k] = v
			}
			q.Set(c.key, c.value)
			_, err := parseInvitation(q)
			var fe *formError
			require.ErrorAs(t, err, &fe)
			require.Contains(t, err.Error(), c.mentions)
		})
	}
}

// FuzzParseInvitation: no link crashes the parser; whatever it accepts is within the
// vocabulary and bounds, and survives the round trip through a link unchanged.
func FuzzParseInvitation(f *testing.F) {
	f.Add("c="+pseudonym+"&n=Dr+Anna+Weber&cat=lab,medication&a=read&p=TREAT&d=30", "")
	f.Add("c="+pseudonym+"&cat=lab&a=read,append,read&p=CAREMGT&d=3650", "")
	f.Add("c=x&d=-1", "")
	f.Fuzz(func(t *testing.T, raw, extra string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		if extra != "" {
			q.Add("n", extra)
		}
		inv, err := parseInvitation(q)
		if err != nil {
			var fe *formError
			require.ErrorAs(t, err, &fe)
			return
		}
		require.True(t, model.ValidPseudonym(inv.Clinician))
		require.NotEmpty(t, inv.Categories)
		require.NotEmpty(t, inv.Actions)
		require.Contains(t, grantPurposes, inv.Purpose)
		require.True(t, inv.Days >= 1 && inv.Days <= maxInvitationDays)
		again, err := parseInvitation(inv.query())
		require.NoError(t, err)
		require.Equal(t, inv, again)
	})
}

func TestQRCodeIsSVGOfTheLink(t *testing.T) {
	svg, err := qrSVG("https://127.0.0.1:8443/patient/invite?c="+pseudonym, `a "label" <b>`)
	require.NoError(t, err)
	s := string(svg)
	require.True(t, strings.HasPrefix(s, `<svg class="qr"`))
	require.Contains(t, s, `aria-label="a &#34;label&#34; &lt;b&gt;"`)
	require.NotContains(t, s, "<script")
	require.Greater(t, strings.Count(s, "M"), 200)
	again, err := qrSVG("https://127.0.0.1:8443/patient/invite?c="+pseudonym, `a "label" <b>`)
	require.NoError(t, err)
	require.Equal(t, svg, again, "deterministic")
}

func TestFileContent(t *testing.T) {
	c, err := fileContent([]byte(` {"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
	require.NoError(t, err)
	require.Equal(t, fhir.MediaType, c.MediaType)
	c, err = fileContent([]byte("%PDF-1.7\n%..."))
	require.NoError(t, err)
	require.Equal(t, "application/pdf", c.MediaType)
	for _, bad := range []string{"", "<html><script>alert(1)</script>", `{"resourceType":"Nonsense"}`, "MZ\x90\x00"} {
		_, err := fileContent([]byte(bad))
		var fe *formError
		require.ErrorAs(t, err, &fe, bad)
	}
}

// FuzzFileContent: an uploaded file is valid FHIR or one of the accepted documents, by its
// content, or a form error.
func FuzzFileContent(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Observation","status":"final","code":{"text":"x"}}`))
	f.Add([]byte("%PDF-1.4"))
	f.Add([]byte("\x89PNG\r\n\x1a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := fileContent(data)
		if err != nil {
			var fe *formError
			require.ErrorAs(t, err, &fe)
			return
		}
		if c.MediaType == fhir.MediaType {
			_, err := fhir.Validate(data)
			require.NoError(t, err)
			return
		}
		require.Contains(t, documentTypes, c.MediaType)
	})
}

// FuzzParseDelegateForm: an accepted delegate is a pseudonym with an end in the future or none.
func FuzzParseDelegateForm(f *testing.F) {
	f.Add(pseudonym, "90")
	f.Add(strings.ToUpper(pseudonym), "")
	f.Add("x", "7")
	f.Fuzz(func(t *testing.T, id, days string) {
		d, err := parseDelegateForm(url.Values{"delegate": {id}, "days": {days}}, now)
		if err != nil {
			var fe *formError
			require.ErrorAs(t, err, &fe)
			return
		}
		require.True(t, model.ValidPseudonym(d.Delegate))
		if d.ValidUntil != nil {
			require.True(t, d.ValidUntil.After(now))
		}
	})
}

// FuzzParseGrantFormByRecord: a grant of single records names valid IDs, at most
// maxGrantRecords of them, and never categories too.
func FuzzParseGrantFormByRecord(f *testing.F) {
	f.Add("r-1", "r-2", "")
	f.Add("../x", "", "lab")
	f.Fuzz(func(t *testing.T, a, b, category string) {
		form := url.Values{"grantee_kind": {"person"}, "grantee_id": {pseudonym}, "actions": {"read"}, "purpose": {"TREAT"}, "records": {a, b}}
		if category != "" {
			form["categories"] = []string{category}
		}
		g, err := parseGrantForm(form, now)
		if err != nil {
			return
		}
		require.Empty(t, g.Categories)
		require.NotEmpty(t, g.RecordIDs)
		require.LessOrEqual(t, len(g.RecordIDs), maxGrantRecords)
		for _, id := range g.RecordIDs {
			require.True(t, model.ValidID(id))
		}
	})
}
