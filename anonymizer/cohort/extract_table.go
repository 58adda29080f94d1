package cohort

import (
	"crypto/rand"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/careledger/careledger/anonymizer"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
)

// Subject is one consenting patient as an extract reads them: the criteria form of their
// records and the postal code of their address. It holds no identifier.
type Subject struct {
	Patient    criteria.Patient
	PostalCode string
}

// missing is the cell of a variable the patient has no value for.
const missing = "NA"

// ExtractTable is an extract's rows before anonymisation, with what the privacy model needs.
type ExtractTable struct {
	// Table holds one row per matching patient: a random row_id, then the variables.
	Table *anonymizer.Table
	// Population holds the quasi-identifiers of every subject, matching or not: the
	// consenting population an attacker would link against, for journalist and marketer
	// risk.
	Population *anonymizer.Table
	// Hierarchies generalise the quasi-identifiers, built from the population's values.
	Hierarchies map[string]*anonymizer.Hierarchy
	// Sensitive names the sensitive variables.
	Sensitive []string
	// Subjects and Matched count the patients read and those in the cohort.
	Subjects, Matched int
	// Incomparable lists lab units that could not be converted, as "from→to".
	Incomparable []string
}

// Offsets draws a date-shift offset in days, from -max to max and never 0.
type Offsets func(max int) int

// secureOffset draws from crypto/rand: the offsets are kept nowhere, so nobody can undo them.
func secureOffset(maxDays int) int {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(2*maxDays)))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	d := int(n.Int64()) - maxDays // -max..max-1
	if d >= 0 {
		d++ // skip 0: -max..-1, 1..max
	}
	return d
}

