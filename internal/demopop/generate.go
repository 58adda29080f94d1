package demopop

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Reference is the day the population is generated for: ages are computed at it and every
// date lies before it. Fixed, so a seed gives the same population whenever it is run.
var Reference = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Patient is one synthetic patient: the facts their FHIR resources say, without identifiers.
type Patient struct {
	// Index is the patient's position in the population; with the seed it determines
	// everything else.
	Index int
	// Given and Family are a synthetic name; Sex is FHIR's administrative gender.
	Given, Family string
	Sex           string
	BirthDate     time.Time
	Place         Place
	Conditions    []Diagnosis
	Medications   []Medication
	Labs          []LabResult
	// Purposes are the research purposes consented to, none when the patient did not opt in.
	Purposes []string
}

// Diagnosis is a condition with its onset.
type Diagnosis struct {
	Condition
	Onset time.Time
}

// Medication is a drug taken since Start.
type Medication struct {
	Drug
	Start time.Time
}

// LabResult is one lab value.
type LabResult struct {
	Test  LabTest
	Value float64
	Date  time.Time
}

// Age is the patient's age in whole years at Reference.
func (p *Patient) Age() int {
	age := Reference.Year() - p.BirthDate.Year()
	if Reference.YearDay() < p.BirthDate.YearDay() {
		age--
	}
	return age
}

// Has reports whether the patient has the condition with the ICD-10-GM code.
func (p *Patient) Has(code string) bool {
	return slices.ContainsFunc(p.Conditions, func(d Diagnosis) bool { return d.Code == code })
}

// Takes reports whether the patient takes the drug with the ATC code.
func (p *Patient) Takes(atc string) bool {
	return slices.ContainsFunc(p.Medications, func(m Medication) bool { return m.ATC == atc })
}

// Generate returns patient index of the population seeded with seed. It depends on nothing
// else, so patients may be generated in any order.
func Generate(seed uint64, index int) Patient {
	r := rand.New(rand.NewPCG(seed, uint64(index)^0x6361_7265_6c65_6467))
	p := Patient{Index: index}

	band := 0
	for x := r.Float64(); band < len(Pyramid)-1; band++ {
		if x -= Pyramid[band].Share; x < 0 {
			break
		}
	}
	b := Pyramid[band]
	age := b.Min + r.IntN(b.Max-b.Min+1)
	p.BirthDate = Reference.AddDate(-age-1, 0, 1+r.IntN(364))
	if r.Float64() < b.FemaleShare {
		p.Sex, p.Given = "female", femaleNames[r.IntN(len(femaleNames))]
	} else {
		p.Sex, p.Given = "male", maleNames[r.IntN(len(maleNames))]
	}
	p.Family = familyNames[r.IntN(len(familyNames))]
	p.Place = pickPlace(r)

	// Onsets fall in the adult years before Reference, at most 15 years back, so the demo's
	// lab series and drugs follow them.
	adultFrom := p.BirthDate.AddDate(18, 0, 0)
	onsetFrom := Reference.AddDate(-15, 0, 0)
	if adultFrom.After(onsetFrom) {
		onsetFrom = adultFrom
	}
	span := int(Reference.Sub(onsetFrom).Hours() / 24)
	for _, c := range Conditions {
		prev := c.Prevalence[band]
		if p.Sex == "male" {
			prev *= c.MaleFactor
		}
		if r.Float64() >= prev {
			continue
		}
		onset := onsetFrom.AddDate(0, 0, r.IntN(max(span-30, 1)))
		p.Conditions = append(p.Conditions, Diagnosis{Condition: c, Onset: onset})
		for _, d := range Drugs[c.Code] {
			if r.Float64() < d.Share && !p.Takes(d.ATC) {
				start := onset.AddDate(0, 0, r.IntN(120))
				if !start.Before(Reference) {
					start = Reference.AddDate(0, 0, -1)
				}
				p.Medications = append(p.Medications, Medication{Drug: d, Start: start})
			}
		}
	}
	p.labs(r)

	if r.Float64() < ConsentShare {
		for _, pu := range Purposes {
			if r.Float64() < pu.Share {
				p.Purposes = append(p.Purposes, pu.Name)
			}
		}
	}
	return p
}

func pickPlace(r *rand.Rand) Place {
	total := 0
	for _, pl := range Places {
		total += pl.Weight
	}
	x := r.IntN(total)
	for _, pl := range Places {
		if x -= pl.Weight; x < 0 {
			return pl
		}
	}
	return Places[len(Places)-1]
}

// labs draws the lab series: HbA1c every quarter for diabetics since diagnosis (at most
// eight), once or twice for others over 40; LDL and creatinine yearly for those with a
// cardiovascular, metabolic or kidney condition, else once.
func (p *Patient) labs(r *rand.Rand) {
	diabetic := p.Has("E11.9")
	statin := p.Takes("C10AA01") || p.Takes("C10AA05")
	ckd := p.Has("N18.3")
	add := func(t LabTest, v float64, d time.Time) {
		v = math.Max(v, 0.01)
		scale := math.Pow(10, float64(t.Decimals))
		p.Labs = append(p.Labs, LabResult{Test: t, Value: math.Round(v*scale) / scale, Date: d})
	}
	recent := func(days int) time.Time { return Reference.AddDate(0, 0, -1-r.IntN(days)) }
	switch {
	case diabetic:
		var dx time.Time
		for _, d := range p.Conditions {
			if d.Code == "E11.9" {
				dx = d.Onset
			}
		}
		level := 7.0 + r.NormFloat64()*0.9
		if p.Takes("A10AE04") {
			level += 0.6
		}
		for d := dx.AddDate(0, 0, 7); d.Before(Reference) && len(p.Labs) < 8; d = d.AddDate(0, 3, r.IntN(20)) {
			add(HbA1c, level+r.NormFloat64()*0.4, d)
			level -= 0.05 // treatment helps a little over time
		}
	case p.Age() >= 40 && r.Float64() < 0.6:
		for range 1 + r.IntN(2) {
			add(HbA1c, 5.3+r.NormFloat64()*0.3, recent(3*365))
		}
	}
	yearly := len(p.Conditions) > 0 && (diabetic || statin || ckd || p.Has("I10.90") || p.Has("I25.9") || p.Has("E78.0"))
	n := 1
	if yearly {
		n = 2 + r.IntN(3)
	} else if r.Float64() < 0.5 {
		n = 0
	}
	for i := range n {
		d := Reference.AddDate(-i, 0, -1-r.IntN(300))
		ldl := 130 + r.NormFloat64()*30
		if p.Has("E78.0") {
			ldl += 40
		}
		if statin {
			ldl -= 45
		}
		add(LDL, ldl, d)
		crea := 0.8 + r.NormFloat64()*0.12
		if p.Sex == "male" {
			crea += 0.15
		}
		if ckd {
			crea += 0.7 + math.Abs(r.NormFloat64()*0.3)
		}
		add(Creatinine, crea, d)
	}
	slices.SortStableFunc(p.Labs, func(a, b LabResult) int { return a.Date.Compare(b.Date) })
}
