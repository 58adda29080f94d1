package fhir

import (
	"fmt"
	"regexp"
)

// Code systems of the German Medical Informatics Initiative (MII) core data set whose codes
// CareLedger checks for form. The bfarm URLs are current; the dimdi ones are what older
// German systems still send. Codes from any other system are kept as they are: a system we do
// not know is not a reason to refuse a patient's record.
const (
	SystemICD10GM = "http://fhir.de/CodeSystem/bfarm/icd-10-gm"
	SystemOPS     = "http://fhir.de/CodeSystem/bfarm/ops"
	SystemATC     = "http://fhir.de/CodeSystem/bfarm/atc"
	SystemLOINC   = "http://loinc.org"
	SystemUCUM    = "http://unitsofmeasure.org"
	SystemSNOMED  = "http://snomed.info/sct"
)

// codeCheck checks one code system's codes for form.
type codeCheck struct {
	name  string
	valid func(code string) bool
}

var (
	// ICD-10(-GM): a letter, two digits, and up to two digits after a dot (E11.9, E11.90,
	// U07.1); ICD-10-GM may add a secondary-code mark (†, *, !), as in U69.10!.
	icd10Pattern = regexp.MustCompile(`^[A-Z][0-9]{2}(\.[0-9]{1,2})?[†*!]?$`)
	// OPS: chapter digit, hyphen, three characters, then up to two after a dot (5-470.11,
	// 8-930, 1-20a.20); x and y stand for "other" and "not specified".
	opsPattern = regexp.MustCompile(`^[1-9]-[0-9]{2}[0-9a-z](\.[0-9a-z]{1,2})?$`)
	// ATC: any of the five levels (A, A10, A10B, A10BA, A10BA02).
	atcPattern = regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`)
	// LOINC: digits, hyphen, check digit (4548-4); LOINC answer and part codes (LA6576-8,
	// LP14082-9) share the system.
	loincPattern = regexp.MustCompile(`^(L[AP])?([0-9]{1,7})-([0-9])$`)
	// SNOMED CT identifiers: 6 to 18 digits ending in a Verhoeff check digit.
	snomedPattern = regexp.MustCompile(`^[1-9][0-9]{5,17}$`)
)

var codeChecks = map[string]codeCheck{
	SystemICD10GM: {"an ICD-10-GM code (like E11.9)", icd10Pattern.MatchString},
	"http://fhir.de/CodeSystem/dimdi/icd-10-gm": {"an ICD-10-GM code (like E11.9)", icd10Pattern.MatchString},
	"http://hl7.org/fhir/sid/icd-10":            {"an ICD-10 code (like E11.9)", icd10Pattern.MatchString},
	SystemOPS:                                   {"an OPS code (like 5-470.11)", opsPattern.MatchString},
	"http://fhir.de/CodeSystem/dimdi/ops":       {"an OPS code (like 5-470.11)", opsPattern.MatchString},
	SystemATC:                                   {"an ATC code (like A10BA02)", atcPattern.MatchString},
	"http://fhir.de/CodeSystem/dimdi/atc":       {"an ATC code (like A10BA02)", atcPattern.MatchString},
	"http://www.whocc.no/atc":                   {"an ATC code (like A10BA02)", atcPattern.MatchString},
	SystemLOINC:                                 {"a LOINC code with its check digit (like 4548-4)", validLOINC},
	SystemUCUM:                                  {"a UCUM unit (like mg/dL)", validUCUM},
	SystemSNOMED:                                {"a SNOMED CT identifier with its check digit", validSNOMED},
}

// checkCodes checks the form of every code of a known system anywhere in the tree: Codings
// ({system, code}) and Quantities ({value, system, code}) alike.
func checkCodes(root *node) error {
	var errs []*ValidationError
	walkObjects(root, func(n *node, path []segment) {
		c, ok := codeChecks[n.text("system")]
		if !ok {
			return
		}
		if code := n.get("code"); code != nil && code.kind == 's' && !c.valid(code.str) {
			p := append(path[:len(path):len(path)], segment{key: "code", value: code})
			errs = append(errs, invalid(elementPath(root, p), fmt.Sprintf("%q is not %s", shorten(code.str), c.name)))
		}
	})
	if len(errs) == 0 {
		return nil
	}
	return joinIssues(errs)
}

// validLOINC checks a LOINC code's form and, for test codes, its mod-10 check digit.
func validLOINC(code string) bool {
	m := loincPattern.FindStringSubmatch(code)
	if m == nil {
		return false
	}
	if m[1] != "" {
		return true // answer and part codes: form only
	}
	return luhnCheckDigit(m[2]) == int(m[3][0]-'0')
}

// luhnCheckDigit computes LOINC's check digit: from the right, every other digit starting
// with the last is doubled, the digits of all are summed, and the check digit brings the sum
// to a multiple of ten.
func luhnCheckDigit(digits string) int {
	sum := 0
	double := true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return (10 - sum%10) % 10
}

// Verhoeff tables for SNOMED CT's check digit.
var (
	verhoeffD = [10][10]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]int{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// validSNOMED checks an SCTID's form and Verhoeff check digit. Post-coordinated expressions
// (which contain ':' or '+') are kept unchecked.
func validSNOMED(code string) bool {
	if !snomedPattern.MatchString(code) {
		for _, r := range code {
			if r == ':' || r == '+' || r == '|' {
				return true
			}
		}
		return false
	}
	c := 0
	for i := range len(code) {
		d := int(code[len(code)-1-i] - '0')
		c = verhoeffD[c][verhoeffP[i%8][d]]
	}
	return c == 0
}