// BuildExtract evaluates the extract's cohort, at reference date ref, over subjects and builds
// the rows of those who match. offsets draws the per-patient date shifts (nil: a
// cryptographically secure draw); they live only in this call.
func BuildExtract(x *Extract, subjects []Subject, ref time.Time, offsets Offsets) (*ExtractTable, error) {
	if offsets == nil {
		offsets = secureOffset
	}
	var q *criteria.Query
	if x.Cohort != nil {
		var err error
		if q, err = criteria.Compile(x.Cohort, ref); err != nil {
			return nil, err
		}
		ref = q.ReferenceDate()
	}
	maxShift := 0
	for i := range x.Variables {
		if d := x.Variables[i].Date; d != nil && d.Treatment == "shift" {
			maxShift = max(maxShift, cmpOr(d.ShiftDays, 182))
		}
	}
	nv := len(x.Variables)
	// cells[v][s] is variable v's cell for subject s; labs keep their numbers for bands,
	// coding and microaggregation.
	cells := make([][]string, nv)
	nums := make([][]float64, nv)
	for v := range cells {
		cells[v] = make([]string, len(subjects))
		if x.Variables[v].Lab != nil {
			nums[v] = make([]float64, len(subjects))
		}
	}
	matched := make([]bool, len(subjects))
	incomparable := map[string]bool{}
	out := &ExtractTable{Subjects: len(subjects), Hierarchies: map[string]*anonymizer.Hierarchy{}, Sensitive: x.names(RoleSensitive)}
	for s := range subjects {
		sub := &subjects[s]
		var index time.Time
		if q != nil {
			o := q.Evaluate(&sub.Patient)
			matched[s], index = o.Match, o.Index
			for _, u := range o.Incomparable {
				incomparable[u] = true
			}
		} else {
			matched[s] = true
		}
		shift := 0
		if maxShift > 0 && matched[s] {
			shift = offsets(maxShift)
		}
		for v := range x.Variables {
			c, n := x.Variables[v].cell(sub, ref, index, shift, incomparable)
			cells[v][s] = c
			if nums[v] != nil {
				nums[v][s] = n
			}
		}
	}
	for v := range x.Variables {
		if l := x.Variables[v].Lab; l != nil && l.Microaggregate > 0 {
			microaggregate(cells[v], nums[v], matched, l)
		}
	}

	names := []string{"row_id"}
	for _, v := range x.Variables {
		names = append(names, v.Name)
	}
	t, err := anonymizer.NewTable(names...)
	if err != nil {
		return nil, err
	}
	qis := x.names(RoleQI)
	pop, err := anonymizer.NewTable(qis...)
	if err != nil {
		return nil, err
	}
	row := make([]string, len(names))
	prow := make([]string, len(qis))
	for s := range subjects {
		j := 0
		for v := range x.Variables {
			if x.Variables[v].role() == RoleQI {
				prow[j] = cells[v][s]
				j++
			}
		}
		if err := pop.AppendRow(prow...); err != nil {
			return nil, err
		}
		if !matched[s] {
			continue
		}
		out.Matched++
		row[0] = randomID()
		for v := range x.Variables {
			row[v+1] = cells[v][s]
		}
		if err := t.AppendRow(row...); err != nil {
			return nil, err
		}
	}
	if err := t.SetType("row_id", anonymizer.Insensitive); err != nil {
		return nil, err
	}
	for v := range x.Variables {
		vr := &x.Variables[v]
		typ := map[string]anonymizer.AttributeType{RoleQI: anonymizer.QuasiIdentifying, RoleSensitive: anonymizer.Sensitive, RoleInsensitive: anonymizer.Insensitive}[vr.role()]
		if err := t.SetType(vr.Name, typ); err != nil {
			return nil, err
		}
		if typ != anonymizer.QuasiIdentifying {
			continue
		}
		values, err := pop.Distinct(vr.Name)
		if err != nil {
			return nil, err
		}
		if out.Hierarchies[vr.Name], err = vr.hierarchy(values); err != nil {
			return nil, fmt.Errorf("extract: hierarchy of %s: %w", vr.Name, err)
		}
	}
	out.Table, out.Population = t, pop
	for u := range incomparable {
		out.Incomparable = append(out.Incomparable, u)
	}
	slices.Sort(out.Incomparable)
	return out, nil
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// cell is the variable's value for one subject, and for labs the number behind it.
func (v *Variable) cell(s *Subject, ref, index time.Time, shift int, incomparable map[string]bool) (string, float64) {
	p := &s.Patient
	switch {
	case v.Age != nil:
		if p.BirthDate.IsZero() {
			return missing, 0
		}
		age, err := anonymizer.AgeAt(p.BirthDate, ref)
		if err != nil {
			return missing, 0
		}
		return strconv.Itoa(age), 0
	case v.Sex != nil:
		if p.Sex == "" {
			return "unknown", 0
		}
		return p.Sex, 0
	case v.PostalCode != nil:
		if !germanPostalCode(s.PostalCode) {
			return missing, 0
		}
		return s.PostalCode, 0
	case v.Condition != nil:
		return flag(p, criteria.KindCondition, v.Condition.Codes), 0
	case v.Medication != nil:
		return flag(p, criteria.KindMedication, v.Medication.Codes), 0
	case v.Lab != nil:
		return v.Lab.cell(p, incomparable)
	case v.Date != nil:
		return v.Date.cell(p, index, shift), 0
	}
	return missing, 0
}

func germanPostalCode(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := range 5 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func flag(p *criteria.Patient, kind criteria.Kind, codes []string) string {
	for i := range p.Events {
		e := &p.Events[i]
		if e.Kind != kind {
			continue
		}
		for _, c := range codes {
			if codeMatches(e.Code, c) {
				return "yes"
			}
		}
	}
	return "no"
}

func (l *LabVariable) decimals() int {
	if l.Decimals == nil {
		return 1
	}
	return *l.Decimals
}

// cell picks the patient's result, converts it to the variable's unit, rounds it and codes
// the tails.
func (l *LabVariable) cell(p *criteria.Patient, incomparable map[string]bool) (string, float64) {
	found := false
	var val float64
	for i := range p.Events {
		e := &p.Events[i]
		if e.Kind != criteria.KindLab || e.Code != l.LOINC || !e.HasValue {
			continue
		}
		x, ok := criteria.Convert(e.Value, e.Unit, l.Unit)
		if !ok {
			incomparable[e.Unit+"→"+l.Unit] = true
			continue
		}
		take := false
		switch {
		case !found, l.Pick == "" || l.Pick == "last":
			take = true
		case l.Pick == "min":
			take = x < val
		case l.Pick == "max":
			take = x > val
		}
		if take {
			val, found = x, true
		}
	}
	if !found {
		return missing, math.NaN()
	}
	scale := math.Pow(10, float64(l.decimals()))
	val = math.Round(val*scale) / scale
	switch {
	case l.Bottom != nil && val <= *l.Bottom:
		return "<=" + fmtFloat(*l.Bottom), *l.Bottom
	case l.Top != nil && val >= *l.Top:
		return ">=" + fmtFloat(*l.Top), *l.Top
	}
	return strconv.FormatFloat(val, 'f', l.decimals(), 64), val
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// microaggregate replaces the matched patients' values by the means of groups of at least m
// patients with neighbouring values (sorted; the last group takes the remainder), coded
// tails included as their bound.
func microaggregate(cells []string, nums []float64, matched []bool, l *LabVariable) {
	var idx []int
	for s := range cells {
		if matched[s] && cells[s] != missing {
			idx = append(idx, s)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case nums[a] < nums[b]:
			return -1
		case nums[a] > nums[b]:
			return 1
		}
		return 0
	})
	m := l.Microaggregate
	if len(idx) < m {
		for _, s := range idx {
			cells[s] = missing // too few to hide any value among
		}
		return
	}
	for start := 0; start < len(idx); {
		end := start + m
		if len(idx)-end < m {
			end = len(idx)
		}
		sum := 0.0
		for _, s := range idx[start:end] {
			sum += nums[s]
		}
		mean := strconv.FormatFloat(sum/float64(end-start), 'f', l.decimals(), 64)
		for _, s := range idx[start:end] {
			cells[s] = mean
		}
		start = end
	}
}

// cell is the date of the patient's first event the variable names, or of the index event,
// as a month or shifted.
func (d *DateVariable) cell(p *criteria.Patient, index time.Time, shift int) string {
	var at time.Time
	if d.Index {
		at = index
	} else {
		for i := range p.Events {
			e := &p.Events[i]
			if e.Date.IsZero() {
				continue
			}
			var ok bool
			switch {
			case d.Condition != "":
				ok = e.Kind == criteria.KindCondition && codeMatches(e.Code, d.Condition)
			case d.Medication != "":
				ok = e.Kind == criteria.KindMedication && codeMatches(e.Code, d.Medication)
			case d.Procedure != "":
				ok = e.Kind == criteria.KindProcedure && codeMatches(e.Code, d.Procedure)
			case d.LOINC != "":
				ok = e.Kind == criteria.KindLab && e.Code == d.LOINC
			}
			if ok {
				at = e.Date
				break
			}
		}
	}
	switch {
	case at.IsZero():
		return missing
	case d.Treatment == "month":
		return at.Format("2006-01")
	}
	return at.AddDate(0, 0, shift).Format(time.DateOnly)
}

// hierarchy builds the generalisation hierarchy of a quasi-identifier from the population's
// distinct values (and, for labs, the numbers behind them).
func (v *Variable) hierarchy(values []string) (*anonymizer.Hierarchy, error) {
	plain, extra := splitValues(values, func(s string) bool {
		return s == missing || (len(s) > 2 && (s[:2] == "<=" || s[:2] == ">="))
	})
	switch {
	case v.Age != nil:
		bands := v.Age.Bands
		if len(bands) == 0 {
			bands = []float64{5, 10, 20}
		}
		return numericHierarchy(plain, extra, bands)
	case v.Lab != nil:
		bands := v.Lab.Bands
		if len(bands) == 0 {
			bands = autoBands(plain, v.Lab.decimals())
		}
		return numericHierarchy(plain, extra, bands)
	case v.PostalCode != nil:
		if len(plain) == 0 {
			return withExtra(nil, extra, 6)
		}
		h, err := anonymizer.PostalCodeHierarchy(plain, nil)
		if err != nil {
			return nil, err
		}
		return withExtra(h, extra, h.Levels())
	case v.Date != nil:
		var rows [][]string
		for _, s := range plain {
			t, err := time.Parse("2006-01", s)
			if err != nil {
				return nil, err
			}
			rows = append(rows, []string{s, fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())+2)/3), strconv.Itoa(t.Year()), "*"})
		}
		for _, e := range extra {
			rows = append(rows, []string{e, e, e, "*"})
		}
		return anonymizer.NewHierarchy(rows)
	}
	// Sex and flags: the value, then "*".
	var rows [][]string
	for _, s := range values {
		rows = append(rows, []string{s, "*"})
	}
	return anonymizer.NewHierarchy(rows)
}

