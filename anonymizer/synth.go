package anonymizer

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Columns of the synthetic cohort.
const (
	CohortPatientID     = "patient_id"
	CohortAge           = "age"
	CohortSex           = "sex"
	CohortPostalCode    = "postal_code"
	CohortAdmissionDate = "admission_date"
	CohortDiagnosis     = "diagnosis"
	CohortLengthOfStay  = "length_of_stay"
)

// dxSpec is a diagnosis with its relative frequency and who can have it.
type dxSpec struct {
	code           string
	weight         float64
	minAge, maxAge int
	sex            byte // 'f', 'm' or 0 for both
}

// cohortDiagnoses are common inpatient ICD-10 diagnoses with rough relative
// frequencies; the age and sex limits keep the data plausible (no prostate
// cancer in women, no deliveries at 80).
var cohortDiagnoses = []dxSpec{
	{"Z38.0", 60, 0, 0, 0}, {"P07.3", 6, 0, 0, 0}, {"P59.9", 8, 0, 0, 0}, {"Q21.0", 1, 0, 1, 0},
	{"O80", 25, 16, 45, 'f'}, {"O82", 12, 16, 45, 'f'}, {"O20.0", 3, 16, 45, 'f'},
	{"J06.9", 8, 0, 14, 0}, {"A09", 10, 0, 100, 0}, {"J45.9", 5, 2, 40, 0}, {"K35.8", 8, 5, 40, 0},
	{"S06.0", 8, 0, 100, 0}, {"S52.5", 5, 5, 100, 0}, {"S82.6", 5, 15, 90, 0}, {"S72.0", 10, 65, 100, 'f'},
	{"S72.1", 5, 65, 100, 0}, {"F10.0", 10, 16, 80, 'm'}, {"F32.9", 6, 16, 90, 0}, {"F20.0", 3, 16, 60, 0},
	{"F05.0", 4, 70, 100, 0}, {"G40.9", 4, 0, 90, 0}, {"G45.9", 4, 50, 100, 0}, {"I63.5", 8, 50, 100, 0},
	{"I10", 10, 35, 100, 0}, {"I21.4", 8, 40, 100, 0}, {"I25.1", 8, 45, 100, 0}, {"I48.0", 9, 55, 100, 0},
	{"I50.0", 12, 60, 100, 0}, {"I26.9", 3, 30, 100, 0}, {"I80.2", 3, 25, 100, 0}, {"I95.1", 3, 70, 100, 0},
	{"J18.9", 14, 0, 100, 0}, {"J44.1", 9, 45, 100, 0}, {"U07.1", 7, 0, 100, 0}, {"B34.9", 4, 0, 60, 0},
	{"A41.9", 7, 60, 100, 0}, {"N39.0", 8, 60, 100, 0}, {"N17.9", 5, 55, 100, 0}, {"N18.5", 3, 45, 100, 0},
	{"E11.9", 6, 35, 100, 0}, {"E86", 4, 70, 100, 0}, {"E87.1", 3, 70, 100, 0}, {"D50.0", 3, 16, 100, 0},
	{"K80.2", 7, 25, 90, 0}, {"K57.3", 5, 45, 100, 0}, {"K92.2", 4, 50, 100, 0}, {"K29.7", 4, 16, 100, 0},
	{"K85.9", 3, 25, 90, 0}, {"K40.9", 5, 20, 90, 'm'}, {"L03.1", 4, 16, 100, 0}, {"M17.1", 6, 50, 95, 0},
	{"M16.1", 6, 50, 95, 0}, {"M54.5", 5, 20, 90, 0}, {"R07.4", 7, 25, 100, 0}, {"R55", 5, 16, 100, 0},
	{"H25.9", 3, 60, 100, 0}, {"T78.4", 2, 0, 80, 0}, {"C34.1", 5, 45, 95, 0}, {"C50.9", 5, 30, 95, 'f'},
	{"C61", 5, 50, 100, 'm'}, {"C18.7", 4, 45, 100, 0}, {"Z51.1", 6, 30, 90, 0}, {"C91.0", 1, 0, 19, 0},
}

