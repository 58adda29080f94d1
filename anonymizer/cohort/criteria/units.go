package criteria

import (
	"math"
	"regexp"
	"strconv"
	"strings"
)

// Units are converted only when the conversion cannot be wrong: the two UCUM codes name the
// same atoms and differ only in metric prefixes and powers of ten (mg/dL and g/L, umol/L and
// mmol/L, 10*9/L and 10*3/uL). Everything else is incomparable, including units of the same
// dimension whose quantities differ in meaning (HbA1c in mmol/mol is not a rescaled %).

// unit is a parsed unit: a scale relative to its unprefixed atoms, and those atoms.
type unit struct {
	scale float64
	base  string
}

var prefixes = []struct {
	p string
	f float64
}{
	{"da", 1e1}, {"Y", 1e24}, {"Z", 1e21}, {"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9},
	{"M", 1e6}, {"k", 1e3}, {"h", 1e2}, {"d", 1e-1}, {"c", 1e-2}, {"m", 1e-3}, {"u", 1e-6},
	{"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15}, {"a", 1e-18},
}

// metricAtoms take prefixes; timeAtoms do not (and must match exactly).
var (
	metricAtoms = map[string]string{"g": "g", "mol": "mol", "L": "L", "l": "L", "m": "m", "U": "U", "[IU]": "[IU]", "eq": "eq", "kat": "kat", "Pa": "Pa", "s": "s"}
	timeAtoms   = map[string]bool{"min": true, "h": true, "d": true, "wk": true, "mo": true, "a": true}
	powerOfTen  = regexp.MustCompile(`^10[*^]([+-]?[0-9]{1,2})$`)
)

// parseUnit reads "%" or a unit of the form numerator[/denominator], each an optional power
// of ten ("10*9") joined by "." to an optional prefixed atom ("mg").
func parseUnit(s string) (unit, bool) {
	if s == "%" {
		return unit{scale: 1, base: "%"}, true
	}
	num, den, hasDen := strings.Cut(s, "/")
	if strings.Contains(den, "/") {
		return unit{}, false
	}
	n, ok := parseTerm(num)
	if !ok {
		return unit{}, false
	}
	if !hasDen {
		return n, true
	}
	d, ok := parseTerm(den)
	if !ok || d.base == "" {
		return unit{}, false
	}
	return unit{scale: n.scale / d.scale, base: n.base + "/" + d.base}, true
}

func parseTerm(t string) (unit, bool) {
	u := unit{scale: 1}
	if power, rest, _ := strings.Cut(t, "."); powerOfTen.MatchString(power) {
		e, _ := strconv.Atoi(powerOfTen.FindStringSubmatch(power)[1])
		u.scale, t = math.Pow(10, float64(e)), rest
		if t == "" {
			return u, true
		}
	} else if m := powerOfTen.FindStringSubmatch(t); m != nil {
		e, _ := strconv.Atoi(m[1])
		return unit{scale: math.Pow(10, float64(e))}, true
	}
	if base, ok := metricAtoms[t]; ok {
		u.base = base
		return u, true
	}
	if timeAtoms[t] {
		u.base = t
		return u, true
	}
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(t, p.p); ok {
			if base, ok := metricAtoms[rest]; ok {
				u.scale *= p.f
				u.base = base
				return u, true
			}
		}
	}
	return unit{}, false
}

// plausibleUnit accepts, in a criterion, a unit code that parseUnit does not convert
// (mmol/mol, mm[Hg], mL/min/{1.73_m2}): printable ASCII without spaces. Results in it match
// only results in exactly the same code.
func plausibleUnit(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// factor returns what a value in unit from is multiplied by to be in unit to, and false
// when the two are not trivially compatible.
func factor(from, to string) (float64, bool) {
	if from == to {
		return 1, true
	}
	f, ok1 := parseUnit(from)
	t, ok2 := parseUnit(to)
	if !ok1 || !ok2 || f.base != t.base {
		return 0, false
	}
	return f.scale / t.scale, true
}
