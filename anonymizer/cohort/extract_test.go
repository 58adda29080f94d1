package cohort_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/internal/demopop"
	"github.com/stretchr/testify/require"
)

func exampleExtract(t testing.TB) []byte {
	b, err := os.ReadFile("../../docs/examples/cohort/extract-t2dm.json")
	require.NoError(t, err)
	return b
}

func TestParseExtractAcceptsTheDocumentedExample(t *testing.T) {
	x, err := cohort.ParseExtract(exampleExtract(t))
	require.NoError(t, err)
	require.Len(t, x.Variables, 13)
	require.Len(t, x.Hash(), 64)
	y, err := cohort.ParseExtract([]byte(strings.Join(strings.Fields(string(exampleExtract(t))), " ")))
	require.NoError(t, err)
	require.Equal(t, x.Hash(), y.Hash(), "spacing does not change the hash")
}

func TestParseExtractRefusesBadInput(t *testing.T) {
	v := func(s string) string { return `{"version":1,"variables":[` + s + `]}` }
	for _, tc := range []struct{ name, in, path string }{
		{"not JSON", `{`, ""},
		{"trailing data", v(`{"name":"sex","sex":{}}`) + `{}`, ""},
		{"unknown member", `{"version":1,"variables":[{"name":"sex","sex":{}}],"k":5}`, ""},
		{"wrong type", `{"version":"1","variables":[]}`, "version"},
		{"version", `{"version":2,"variables":[{"name":"sex","sex":{}}]}`, "version"},
		{"no variables", `{"version":1,"variables":[]}`, "variables"},
		{"bad name", v(`{"name":"Sex","sex":{}}`), "variables[0].name"},
		{"name twice", v(`{"name":"sex","sex":{}},{"name":"sex","sex":{}}`), "variables[1].name"},
		{"no kind", v(`{"name":"sex"}`), "variables[0]"},
		{"two kinds", v(`{"name":"sex","sex":{},"age":{}}`), "variables[0]"},
		{"bad role", v(`{"name":"sex","sex":{},"role":"secret"}`), "variables[0].role"},
		{"no quasi-identifier", v(`{"name":"sex","sex":{},"role":"sensitive"}`), "variables"},
		{"bands not nested", v(`{"name":"age","age":{"bands":[5,7]}}`), "variables[0].age.bands[1]"},
		{"negative band", v(`{"name":"age","age":{"bands":[-5]}}`), "variables[0].age.bands[0]"},
		{"no codes", v(`{"name":"dm","condition":{"codes":[]}}`), "variables[0].condition.codes"},
		{"bad ICD", v(`{"name":"dm","condition":{"codes":["e11"]}}`), "variables[0].condition.codes[0]"},
		{"reversed range", v(`{"name":"dm","condition":{"codes":["I25-I20"]}}`), "variables[0].condition.codes[0]"},
		{"bad ATC", v(`{"name":"m","medication":{"codes":["A1"]}}`), "variables[0].medication.codes[0]"},
		{"bad LOINC", v(`{"name":"a","lab":{"loinc":"4548","unit":"%"}}`), "variables[0].lab.loinc"},
		{"no unit", v(`{"name":"a","lab":{"loinc":"4548-4","unit":""}}`), "variables[0].lab.unit"},
		{"bad pick", v(`{"name":"a","lab":{"loinc":"4548-4","unit":"%","pick":"mean"}}`), "variables[0].lab.pick"},
		{"bottom above top", v(`{"name":"a","lab":{"loinc":"4548-4","unit":"%","bottom":9,"top":5}}`), "variables[0].lab.bottom"},
		{"decimals", v(`{"name":"a","lab":{"loinc":"4548-4","unit":"%","decimals":9}}`), "variables[0].lab.decimals"},
		{"microaggregate 1", v(`{"name":"s","sex":{}},{"name":"a","lab":{"loinc":"4548-4","unit":"%","microaggregate":1}}`), "variables[1].lab.microaggregate"},
		{"microaggregated QI", v(`{"name":"a","role":"qi","lab":{"loinc":"4548-4","unit":"%","microaggregate":5}}`), "variables[0].lab.microaggregate"},
		{"bands and microaggregate", v(`{"name":"s","sex":{}},{"name":"a","lab":{"loinc":"4548-4","unit":"%","microaggregate":5,"bands":[1]}}`), "variables[1].lab"},
		{"date of nothing", v(`{"name":"d","date":{"treatment":"month"}}`), "variables[0].date"},
		{"index without one", v(`{"name":"d","date":{"index":true,"treatment":"month"}}`), "variables[0].date.index"},
		{"bad treatment", v(`{"name":"d","date":{"condition":"E11","treatment":"year"}}`), "variables[0].date.treatment"},
		{"shifted QI", v(`{"name":"d","role":"qi","date":{"condition":"E11","treatment":"shift"}}`), "variables[0].date.role"},
		{"shift days on month", v(`{"name":"d","date":{"condition":"E11","treatment":"month","shiftDays":5}}`), "variables[0].date.shiftDays"},
		{"shift days too many", v(`{"name":"s","sex":{}},{"name":"d","date":{"condition":"E11","treatment":"shift","shiftDays":4000}}`), "variables[1].date.shiftDays"},
		{"bad cohort", `{"version":1,"cohort":{"version":7},"variables":[{"name":"sex","sex":{}}]}`, "cohort"},
		{"too large", `{"version":1,"variables":[` + strings.Repeat(" ", cohort.MaxExtractBytes) + `]}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := cohort.ParseExtract([]byte(tc.in))
			require.ErrorIs(t, err, cohort.ErrBadExtract)
			var xe *cohort.ExtractError
			require.True(t, errors.As(err, &xe))
			require.Equal(t, tc.path, xe.Path, "%v", err)
		})
	}
}

func FuzzParseExtract(f *testing.F) {
	f.Add(exampleExtract(f))
	f.Add([]byte(`{"version":1,"variables":[{"name":"a","lab":{"loinc":"4548-4","unit":"%","bands":[0.5,1]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := cohort.ParseExtract(data)
		if err != nil {
			require.ErrorIs(t, err, cohort.ErrBadExtract)
			return
		}
		// Whatever parses builds over a small population without failing.
		subjects := population(20)
		_, err = cohort.BuildExtract(x, subjects, demopop.Reference, func(int) int { return 1 })
		require.NoError(t, err)
	})
}

func population(n int) []cohort.Subject {
	out := make([]cohort.Subject, n)
	for i := range out {
		p := demopop.Generate(11, i)
		out[i] = cohort.Subject{Patient: p.Criteria(), PostalCode: p.Place.PostalCode}
	}
	return out
}

func day(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestBuildExtractComputesEachVariable checks every kind of variable on two hand-made
// patients, against values worked out by hand.
func TestBuildExtractComputesEachVariable(t *testing.T) {
	a := cohort.Subject{PostalCode: "10115", Patient: criteria.Patient{BirthDate: day("1960-06-01"), Sex: "female", Events: []criteria.Event{
		{Kind: criteria.KindCondition, Code: "E11.9", Date: day("2020-03-10")},
		{Kind: criteria.KindCondition, Code: "I21.0", Date: day("2021-01-01")},
		{Kind: criteria.KindMedication, Code: "A10BA02", Date: day("2020-04-01")},
		{Kind: criteria.KindLab, Code: "4548-4", Date: day("2020-03-10"), Value: 8.26, HasValue: true, Unit: "%"},
		{Kind: criteria.KindLab, Code: "4548-4", Date: day("2024-03-10"), Value: 11.2, HasValue: true, Unit: "%"},
		{Kind: criteria.KindLab, Code: "4548-4", Date: day("2024-06-10"), Value: 70, HasValue: true, Unit: "mmol/mol"},
	}}}
	b := cohort.Subject{PostalCode: "D-123", Patient: criteria.Patient{Sex: "male", Events: []criteria.Event{
		{Kind: criteria.KindLab, Code: "4548-4", Date: day("2023-01-01"), Value: 5.44, HasValue: true, Unit: "%"},
	}}}
	x, err := cohort.ParseExtract([]byte(`{"version":1,"variables":[
		{"name":"age","age":{}},{"name":"sex","sex":{}},{"name":"plz","postalCode":{}},
		{"name":"chd","condition":{"codes":["I20-I25"]}},{"name":"dm","condition":{"codes":["E11"]}},
		{"name":"met","medication":{"codes":["A10BA"]}},
		{"name":"last","lab":{"loinc":"4548-4","unit":"%","top":10}},
		{"name":"first","lab":{"loinc":"4548-4","unit":"%","pick":"first"}},
		{"name":"dx","date":{"condition":"E11","treatment":"month"}},
		{"name":"dxs","date":{"condition":"E11","treatment":"shift","shiftDays":30}}]}`))
	require.NoError(t, err)
	b2, err := cohort.BuildExtract(x, []cohort.Subject{a, b}, day("2026-01-01"), func(max int) int {
		require.Equal(t, 30, max)
		return -3
	})
	require.NoError(t, err)
	require.Equal(t, 2, b2.Matched)
	require.Equal(t, []string{"mmol/mol→%"}, b2.Incomparable)
	rows := map[string][]string{}
	for r := range b2.Table.NumRows() {
		row := b2.Table.Row(r)
		rows[row[2]] = row[1:]
	}
	require.Equal(t, []string{"65", "female", "10115", "yes", "yes", "yes", ">=10", "8.3", "2020-03", "2020-03-07"}, rows["female"])
	require.Equal(t, []string{"NA", "male", "NA", "no", "no", "no", "5.4", "5.4", "NA", "NA"}, rows["male"])
	for _, qi := range b2.Table.QuasiIdentifiers() {
		require.NotNil(t, b2.Hierarchies[qi], qi)
	}
	require.NotContains(t, b2.Table.QuasiIdentifiers(), "dxs", "a shifted date is insensitive")
}

func TestMicroaggregationReleasesGroupMeans(t *testing.T) {
	var subjects []cohort.Subject
	for i, v := range []float64{1, 2, 3, 10, 11, 12, 13} {
		subjects = append(subjects, cohort.Subject{Patient: criteria.Patient{Sex: []string{"female", "male"}[i%2], Events: []criteria.Event{
			{Kind: criteria.KindLab, Code: "13457-7", Date: day("2024-01-01"), Value: v, HasValue: true, Unit: "mg/dL"}}}})
	}
	x, err := cohort.ParseExtract([]byte(`{"version":1,"variables":[{"name":"sex","sex":{}},
		{"name":"ldl","lab":{"loinc":"13457-7","unit":"mg/dL","decimals":0,"microaggregate":3}}]}`))
	require.NoError(t, err)
	b, err := cohort.BuildExtract(x, subjects, day("2026-01-01"), nil)
	require.NoError(t, err)
	var got []string
	for r := range b.Table.NumRows() {
		got = append(got, b.Table.Row(r)[2])
	}
	// Groups {1,2,3} → 2 and {10,11,12,13} → 11.5, rounded half away from zero.
	require.Equal(t, []string{"2", "2", "2", "12", "12", "12", "12"}, got)
}

// TestAnonymizeExtractOfDemoPopulation runs the documented example over a generated
// population: the cohort is those with type 2 diabetes, k-anonymity holds over all
// quasi-identifiers, and the report has risk and utility.
func TestAnonymizeExtractOfDemoPopulation(t *testing.T) {
	x, err := cohort.ParseExtract(exampleExtract(t))
	require.NoError(t, err)
	x = cohort.PrepareExtract(x, demopop.Reference)
	subjects := population(3000)
	b, res, models, params, err := cohort.AnonymizeExtract(context.Background(), x, subjects,
		cohort.Spec{K: 5, L: 2, SuppressionLimit: 0.1, ReferenceDate: demopop.Reference})
	require.NoError(t, err)
	require.Equal(t, []string{"k-anonymity", "l-diversity"}, models)
	require.Equal(t, 5, params.K)
	require.Greater(t, b.Matched, 100)
	require.Less(t, b.Matched, 600, "about a tenth of adults have type 2 diabetes")
	require.Len(t, b.Table.QuasiIdentifiers(), 11)
	r := res.Report.Risk
	require.LessOrEqual(t, r.ProsecutorHighest, 0.2+1e-9)
	require.LessOrEqual(t, r.JournalistHighest, r.ProsecutorHighest+1e-9, "the consenting population is at least the sample")
	require.Greater(t, r.Marketer, 0.0)
	require.Positive(t, res.Report.Utility.Loss)
	require.Positive(t, res.Report.Rows.Output)
}
