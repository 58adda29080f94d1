package anonymizer

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// IntervalHierarchy builds a hierarchy for numeric values (ages, lab
// values): level 1 groups values into intervals of widths[0], level 2 into
// intervals of widths[1] and so on, the top level is "*". Intervals start at
// multiples of the width, so each width must be a multiple of the previous
// one for the levels to nest. Integer data with integer widths gets ARX-style
// labels ("20-24"); otherwise labels are half-open ("[7.5, 8)").
func IntervalHierarchy(values []string, widths ...float64) (*Hierarchy, error) {
	if len(widths) == 0 {
		return nil, fmt.Errorf("interval hierarchy: no widths: %w", ErrMalformedInput)
	}
	for i, w := range widths {
		if !(w > 0) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("interval hierarchy: width %v: %w", w, ErrMalformedInput)
		}
		if i > 0 {
			r := w / widths[i-1]
			if math.Abs(r-math.Round(r)) > 1e-9 || r < 1 {
				return nil, fmt.Errorf("interval hierarchy: width %v is not a multiple of %v: %w", w, widths[i-1], ErrMalformedInput)
			}
		}
	}
	nums := make([]float64, len(values))
	integral := true
	for i, v := range values {
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, rowErr("values", i+1, "%q is not a finite number", v)
		}
		nums[i] = f
		if f != math.Trunc(f) {
			integral = false
		}
	}
	for _, w := range widths {
		if w != math.Trunc(w) {
			integral = false
		}
	}
	return distinctRows(values, func(i int, v string) ([]string, error) {
		row := []string{v}
		for _, w := range widths {
			lo := math.Floor(nums[i]/w) * w
			if integral {
				row = append(row, fmt.Sprintf("%d-%d", int64(lo), int64(lo+w-1)))
			} else {
				row = append(row, fmt.Sprintf("[%s, %s)", fmtNum(lo), fmtNum(lo+w)))
			}
		}
		return append(row, "*"), nil
	})
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// DateHierarchy builds day → month → quarter → year → * for dates written
// in layout (e.g. time.DateOnly).
func DateHierarchy(values []string, layout string) (*Hierarchy, error) {
	return distinctRows(values, func(i int, v string) ([]string, error) {
		d, err := time.Parse(layout, strings.TrimSpace(v))
		if err != nil {
			return nil, rowErr("values", i+1, "%q is not a date in layout %q", v, layout)
		}
		q := (int(d.Month())-1)/3 + 1
		return []string{v, d.Format("2006-01"), fmt.Sprintf("%d-Q%d", d.Year(), q), strconv.Itoa(d.Year()), "*"}, nil
	})
}

// HIPAARestrictedZIP3 lists the three-digit ZIP code areas with 20,000 or
// fewer inhabitants (2000 census) that HIPAA's Safe Harbor method requires
// to be released as "000".
var HIPAARestrictedZIP3 = map[string]bool{
	"036": true, "059": true, "063": true, "102": true, "203": true, "556": true,
	"692": true, "790": true, "821": true, "823": true, "830": true, "831": true,
	"878": true, "879": true, "884": true, "890": true, "893": true,
}

// PostalCodeHierarchy builds a prefix hierarchy for postal codes of equal
// length: each level masks one more trailing character with '*', the top is
// "*". Codes whose three-character prefix is in restricted (for example
// HIPAARestrictedZIP3; nil for none) show that prefix as "000" at every
// level that reveals at most three characters, as Safe Harbor requires.
func PostalCodeHierarchy(values []string, restricted map[string]bool) (*Hierarchy, error) {
	width := -1
	return distinctRows(values, func(i int, v string) ([]string, error) {
		if v == "" || strings.ContainsAny(v, "* ") {
			return nil, rowErr("values", i+1, "%q is not a postal code", v)
		}
		if width == -1 {
			width = len(v)
		} else if len(v) != width {
			return nil, rowErr("values", i+1, "postal code %q has %d characters, others %d", v, len(v), width)
		}
		row := []string{v}
		for masked := 1; masked < width; masked++ {
			shown := width - masked
			p := v[:shown]
			if shown <= 3 && width >= 3 && restricted[v[:3]] {
				p = strings.Repeat("0", shown)
			}
			row = append(row, p+strings.Repeat("*", masked))
		}
		return append(row, "*"), nil
	})
}