// cohortAgeWeight is the relative admission rate at an age: many births,
// few children, rising with age until the oldest old.
func cohortAgeWeight(a int) float64 {
	switch {
	case a == 0:
		return 9
	case a < 18:
		return 0.5
	case a < 45:
		return 1
	case a < 65:
		return 1 + 1.5*float64(a-45)/20
	case a < 90:
		return 3 - 1.5*float64(a-65)/25
	default:
		return 1.2 * math.Pow(0.8, float64(a-89))
	}
}

// sampler draws indices from a discrete distribution by binary search over
// the cumulative weights.
type sampler []float64

func newSampler(w []float64) sampler {
	c := make(sampler, len(w))
	var s float64
	for i, x := range w {
		s += x
		c[i] = s
	}
	return c
}

func (s sampler) draw(r *rand.Rand) int {
	u := r.Float64() * s[len(s)-1]
	i, _ := slices.BinarySearch(s, u)
	return min(i, len(s)-1)
}

// SyntheticCohort generates n synthetic inpatient admissions, one per
// patient, deterministically from seed: a random patient ID (identifying),
// age, sex, US ZIP code and admission date (quasi-identifying), a primary
// ICD-10 diagnosis (sensitive) and length of stay (insensitive). Ages,
// sexes and diagnoses follow hospital-like distributions with plausible
// age/sex dependence; ZIP codes are clustered in 60 three-digit areas of
// very different sizes, including HIPAA-restricted ones; admissions span
// 2021–2025 with fewer at weekends and more in winter.
func SyntheticCohort(seed uint64, n int) (*Table, error) {
	if n < 0 {
		return nil, fmt.Errorf("synthetic cohort: n=%d: %w", n, ErrMalformedInput)
	}
	r := rand.New(rand.NewPCG(seed, seed^0x5DEECE66D))

	ageW := make([]float64, 101)
	for a := range ageW {
		ageW[a] = cohortAgeWeight(a)
	}
	ages := newSampler(ageW)

	// ZIP codes: areas with Zipf-like sizes, codes within an area likewise.
	restricted := []string{"036", "059", "102", "203", "556", "692", "790", "821"}
	var zips []string
	var zipW []float64
	areaSeen := map[string]bool{}
	for i := range 60 {
		var area string
		if i%8 == 7 {
			area = restricted[i/8]
		} else {
			for area == "" || areaSeen[area] || HIPAARestrictedZIP3[area] {
				area = fmt.Sprintf("%03d", 100+r.IntN(890))
			}
		}
		areaSeen[area] = true
		aw := 1 / math.Pow(float64(i+1), 0.9)
		if HIPAARestrictedZIP3[area] {
			aw *= 0.02
		}
		codes := 10 + r.IntN(70)
		for j := range codes {
			zips = append(zips, fmt.Sprintf("%s%02d", area, (j*7+r.IntN(7))%100))
			zipW = append(zipW, aw/math.Pow(float64(j+1), 0.7))
		}
	}
	// Duplicated ZIPs (rare collisions) would merely add weight.
	zipS := newSampler(zipW)

	start := time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var days []string
	var dayW []float64
	for d := start; d.Before(end); d = d.AddDate(0, 0, 1) {
		w := 1.0
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			w = 0.6
		}
		if m := d.Month(); m == time.December || m <= time.February {
			w *= 1.15
		}
		days = append(days, d.Format(time.DateOnly))
		dayW = append(dayW, w)
	}
	dayS := newSampler(dayW)

	sexes := []string{"female", "male", "other", "unknown"}
	sexS := newSampler([]float64{0.52, 0.479, 0.0005, 0.0005})

	// Diagnosis samplers per (age, sex).
	dxCodes := make([]string, len(cohortDiagnoses))
	for i, d := range cohortDiagnoses {
		dxCodes[i] = d.code
	}
	dxS := make([][]sampler, 101)
	for a := range dxS {
		dxS[a] = make([]sampler, len(sexes))
		for s := range sexes {
			w := make([]float64, len(cohortDiagnoses))
			for i, d := range cohortDiagnoses {
				if a < d.minAge || a > d.maxAge {
					continue
				}
				if d.sex != 0 && s < 2 && d.sex != "fm"[s] {
					continue
				}
				if d.sex != 0 && s >= 2 {
					w[i] = d.weight * 0.1
					continue
				}
				w[i] = d.weight
			}
			dxS[a][s] = newSampler(w)
		}
	}

	t := &Table{rows: n}
	mk := func(name string, typ AttributeType, dict []string) *column {
		c := &column{name: name, typ: typ, dict: dict, codes: make([]int32, n)}
		t.cols = append(t.cols, c)
		return c
	}
	ageDict := make([]string, 101)
	for a := range ageDict {
		ageDict[a] = strconv.Itoa(a)
	}
	losDict := make([]string, 61)
	for d := range losDict {
		losDict[d] = strconv.Itoa(d + 1)
	}
	idC := mk(CohortPatientID, Identifying, make([]string, n))
	ageC := mk(CohortAge, QuasiIdentifying, ageDict)
	sexC := mk(CohortSex, QuasiIdentifying, sexes)
	zipC := mk(CohortPostalCode, QuasiIdentifying, zips)
	dayC := mk(CohortAdmissionDate, QuasiIdentifying, days)
	dxC := mk(CohortDiagnosis, Sensitive, dxCodes)
	losC := mk(CohortLengthOfStay, Insensitive, losDict)
	const hex = "0123456789abcdef"
	var id [17]byte
	id[0] = 'P'
	for i := range n {
		v := r.Uint64()
		for j := range 16 {
			id[1+j] = hex[(v>>(4*j))&15]
		}
		idC.dict[i] = string(id[:])
		idC.codes[i] = int32(i)
		a := ages.draw(r)
		s := sexS.draw(r)
		ageC.codes[i] = int32(a)
		sexC.codes[i] = int32(s)
		zipC.codes[i] = int32(zipS.draw(r))
		dayC.codes[i] = int32(dayS.draw(r))
		dxC.codes[i] = int32(dxS[a][s].draw(r))
		mean := 2.5 + float64(a)/20
		losC.codes[i] = int32(min(int(r.ExpFloat64()*mean), 60))
	}
	// Rare ZIP collisions leave duplicate dictionary entries; fold them.
	dedupe(zipC)
	return t, nil
}

