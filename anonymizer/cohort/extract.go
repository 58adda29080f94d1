package cohort

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strings"

	"github.com/careledger/careledger/anonymizer/cohort/criteria"
)

// ErrBadExtract: an extract definition is malformed or means nothing. Errors wrapping it are
// *ExtractError and name the element.
var ErrBadExtract = errors.New("invalid extract definition")

// ExtractError says which element of an extract definition is wrong.
type ExtractError struct {
	// Path is the element, as "variables[2].lab.bands"; "" for the whole document.
	Path, Reason string
}

func (e *ExtractError) Error() string {
	if e.Path == "" {
		return "extract definition: " + e.Reason
	}
	return "extract definition: " + e.Path + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrBadExtract) hold.
func (e *ExtractError) Unwrap() error { return ErrBadExtract }

func badExtract(path, format string, args ...any) error {
	return &ExtractError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// Limits of an extract definition.
const (
	MaxExtractBytes = 64 << 10
	MaxVariables    = 40
	maxCodes        = 50
)

// Extract is a cohort extract definition (docs/cohort-extract.md): who is in the cohort (a
// clinical criteria definition; every consenting patient when absent) and which variables
// each row holds. Privacy parameters (k, l, t, suppression) are the publication's, not the
// definition's.
type Extract struct {
	// Version is 1.
	Version int `json:"version"`
	// Cohort selects the patients; nil means every consenting patient.
	Cohort    *criteria.Definition `json:"cohort,omitempty"`
	Variables []Variable           `json:"variables"`
}

// Roles a variable plays in the privacy model.
const (
	RoleQI          = "qi"
	RoleSensitive   = "sensitive"
	RoleInsensitive = "insensitive"
)

// Variable is one column of an extract: exactly one of its kinds is set.
type Variable struct {
	// Name is the column name: a lowercase letter, then up to 39 lowercase letters, digits
	// or '_'.
	Name string `json:"name"`
	// Role is "qi" (the default, except as said for lab and date), "sensitive" (l-diversity
	// and t-closeness protect it) or "insensitive" (released as it is).
	Role string `json:"role,omitempty"`

	Age        *AgeVariable  `json:"age,omitempty"`
	Sex        *struct{}     `json:"sex,omitempty"`
	PostalCode *struct{}     `json:"postalCode,omitempty"`
	Condition  *CodeVariable `json:"condition,omitempty"`
	Medication *CodeVariable `json:"medication,omitempty"`
	Lab        *LabVariable  `json:"lab,omitempty"`
	Date       *DateVariable `json:"date,omitempty"`
}

// AgeVariable is the age in whole years at the reference date, generalised in nested bands.
type AgeVariable struct {
	// Bands are the widths of the hierarchy's levels in years, each a multiple of the one
	// before; default 5, 10, 20.
	Bands []float64 `json:"bands,omitempty"`
}

// CodeVariable is a flag, "yes" or "no": whether the patient has a diagnosis (ICD-10-GM) or
// takes a drug (ATC) matching any of Codes. A diagnosis code is a prefix ("E11", "E11.9")
// or a range of three-character categories ("I20-I25", a group; "I00-I99", a chapter); a
// drug code is an ATC code at any level ("A10BA" is the biguanides).
type CodeVariable struct {
	Codes []string `json:"codes"`
}

// LabVariable is one lab value per patient: a LOINC test's result in a unit.
type LabVariable struct {
	LOINC string `json:"loinc"`
	// Unit is the UCUM unit values are released in; results in a unit that differs only by a
	// metric prefix are converted, others are left out.
	Unit string `json:"unit"`
	// Pick chooses the result: "last" (default), "first", "min" or "max".
	Pick string `json:"pick,omitempty"`
	// Bottom and Top code the tails: values at or below Bottom become "<=Bottom", values at
	// or above Top ">=Top".
	Bottom *float64 `json:"bottom,omitempty"`
	Top    *float64 `json:"top,omitempty"`
	// Decimals is the rounding of released values (0 to 4; default 1).
	Decimals *int `json:"decimals,omitempty"`
	// Bands are the widths of the generalisation hierarchy's levels, each a multiple of the
	// one before; when empty they are built from the data (about ten bands over the middle
	// 90 % of values, then twice and four times as wide).
	Bands []float64 `json:"bands,omitempty"`
	// Microaggregate, 2 or more, releases instead the mean of groups of that many patients
	// with neighbouring values (univariate microaggregation); such a variable is not a
	// quasi-identifier and its role defaults to "insensitive".
	Microaggregate int `json:"microaggregate,omitempty"`
}

// DateVariable is the date of the patient's first event of a kind (or of the cohort's index
// event), shifted per patient or generalised to the month.
type DateVariable struct {
	// Exactly one of Index, Condition (ICD-10-GM prefix), Medication (ATC prefix), Procedure
	// (OPS prefix) or LOINC names the event.
	Index      bool   `json:"index,omitempty"`
	Condition  string `json:"condition,omitempty"`
	Medication string `json:"medication,omitempty"`
	Procedure  string `json:"procedure,omitempty"`
	LOINC      string `json:"loinc,omitempty"`
	// Treatment is "month" (released as YYYY-MM, a quasi-identifier generalised to quarter
	// and year) or "shift" (the day, moved by a random offset per patient of up to ShiftDays
	// either way, the same for all of one patient's dates so intervals keep; the offsets live
	// only in memory for the run; role "insensitive" by default, and never "qi").
	Treatment string `json:"treatment"`
	// ShiftDays is the largest offset of "shift" (1 to 3650; default 182).
	ShiftDays int `json:"shiftDays,omitempty"`
}

var (
	variableName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	icdPrefix    = regexp.MustCompile(`^[A-Z]([0-9]{1,2}(\.[0-9A-Z]{0,4})?)?$`)
	icdRange     = regexp.MustCompile(`^([A-Z][0-9]{2})-([A-Z][0-9]{2})$`)
	atcPrefix    = regexp.MustCompile(`^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$`)
	opsPrefix    = regexp.MustCompile(`^[1-9](-[0-9]{1,3}(\.[0-9a-z]{0,3})?)?$`)
	loincCode    = regexp.MustCompile(`^[0-9]{1,7}-[0-9]$`)
	ucumUnit     = regexp.MustCompile(`^[!-~]{1,32}$`)
)

// ParseExtract reads an extract definition strictly (no unknown members, nothing after the
// document, at most MaxExtractBytes) and validates it. Errors wrap ErrBadExtract and name
// the element.
func ParseExtract(data []byte) (*Extract, error) {
	if len(data) > MaxExtractBytes {
		return nil, badExtract("", "larger than %d bytes", MaxExtractBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var x Extract
	if err := dec.Decode(&x); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, badExtract(typeErr.Field, "has the wrong type")
		}
		return nil, badExtract("", "not a JSON extract definition: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badExtract("", "data after the JSON document")
	}
	if err := x.Validate(); err != nil {
		return nil, err
	}
	return &x, nil
}

// Validate checks that the definition means something: version 1, a valid cohort, 1 to
// MaxVariables variables with distinct names, each of exactly one kind with well-formed
// codes, units and parameters, and at least one quasi-identifier.
func (x *Extract) Validate() error {
	if x.Version != 1 {
		return badExtract("version", "must be 1")
	}
	if x.Cohort != nil {
		if err := x.Cohort.Validate(); err != nil {
			return badExtract("cohort", "%v", err)
		}
	}
	if len(x.Variables) == 0 || len(x.Variables) > MaxVariables {
		return badExtract("variables", "must list 1 to %d variables", MaxVariables)
	}
	seen := map[string]bool{}
	qis := 0
	for i := range x.Variables {
		v := &x.Variables[i]
		path := fmt.Sprintf("variables[%d]", i)
		if !variableName.MatchString(v.Name) {
			return badExtract(path+".name", "must be a lowercase letter, then up to 39 lowercase letters, digits or '_'")
		}
		if seen[v.Name] {
			return badExtract(path+".name", "%q is named twice", v.Name)
		}
		seen[v.Name] = true
		if err := v.validate(path, x.Cohort != nil && x.Cohort.Index != nil); err != nil {
			return err
		}
		if v.role() == RoleQI {
			qis++
		}
	}
	if qis == 0 {
		return badExtract("variables", "no quasi-identifier: the privacy model needs at least one")
	}
	return nil
}

func (v *Variable) kinds() int {
	n := 0
	for _, set := range []bool{v.Age != nil, v.Sex != nil, v.PostalCode != nil, v.Condition != nil, v.Medication != nil, v.Lab != nil, v.Date != nil} {
		if set {
			n++
		}
	}
	return n
}

// role is the variable's role, with the defaults filled in.
func (v *Variable) role() string {
	switch {
	case v.Role != "":
		return v.Role
	case v.Lab != nil && v.Lab.Microaggregate > 0, v.Date != nil && v.Date.Treatment == "shift":
		return RoleInsensitive
	}
	return RoleQI
}

func (v *Variable) validate(path string, hasIndex bool) error {
	if v.kinds() != 1 {
		return badExtract(path, "must have exactly one of age, sex, postalCode, condition, medication, lab, date")
	}
	switch v.Role {
	case "", RoleQI, RoleSensitive, RoleInsensitive:
	default:
		return badExtract(path+".role", "must be qi, sensitive or insensitive")
	}
	switch {
	case v.Age != nil:
		return checkBands(path+".age.bands", v.Age.Bands)
	case v.Condition != nil:
		return checkCodes(path+".condition.codes", v.Condition.Codes, func(c string) bool {
			if m := icdRange.FindStringSubmatch(c); m != nil {
				return m[1] <= m[2]
			}
			return icdPrefix.MatchString(c)
		})
	case v.Medication != nil:
		return checkCodes(path+".medication.codes", v.Medication.Codes, atcPrefix.MatchString)
	case v.Lab != nil:
		return v.Lab.validate(path+".lab", v.Role)
	case v.Date != nil:
		return v.Date.validate(path+".date", v.Role, hasIndex)
	}
	return nil
}

func checkCodes(path string, codes []string, ok func(string) bool) error {
	if len(codes) == 0 || len(codes) > maxCodes {
		return badExtract(path, "must list 1 to %d codes", maxCodes)
	}
	for i, c := range codes {
		if !ok(c) {
			return badExtract(fmt.Sprintf("%s[%d]", path, i), "%q is not a code or prefix of the system", shortText(c))
		}
	}
	return nil
}

func checkBands(path string, bands []float64) error {
	if len(bands) > 5 {
		return badExtract(path, "at most 5 levels")
	}
	for i, w := range bands {
		if !(w > 0) || math.IsInf(w, 0) || w > 1e9 {
			return badExtract(fmt.Sprintf("%s[%d]", path, i), "must be a positive width")
		}
		if i > 0 {
			r := w / bands[i-1]
			if r < 1 || math.Abs(r-math.Round(r)) > 1e-9 {
				return badExtract(fmt.Sprintf("%s[%d]", path, i), "must be a multiple of the width before it")
			}
		}
	}
	return nil
}

func (l *LabVariable) validate(path, role string) error {
	switch {
	case !loincCode.MatchString(l.LOINC):
		return badExtract(path+".loinc", "%q is not a LOINC code", shortText(l.LOINC))
	case !ucumUnit.MatchString(l.Unit):
		return badExtract(path+".unit", "must be a UCUM unit")
	case l.Pick != "" && l.Pick != "last" && l.Pick != "first" && l.Pick != "min" && l.Pick != "max":
		return badExtract(path+".pick", "must be last, first, min or max")
	case l.Bottom != nil && !finite(*l.Bottom), l.Top != nil && !finite(*l.Top):
		return badExtract(path, "bottom and top must be finite numbers")
	case l.Bottom != nil && l.Top != nil && *l.Bottom >= *l.Top:
		return badExtract(path+".bottom", "must be below top")
	case l.Decimals != nil && (*l.Decimals < 0 || *l.Decimals > 4):
		return badExtract(path+".decimals", "must be from 0 to 4")
	case l.Microaggregate != 0 && (l.Microaggregate < 2 || l.Microaggregate > 1000):
		return badExtract(path+".microaggregate", "must be 0 or from 2 to 1000")
	case l.Microaggregate != 0 && len(l.Bands) > 0:
		return badExtract(path, "bands and microaggregate exclude each other")
	case l.Microaggregate != 0 && role == RoleQI:
		return badExtract(path+".microaggregate", "a microaggregated value is not a quasi-identifier: role must be sensitive or insensitive")
	}
	return checkBands(path+".bands", l.Bands)
}

func (d *DateVariable) validate(path, role string, hasIndex bool) error {
	events := 0
	for _, set := range []bool{d.Index, d.Condition != "", d.Medication != "", d.Procedure != "", d.LOINC != ""} {
		if set {
			events++
		}
	}
	switch {
	case events != 1:
		return badExtract(path, "must name exactly one of index, condition, medication, procedure, loinc")
	case d.Index && !hasIndex:
		return badExtract(path+".index", "the cohort has no index event")
	case d.Condition != "" && !icdPrefix.MatchString(d.Condition):
		return badExtract(path+".condition", "%q is not an ICD-10-GM code or prefix", shortText(d.Condition))
	case d.Medication != "" && !atcPrefix.MatchString(d.Medication):
		return badExtract(path+".medication", "%q is not an ATC code", shortText(d.Medication))
	case d.Procedure != "" && !opsPrefix.MatchString(d.Procedure):
		return badExtract(path+".procedure", "%q is not an OPS code or prefix", shortText(d.Procedure))
	case d.LOINC != "" && !loincCode.MatchString(d.LOINC):
		return badExtract(path+".loinc", "%q is not a LOINC code", shortText(d.LOINC))
	case d.Treatment != "month" && d.Treatment != "shift":
		return badExtract(path+".treatment", "must be month or shift")
	case d.Treatment == "shift" && role == RoleQI:
		return badExtract(path+".role", "a shifted date is not a quasi-identifier (its day is noise): role must be sensitive or insensitive")
	case d.Treatment != "shift" && d.ShiftDays != 0:
		return badExtract(path+".shiftDays", "belongs to treatment shift only")
	case d.ShiftDays < 0 || d.ShiftDays > 3650:
		return badExtract(path+".shiftDays", "must be from 1 to 3650")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

func shortText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Hash names the definition exactly (its canonical JSON, as the ledger records it): the same
// extract asked twice, however it was spaced, has the same hash.
func (x *Extract) Hash() string {
	b, err := json.Marshal(x)
	if err != nil {
		panic(fmt.Sprintf("marshal extract definition: %v", err)) // plain types always marshal
	}
	sum := sha256.Sum256(append([]byte("careledger/cohort-extract/v1\n"), b...))
	return hex.EncodeToString(sum[:])
}

// Sensitive lists the names of the sensitive variables, which l-diversity and t-closeness
// protect.
func (x *Extract) Sensitive() []string { return x.names(RoleSensitive) }

// names lists the variables' names with the given role, in order.
func (x *Extract) names(role string) []string {
	var out []string
	for i := range x.Variables {
		if x.Variables[i].role() == role {
			out = append(out, x.Variables[i].Name)
		}
	}
	return out
}

// codeMatches reports whether code matches pattern p: a prefix, or for ICD-10 a range of
// three-character categories.
func codeMatches(code, p string) bool {
	if m := icdRange.FindStringSubmatch(p); m != nil {
		if len(code) < 3 {
			return false
		}
		cat := code[:3]
		return cat >= m[1] && cat <= m[2]
	}
	return strings.HasPrefix(code, p)
}
