package fhir

import "strings"

// UCUM units are checked for plausible form, not against the whole UCUM table: the syntax
// (terms joined by '.' and '/', exponents, parentheses, {annotations}, [special] units) and
// unbracketed atoms from the metric and customary units labs, vital signs and medication
// doses use, with the SI prefixes on metric ones. That catches "mg/dl " and "mmol per L" and
// lets "10*9/L", "mL/min/{1.73_m2}", "mm[Hg]" and "[IU]/L" through.

var ucumPrefixes = []string{
	"da", "Ki", "Mi", "Gi", "Ti", // the two-letter prefixes first
	"Y", "Z", "E", "P", "T", "G", "M", "k", "h", "d", "c", "m", "u", "n", "p", "f", "a", "z", "y",
}

// ucumMetric are atoms that take a prefix.
var ucumMetric = setOf(
	"m", "s", "g", "rad", "K", "C", "cd", "mol", "sr", "Hz", "N", "Pa", "J", "W", "A", "V", "F",
	"Ohm", "S", "Wb", "Cel", "T", "H", "lm", "lx", "Bq", "Gy", "Sv", "l", "L", "ar", "t", "bar",
	"u", "eV", "pc", "gf", "Ky", "Gal", "dyn", "erg", "P", "Bi", "St", "Mx", "G", "Oe", "Gb",
	"sb", "Lmb", "ph", "Ci", "R", "RAD", "REM", "cal", "eq", "osm", "kat", "U", "B", "Np", "bit",
	"By", "Bd", "mho", "st", "b", "att", "g%", "B[SPL]", "B[V]", "B[mV]", "B[uV]", "B[W]", "B[kW]",
)

// ucumPlain are atoms without prefixes.
var ucumPlain = setOf(
	"10*", "10^", "%", "gon", "deg", "'", "''", "min", "h", "d", "a", "wk", "mo", "a_j", "a_t",
	"a_g", "mo_j", "mo_g", "mo_s", "AU", "atm", "sph", "circ", "Ao", "dB",
)

func setOf(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// validUCUM reports whether s parses as a UCUM unit expression of plausible atoms.
func validUCUM(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	p := ucumParser{s: s}
	return p.term(0) && p.pos == len(s)
}

type ucumParser struct {
	s   string
	pos int
}

func (p *ucumParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// term := ['/'] component (('.' | '/') component)*
func (p *ucumParser) term(depth int) bool {
	if depth > 8 {
		return false
	}
	if p.peek() == '/' {
		p.pos++
	}
	for {
		if !p.component(depth) {
			return false
		}
		if c := p.peek(); c == '.' || c == '/' {
			p.pos++
			continue
		}
		return true
	}
}

// component := '(' term ')' | annotation | factor | simple-unit [exponent] [annotation]
func (p *ucumParser) component(depth int) bool {
	switch p.peek() {
	case '(':
		p.pos++
		if !p.term(depth+1) || p.peek() != ')' {
			return false
		}
		p.pos++
		return true
	case '{':
		return p.annotation()
	}
	start := p.pos
	brackets := 0
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if brackets == 0 && (c == '.' || c == '/' || c == '(' || c == ')' || c == '{') {
			break
		}
		switch {
		case c == '[':
			brackets++
		case c == ']':
			brackets--
			if brackets < 0 {
				return false
			}
		case c <= ' ' || c > '~':
			return false
		}
		p.pos++
	}
	if brackets != 0 || !validUCUMSimple(p.s[start:p.pos]) {
		return false
	}
	if p.peek() == '{' {
		return p.annotation()
	}
	return true
}

// annotation := '{' printable ASCII but braces '}'
func (p *ucumParser) annotation() bool {
	end := strings.IndexByte(p.s[p.pos:], '}')
	if end < 0 {
		return false
	}
	for _, c := range []byte(p.s[p.pos+1 : p.pos+end]) {
		if c < '!' || c > '~' || c == '{' {
			return false
		}
	}
	p.pos += end + 1
	return true
}

// validUCUMSimple checks a factor (digits) or an atom with optional prefix and exponent.
func validUCUMSimple(u string) bool {
	if u == "" {
		return false
	}
	if strings.Trim(u, "0123456789") == "" {
		return true
	}
	if validUCUMAtom(u) {
		return true
	}
	// A trailing exponent: digits, optionally signed, after the atom (m2, s-1, 10*9).
	end := len(u)
	for end > 0 && u[end-1] >= '0' && u[end-1] <= '9' {
		end--
	}
	if end == len(u) {
		return false
	}
	if end > 0 && (u[end-1] == '+' || u[end-1] == '-') {
		end--
	}
	return end > 0 && validUCUMAtom(u[:end])
}

func validUCUMAtom(a string) bool {
	if ucumPlain[a] || ucumMetric[a] {
		return true
	}
	if i := strings.IndexByte(a, '['); i >= 0 {
		// Special units in brackets ([IU], [lb_av], [pH]), alone or with a prefix, and the
		// metric pressure units m[Hg] and m[H2O] with a prefix (mm[Hg], cm[H2O]).
		if !strings.HasSuffix(a, "]") || strings.ContainsAny(a[i+1:len(a)-1], "[]") || i+1 == len(a)-1 {
			return false
		}
		head := a[:i]
		if head == "" || head == "m" || head == "B" {
			return true
		}
		for _, pre := range ucumPrefixes {
			if rest, ok := strings.CutPrefix(head, pre); ok && (rest == "" || rest == "m" || rest == "B") {
				return true
			}
		}
		return false
	}
	for _, pre := range ucumPrefixes {
		if rest, ok := strings.CutPrefix(a, pre); ok && ucumMetric[rest] {
			return true
		}
	}
	return false
}
