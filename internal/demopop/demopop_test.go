package demopop_test

import (
	"bytes"
	"testing"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/internal/demopop"
	"github.com/stretchr/testify/require"
)

func TestDeterministicFromSeed(t *testing.T) {
	for i := range 50 {
		a, b := demopop.Generate(7, i), demopop.Generate(7, i)
		ra, rb := a.Resources("p"), b.Resources("p")
		require.Equal(t, len(ra), len(rb))
		for j := range ra {
			require.True(t, bytes.Equal(ra[j], rb[j]), "patient %d resource %d differs", i, j)
		}
	}
	same := 0
	for i := range 50 {
		a, b := demopop.Generate(7, i), demopop.Generate(8, i)
		if a.BirthDate.Equal(b.BirthDate) && a.Place == b.Place {
			same++
		}
	}
	require.Less(t, same, 5, "another seed gives another population")
}

func TestEveryResourceValidates(t *testing.T) {
	kinds := map[string]int{}
	for i := range 300 {
		p := demopop.Generate(1, i)
		rs := p.Resources("0123456789abcdef0123456789abcdef")
		for j, data := range rs {
			r, err := fhir.Validate(data)
			require.NoError(t, err, "patient %d resource %d: %s", i, j, data)
			kinds[r.Type]++
		}
		// The evaluator reads the same from the FHIR as from the summary.
		want, got := p.Criteria(), criteria.FromFHIR(rs)
		require.Equal(t, want.Sex, got.Sex)
		require.True(t, want.BirthDate.Equal(got.BirthDate))
		require.Equal(t, len(want.Events), len(got.Events), "patient %d", i)
		for k := range want.Events {
			w, g := want.Events[k], got.Events[k]
			require.Equal(t, w.Kind, g.Kind)
			require.Equal(t, w.Code, g.Code)
			require.True(t, w.Date.Equal(g.Date))
			require.InDelta(t, w.Value, g.Value, 1e-9)
			require.Equal(t, w.Unit, g.Unit)
		}
	}
	for _, k := range []string{"Patient", "Condition", "MedicationStatement", "Observation"} {
		require.Positive(t, kinds[k], k)
	}
}

func TestPrevalenceAsConfigured(t *testing.T) {
	const n = 20_000
	type tally struct{ has, of int }
	byBand := map[string][]tally{}
	women, consent, metformin, diabetics := 0, 0, 0, 0
	var hba1cDiab, hba1cOther, nDiab, nOther float64
	for i := range n {
		p := demopop.Generate(3, i)
		band := 0
		for band < len(demopop.Pyramid)-1 && p.Age() > demopop.Pyramid[band].Max {
			band++
		}
		for _, c := range demopop.Conditions {
			if byBand[c.Code] == nil {
				byBand[c.Code] = make([]tally, len(demopop.Pyramid))
			}
			tl := &byBand[c.Code][band]
			tl.of++
			if p.Has(c.Code) {
				tl.has++
			}
		}
		if p.Sex == "female" {
			women++
		}
		if len(p.Purposes) > 0 {
			consent++
		}
		if p.Has("E11.9") {
			diabetics++
			if p.Takes("A10BA02") {
				metformin++
			}
		}
		for _, l := range p.Labs {
			if l.Test.LOINC == demopop.HbA1c.LOINC {
				if p.Has("E11.9") {
					hba1cDiab += l.Value
					nDiab++
				} else {
					hba1cOther += l.Value
					nOther++
				}
			}
		}
	}
	for _, c := range demopop.Conditions {
		for b, tl := range byBand[c.Code] {
			if tl.of < 500 {
				continue
			}
			got := float64(tl.has) / float64(tl.of)
			// Men's factor shifts the mix: accept the range between women's and men's rate.
			lo, hi := c.Prevalence[b]*min(1, c.MaleFactor), c.Prevalence[b]*max(1, c.MaleFactor)
			require.InDelta(t, (lo+hi)/2, got, (hi-lo)/2+0.02, "%s in age band %d", c.Code, b)
		}
	}
	require.InDelta(t, 0.52, float64(women)/n, 0.03)
	require.InDelta(t, demopop.ConsentShare, float64(consent)/n, 0.03)
	require.InDelta(t, 0.80, float64(metformin)/float64(diabetics), 0.05)
	require.Greater(t, hba1cDiab/nDiab, 6.5)
	require.Less(t, hba1cOther/nOther, 5.7)
}

func TestBundleHoldsThePatientsRecord(t *testing.T) {
	for i := range 20 {
		p := demopop.Generate(2, i)
		const subject = "0123456789abcdef0123456789abcdef"
		b, err := fhir.ParseBundle(p.Bundle(subject))
		require.NoError(t, err, "patient %d", i)
		require.Len(t, b.Entries, len(p.Resources(subject)))
		require.Equal(t, subject, b.PatientID)
	}
}
