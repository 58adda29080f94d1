package criteria_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
)

// synthetic returns n patients with a diabetes-clinic mix of events: about 40 each, a third
// with type 2 diabetes, most of those on metformin, HbA1c series in % or mmol/mol.
func synthetic(n int, seed uint64) []criteria.Patient {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	day := func(from time.Time, maxDays int) time.Time {
		return from.AddDate(0, 0, r.IntN(maxDays))
	}
	start := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)
	conds := []string{"I10", "E78.0", "J45.9", "M54.5", "F32.1", "K21.0", "E66.0"}
	drugs := []string{"C09AA05", "C10AA01", "R03AC02", "N02BE01", "A02BC01"}
	out := make([]criteria.Patient, n)
	for i := range out {
		p := criteria.Patient{Sex: []string{"female", "male"}[r.IntN(2)], BirthDate: day(time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC), 365*75)}
		for range 4 + r.IntN(6) {
			p.Events = append(p.Events, criteria.Event{Kind: criteria.KindCondition, Code: conds[r.IntN(len(conds))], Date: day(start, 3650)})
			p.Events = append(p.Events, criteria.Event{Kind: criteria.KindMedication, Code: drugs[r.IntN(len(drugs))], Date: day(start, 3650)})
		}
		if r.IntN(3) == 0 {
			dx := day(start, 3000)
			p.Events = append(p.Events, criteria.Event{Kind: criteria.KindCondition, Code: "E11.9", Date: dx})
			if r.IntN(4) != 0 {
				p.Events = append(p.Events, criteria.Event{Kind: criteria.KindMedication, Code: "A10BA02", Date: dx.AddDate(0, 0, r.IntN(180))})
			}
		}
		unit := "%"
		if r.IntN(4) == 0 {
			unit = "mmol/mol"
		}
		for range 10 + r.IntN(20) {
			v := 5 + r.Float64()*5
			if unit != "%" {
				v = (v - 2.15) * 10.929
			}
			p.Events = append(p.Events, criteria.Event{Kind: criteria.KindLab, Code: "4548-4", Date: day(start, 3650), Value: v, HasValue: true, Unit: unit})
		}
		p.Sort()
		out[i] = p
	}
	return out
}

// BenchmarkEvaluate100k times one feasibility query (first T2DM diagnosis, metformin within
// 90 days, HbA1c > 7 % within a year, aged 40 to 80) over 100,000 synthetic patients held
// in memory, as the feasibility service holds them after reading.
func BenchmarkEvaluate100k(b *testing.B) {
	pop := synthetic(100_000, 1)
	d, err := criteria.Parse([]byte(`{"version":1,"referenceDate":"2026-01-01","index":{"condition":"E11"},
		"include":[{"medication":"A10BA02","window":{"fromDays":0,"toDays":90}},
		{"lab":{"loinc":"4548-4","comparator":">","value":7,"unit":"%"},"window":{"fromDays":0,"toDays":365}},
		{"age":{"min":40,"max":80}}]}`))
	if err != nil {
		b.Fatal(err)
	}
	q, err := criteria.Compile(d, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	matched := 0
	for b.Loop() {
		matched = 0
		for i := range pop {
			if q.Evaluate(&pop[i]).Match {
				matched++
			}
		}
	}
	b.ReportMetric(float64(matched), "matched")
}