func splitValues(values []string, isExtra func(string) bool) (plain, extra []string) {
	for _, s := range values {
		if isExtra(s) {
			extra = append(extra, s)
		} else {
			plain = append(plain, s)
		}
	}
	return plain, extra
}

// numericHierarchy is the engine's interval hierarchy over the numbers, with the coded tails
// and "NA" kept as they are up to the top.
func numericHierarchy(plain, extra []string, bands []float64) (*anonymizer.Hierarchy, error) {
	if len(plain) == 0 {
		return withExtra(nil, extra, len(bands)+2)
	}
	h, err := anonymizer.IntervalHierarchy(plain, bands...)
	if err != nil {
		return nil, err
	}
	return withExtra(h, extra, h.Levels())
}

// withExtra adds to h a row per extra value that keeps the value at every level but the top.
func withExtra(h *anonymizer.Hierarchy, extra []string, levels int) (*anonymizer.Hierarchy, error) {
	var rows [][]string
	if h != nil {
		rows = h.Rows()
	}
	for _, e := range extra {
		r := make([]string, levels)
		for i := range r {
			r[i] = e
		}
		r[levels-1] = "*"
		rows = append(rows, r)
	}
	return anonymizer.NewHierarchy(rows)
}

// autoBands chooses nested band widths from the data: a round width giving about ten bands
// over the middle 90 % of values, then twice and four times as wide.
func autoBands(plain []string, decimals int) []float64 {
	var xs []float64
	for _, s := range plain {
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			xs = append(xs, f)
		}
	}
	w := 1.0
	if len(xs) > 1 {
		slices.Sort(xs)
		lo, hi := xs[len(xs)*5/100], xs[(len(xs)-1)*95/100]
		w = niceWidth((hi - lo) / 10)
	}
	if minW := math.Pow(10, -float64(decimals)); w < minW {
		w = minW
	}
	return []float64{w, 2 * w, 4 * w}
}