// dedupe merges duplicate dictionary values of a bulk-built column.
func dedupe(c *column) {
	first := map[string]int32{}
	remap := make([]int32, len(c.dict))
	var dict []string
	for i, v := range c.dict {
		id, ok := first[v]
		if !ok {
			id = int32(len(dict))
			first[v] = id
			dict = append(dict, v)
		}
		remap[i] = id
	}
	if len(dict) == len(c.dict) {
		return
	}
	for i, code := range c.codes {
		c.codes[i] = remap[code]
	}
	c.dict, c.index = dict, nil
}

// CohortHierarchies returns the standard hierarchies for a synthetic cohort:
// age in 5/10/20-year bands, sex, ZIP code prefixes with HIPAA's restricted
// areas, admission date by month/quarter/year, and ICD-10 for the diagnosis
// (used by hierarchical t-closeness).
func CohortHierarchies(t *Table) (map[string]*Hierarchy, error) {
	hs := map[string]*Hierarchy{}
	build := map[string]func([]string) (*Hierarchy, error){
		CohortAge: func(v []string) (*Hierarchy, error) { return IntervalHierarchy(v, 5, 10, 20) },
		CohortSex: func(v []string) (*Hierarchy, error) {
			rows := make([][]string, len(v))
			for i, x := range v {
				rows[i] = []string{x, "*"}
			}
			return NewHierarchy(rows)
		},
		CohortPostalCode:    func(v []string) (*Hierarchy, error) { return PostalCodeHierarchy(v, HIPAARestrictedZIP3) },
		CohortAdmissionDate: func(v []string) (*Hierarchy, error) { return DateHierarchy(v, time.DateOnly) },
		CohortDiagnosis:     ICD10Hierarchy,
	}
	for name, f := range build {
		vals, err := t.Distinct(name)
		if err != nil {
			return nil, fmt.Errorf("cohort hierarchies: %w", err)
		}
		h, err := f(vals)
		if err != nil {
			return nil, fmt.Errorf("cohort hierarchies: %s: %w", name, err)
		}
		hs[name] = h
	}
	return hs, nil
}
