package anonymizer_test

import (
	"testing"

	"github.com/careledger/careledger/anonymizer"
	"github.com/stretchr/testify/require"
)

func TestAssessRiskByHand(t *testing.T) {
	// Classes a:1, b:2, c:3 (6 records).
	sample := table(t, "zip;sex", "a;M", "b;M", "b;M", "c;F", "c;F", "c;F")
	// Population: a:2, b:4, c:3 (plus an unmatched class).
	pop := table(t, "zip;sex", "a;M", "a;M", "b;M", "b;M", "b;M", "b;M", "c;F", "c;F", "c;F", "d;F")
	tests := []struct {
		name string
		pop  *anonymizer.Table
		want anonymizer.Risk
	}{
		{"sample only", nil, anonymizer.Risk{
			ProsecutorHighest: 1, ProsecutorAverage: 3.0 / 6,
			JournalistHighest: 1, JournalistAverage: 3.0 / 6, Marketer: 3.0 / 6,
			Threshold: 0.4, RecordsAtRisk: 3.0 / 6, SampleUniques: 1.0 / 6, Records: 6, Classes: 3,
		}},
		{"with population", pop, anonymizer.Risk{
			ProsecutorHighest: 1, ProsecutorAverage: 3.0 / 6,
			// Journalist: smallest population class 2; marketer
			// (1/2 + 2/4 + 3/3)/6.
			JournalistHighest: 0.5, JournalistAverage: 2.0 / 6, Marketer: 2.0 / 6,
			Threshold: 0.4, RecordsAtRisk: 3.0 / 6, SampleUniques: 1.0 / 6, Records: 6, Classes: 3,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := anonymizer.AssessRisk(sample, []string{"zip", "sex"}, 0.4, tc.pop)
			require.NoError(t, err)
			require.InDeltaMapValues(t, riskMap(tc.want), riskMap(got), 1e-12)
		})
	}
	_, err := anonymizer.AssessRisk(sample, []string{"zip"}, 0, nil)
	require.ErrorIs(t, err, anonymizer.ErrMalformedInput)
	_, err = anonymizer.AssessRisk(sample, []string{"nope"}, 0.2, nil)
	require.ErrorIs(t, err, anonymizer.ErrUnknownAttribute)
}

func riskMap(r anonymizer.Risk) map[string]float64 {
	return map[string]float64{
		"ph": r.ProsecutorHighest, "pa": r.ProsecutorAverage, "jh": r.JournalistHighest, "ja": r.JournalistAverage,
		"m": r.Marketer, "t": r.Threshold, "rar": r.RecordsAtRisk, "su": r.SampleUniques,
		"n": float64(r.Records), "c": float64(r.Classes),
	}
}

func TestAnonymizeReportsRiskWithPopulation(t *testing.T) {
	tb, hs := golden(t)
	// The population doubles every record.
	pop := table(t, "name;age;sex", "a;20;M", "b;21;M", "c;30;M", "d;31;F", "e;20;M", "f;21;M", "g;30;M", "h;31;F")
	res, err := anonymizer.Anonymize(t.Context(), tb, anonymizer.Config{
		Hierarchies: hs, Criteria: []anonymizer.Criterion{anonymizer.KAnonymity(2)}, Population: pop,
	})
	require.NoError(t, err)
	require.InDelta(t, 0.5, res.Report.Risk.ProsecutorHighest, 1e-12)
	require.InDelta(t, 0.25, res.Report.Risk.JournalistHighest, 1e-12)
	// Marketer: (2/4 + 2/4) / 4 records.
	require.InDelta(t, 0.25, res.Report.Risk.Marketer, 1e-12)
}