// niceWidth rounds x up to 1, 2 or 5 times a power of ten.
func niceWidth(x float64) float64 {
	if !(x > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// Config is the engine configuration for the extract under k-anonymity (k ≥ 2), distinct
// l-diversity (l ≥ 2) and equal-distance t-closeness (0 < t ≤ 1) of every sensitive variable,
// with suppression, and the ledger's description of it. Journalist and marketer risk are
// measured against the consenting population.
func (b *ExtractTable) Config(k, l int, t, suppression float64) (anonymizer.Config, []string, model.PrivacyParameters, error) {
	if (l >= 2 || t > 0) && len(b.Sensitive) == 0 {
		return anonymizer.Config{}, nil, model.PrivacyParameters{}, badExtract("variables", "l-diversity and t-closeness need a sensitive variable")
	}
	cfg := anonymizer.Config{
		Hierarchies:      b.Hierarchies,
		Criteria:         []anonymizer.Criterion{anonymizer.KAnonymity(k)},
		SuppressionLimit: suppression,
		DropSuppressed:   true,
		Population:       b.Population,
	}
	models := []string{"k-anonymity"}
	params := model.PrivacyParameters{K: k, SuppressionLimit: suppression}
	if l >= 2 {
		for _, s := range b.Sensitive {
			cfg.Criteria = append(cfg.Criteria, anonymizer.DistinctLDiversity(s, l))
		}
		models = append(models, "l-diversity")
		params.L, params.LVariant = float64(l), "distinct"
	}
	if t > 0 {
		for _, s := range b.Sensitive {
			cfg.Criteria = append(cfg.Criteria, anonymizer.EqualDistanceTCloseness(s, t))
		}
		models = append(models, "t-closeness")
		params.T = t
	}
	return cfg, models, params, nil
}