// NormalizeICD10 upper-cases an ICD-10 code and checks its form: a letter,
// two digits, then optionally a dot and up to four characters.
func NormalizeICD10(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	if len(c) < 3 || c[0] < 'A' || c[0] > 'Z' || !isDigit(c[1]) || !isAlnum(c[2]) {
		return "", fmt.Errorf("icd-10 code %q: %w", code, ErrMalformedInput)
	}
	rest := c[3:]
	if rest != "" {
		if rest[0] != '.' {
			rest = "." + rest
			c = c[:3] + rest
		}
		if len(rest) < 2 || len(rest) > 5 {
			return "", fmt.Errorf("icd-10 code %q: %w", code, ErrMalformedInput)
		}
		for i := 1; i < len(rest); i++ {
			if !isAlnum(rest[i]) {
				return "", fmt.Errorf("icd-10 code %q: %w", code, ErrMalformedInput)
			}
		}
	}
	return c, nil
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }
func isAlnum(b byte) bool { return isDigit(b) || (b >= 'A' && b <= 'Z') }

// ICD10Hierarchy builds code → three-character category → block → chapter
// → * for ICD-10 (WHO) codes; "E11.9" becomes "E11", "E10-E14", "E00-E90",
// "*". Codes outside every chapter are rejected.
func ICD10Hierarchy(values []string) (*Hierarchy, error) {
	return distinctRows(values, func(i int, v string) ([]string, error) {
		c, err := NormalizeICD10(v)
		if err != nil {
			return nil, &RowError{Source: "values", Row: i + 1, Err: err}
		}
		cat := c[:3]
		chapter := findRange(icd10Chapters, cat)
		if chapter == "" {
			return nil, rowErr("values", i+1, "icd-10 code %q is in no chapter", v)
		}
		block := findRange(icd10Blocks, cat)
		if block == "" {
			block = chapter
		}
		return []string{v, cat, block, chapter, "*"}, nil
	})
}

func findRange(ranges []string, cat string) string {
	for _, r := range ranges {
		if cat >= r[:3] && cat <= r[4:] {
			return r
		}
	}
	return ""
}

// icd10Chapters are the WHO ICD-10 chapters as category ranges.
var icd10Chapters = []string{
	"A00-B99", "C00-D48", "D50-D89", "E00-E90", "F00-F99", "G00-G99", "H00-H59",
	"H60-H95", "I00-I99", "J00-J99", "K00-K93", "L00-L99", "M00-M99", "N00-N99",
	"O00-O99", "P00-P96", "Q00-Q99", "R00-R99", "S00-T98", "V01-Y98", "Z00-Z99", "U00-U99",
}

