package anonymizer

import (
	"fmt"
	"math"
	"strings"
)

// Risk summarises re-identification risk of a released table under the
// three attacker models ARX reports.
type Risk struct {
	// ProsecutorHighest is the largest risk any record carries (1/smallest
	// class) for an attacker who knows the target is in the data.
	ProsecutorHighest float64 `json:"prosecutor_highest"`
	// ProsecutorAverage is the mean record risk (classes/records).
	ProsecutorAverage float64 `json:"prosecutor_average"`
	// JournalistHighest and JournalistAverage are the same for an attacker
	// who does not know whether the target is in the sample and links
	// against the population; without population data they equal the
	// prosecutor figures.
	JournalistHighest float64 `json:"journalist_highest"`
	JournalistAverage float64 `json:"journalist_average"`
	// Marketer is the expected share of records re-identified by an
	// attacker who links everyone: (1/n)·Σ f_j/F_j.
	Marketer float64 `json:"marketer"`
	// Threshold is the per-record risk above which a record is at risk.
	Threshold float64 `json:"threshold"`
	// RecordsAtRisk is the share of records whose prosecutor risk exceeds
	// Threshold.
	RecordsAtRisk float64 `json:"records_at_risk"`
	// SampleUniques is the share of records unique in the release.
	SampleUniques float64 `json:"sample_uniques"`
	// Records and Classes are what the figures were computed over.
	Records int `json:"records"`
	Classes int `json:"classes"`
}

// riskFromClasses computes Risk from released class sizes f and, when
// non-nil, the matching population class sizes F (F[j] ≥ f[j]).
func riskFromClasses(f, F []int, threshold float64) Risk {
	r := Risk{Threshold: threshold, Classes: len(f)}
	if len(f) == 0 {
		return r
	}
	minF, minPop := math.MaxInt, math.MaxInt
	var atRisk, uniques int
	var marketer, journ float64
	for j, s := range f {
		r.Records += s
		minF = min(minF, s)
		if 1/float64(s) > threshold {
			atRisk += s
		}
		if s == 1 {
			uniques++
		}
		p := s
		if F != nil {
			p = max(F[j], s)
		}
		minPop = min(minPop, p)
		marketer += float64(s) / float64(p)
		journ += float64(s) / float64(p)
	}
	n := float64(r.Records)
	r.ProsecutorHighest = 1 / float64(minF)
	r.ProsecutorAverage = float64(len(f)) / n
	r.JournalistHighest = 1 / float64(minPop)
	r.JournalistAverage = journ / n
	r.Marketer = marketer / n
	r.RecordsAtRisk = float64(atRisk) / n
	r.SampleUniques = float64(uniques) / n
	return r
}

// AssessRisk measures the re-identification risk of a table as released:
// records with equal values of the quasi-identifiers qis form a class. If
// population is non-nil, it is the larger data set an attacker links against
// (same columns, generalised the same way) and drives the journalist and
// marketer figures. threshold is the per-record risk counted as "at risk".
func AssessRisk(released *Table, qis []string, threshold float64, population *Table) (Risk, error) {
	if !(threshold > 0 && threshold <= 1) {
		return Risk{}, fmt.Errorf("assess risk: threshold %v outside (0,1]: %w", threshold, ErrMalformedInput)
	}
	count := func(t *Table) (map[string]int, []string, error) {
		idx := make([]int, len(qis))
		for i, q := range qis {
			c, ok := t.ColumnIndex(q)
			if !ok {
				return nil, nil, fmt.Errorf("assess risk: column %q: %w", q, ErrUnknownAttribute)
			}
			idx[i] = c
		}
		m := map[string]int{}
		var order []string
		var sb strings.Builder
		for r := 0; r < t.rows; r++ {
			sb.Reset()
			for _, c := range idx {
				sb.WriteString(t.Value(r, c))
				sb.WriteByte(0)
			}
			k := sb.String()
			if m[k] == 0 {
				order = append(order, k)
			}
			m[k]++
		}
		return m, order, nil
	}
	sample, order, err := count(released)
	if err != nil {
		return Risk{}, err
	}
	f := make([]int, len(order))
	for j, k := range order {
		f[j] = sample[k]
	}
	var F []int
	if population != nil {
		pop, _, err := count(population)
		if err != nil {
			return Risk{}, err
		}
		F = make([]int, len(order))
		for j, k := range order {
			F[j] = pop[k]
		}
	}
	return riskFromClasses(f, F, threshold), nil
}