// icd10Blocks are the WHO ICD-10 blocks. A category inside a chapter but in
// no listed block generalises to its chapter range, which keeps the levels
// consistent.
var icd10Blocks = []string{
	"A00-A09", "A15-A19", "A20-A28", "A30-A49", "A50-A64", "A65-A69", "A70-A74", "A75-A79",
	"A80-A89", "A92-A99", "B00-B09", "B15-B19", "B20-B24", "B25-B34", "B35-B49", "B50-B64",
	"B65-B83", "B85-B89", "B90-B94", "B95-B98", "B99-B99",
	"C00-C14", "C15-C26", "C30-C39", "C40-C41", "C43-C44", "C45-C49", "C50-C50", "C51-C58",
	"C60-C63", "C64-C68", "C69-C72", "C73-C75", "C76-C80", "C81-C96", "C97-C97", "D00-D09",
	"D10-D36", "D37-D48",
	"D50-D53", "D55-D59", "D60-D64", "D65-D69", "D70-D77", "D80-D89",
	"E00-E07", "E10-E14", "E15-E16", "E20-E35", "E40-E46", "E50-E64", "E65-E68", "E70-E90",
	"F00-F09", "F10-F19", "F20-F29", "F30-F39", "F40-F48", "F50-F59", "F60-F69", "F70-F79",
	"F80-F89", "F90-F98", "F99-F99",
	"G00-G09", "G10-G14", "G20-G26", "G30-G32", "G35-G37", "G40-G47", "G50-G59", "G60-G64",
	"G70-G73", "G80-G83", "G90-G99",
	"H00-H06", "H10-H13", "H15-H22", "H25-H28", "H30-H36", "H40-H42", "H43-H45", "H46-H48",
	"H49-H52", "H53-H54", "H55-H59", "H60-H62", "H65-H75", "H80-H83", "H90-H95",
	"I00-I02", "I05-I09", "I10-I15", "I20-I25", "I26-I28", "I30-I52", "I60-I69", "I70-I79",
	"I80-I89", "I95-I99",
	"J00-J06", "J09-J18", "J20-J22", "J30-J39", "J40-J47", "J60-J70", "J80-J84", "J85-J86",
	"J90-J94", "J95-J99",
	"K00-K14", "K20-K31", "K35-K38", "K40-K46", "K50-K52", "K55-K64", "K65-K67", "K70-K77",
	"K80-K87", "K90-K93",
	"L00-L08", "L10-L14", "L20-L30", "L40-L45", "L50-L54", "L55-L59", "L60-L75", "L80-L99",
	"M00-M03", "M05-M14", "M15-M19", "M20-M25", "M30-M36", "M40-M43", "M45-M49", "M50-M54",
	"M60-M63", "M65-M68", "M70-M79", "M80-M85", "M86-M90", "M91-M94", "M95-M99",
	"N00-N08", "N10-N16", "N17-N19", "N20-N23", "N25-N29", "N30-N39", "N40-N51", "N60-N64",
	"N70-N77", "N80-N98", "N99-N99",
	"O00-O08", "O10-O16", "O20-O29", "O30-O48", "O60-O75", "O80-O84", "O85-O92", "O94-O99",
	"P00-P04", "P05-P08", "P10-P15", "P20-P29", "P35-P39", "P50-P61", "P70-P74", "P75-P78",
	"P80-P83", "P90-P96",
	"Q00-Q07", "Q10-Q18", "Q20-Q28", "Q30-Q34", "Q35-Q37", "Q38-Q45", "Q50-Q56", "Q60-Q64",
	"Q65-Q79", "Q80-Q89", "Q90-Q99",
	"R00-R09", "R10-R19", "R20-R23", "R25-R29", "R30-R39", "R40-R46", "R47-R49", "R50-R69",
	"R70-R79", "R80-R82", "R83-R89", "R90-R94", "R95-R99",
	"S00-S09", "S10-S19", "S20-S29", "S30-S39", "S40-S49", "S50-S59", "S60-S69", "S70-S79",
	"S80-S89", "S90-S99", "T00-T07", "T08-T14", "T15-T19", "T20-T32", "T33-T35", "T36-T50",
	"T51-T65", "T66-T78", "T79-T79", "T80-T88", "T90-T98",
	"V01-X59", "X60-X84", "X85-Y09", "Y10-Y34", "Y35-Y36", "Y40-Y84", "Y85-Y89", "Y90-Y98",
	"Z00-Z13", "Z20-Z29", "Z30-Z39", "Z40-Z54", "Z55-Z65", "Z70-Z76", "Z80-Z99",
	"U00-U49", "U50-U99",
}

// NormalizeATC upper-cases an ATC code and checks it is a valid code of one
// of the five ATC levels (1, 3, 4, 5 or 7 characters, e.g. "C10AA05").
func NormalizeATC(code string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(code))
	ok := len(c) == 1 || len(c) == 3 || len(c) == 4 || len(c) == 5 || len(c) == 7
	for i := 0; ok && i < len(c); i++ {
		switch i {
		case 0, 3, 4:
			ok = c[i] >= 'A' && c[i] <= 'Z'
		default:
			ok = isDigit(c[i])
		}
	}
	if !ok {
		return "", fmt.Errorf("atc code %q: %w", code, ErrMalformedInput)
	}
	return c, nil
}

// ATCHierarchy builds substance → chemical → pharmacological →
// therapeutic subgroup → anatomical main group → * for ATC codes
// ("C10AA05" → "C10AA" → "C10A" → "C10" → "C" → "*").
func ATCHierarchy(values []string) (*Hierarchy, error) {
	return distinctRows(values, func(i int, v string) ([]string, error) {
		c, err := NormalizeATC(v)
		if err != nil {
			return nil, &RowError{Source: "values", Row: i + 1, Err: err}
		}
		row := []string{v}
		for _, n := range []int{5, 4, 3, 1} {
			row = append(row, c[:min(n, len(c))])
		}
		return append(row, "*"), nil
	})
}

// distinctRows builds a hierarchy with one row per distinct value, in the order values are
// first seen; row makes the row of value v at input position i (for errors naming the row).
func distinctRows(values []string, row func(i int, v string) ([]string, error)) (*Hierarchy, error) {
	rows := make([][]string, 0, len(values))
	seen := map[string]bool{}
	for i, v := range values {
		if seen[v] {
			continue
		}
		seen[v] = true
		r, err := row(i, v)
		if err != nil {
			return nil, err
		}
		rows = append(rows, r)
	}
	return NewHierarchy(rows)
}
