package fhir

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	r4 "github.com/careledger/careledger/gateway/fhir"
)

// Page sizes of searches, $everything and listings.
const (
	defaultCount = 50
	maxCount     = 200
	maxCursor    = 1024
	// maxValues bounds the comma-separated alternatives of one parameter and the repeats of
	// all parameters, so one query cannot ask for unbounded matching work.
	maxValues = 50
)

// query is a parsed search.
type query struct {
	patient string   // a pseudonym, or "" when not given
	ids     []string // Patient?_id
	tokens  []tokenFilter
	dates   []dateFilter
	count   int
	cursor  cursor
	// params are the parameters as given, for the self and next links.
	params url.Values
}

// token is one token search value: system|code, code, |code (no system) or system|.
type token struct {
	system    string
	hasSystem bool
	code      string
}

// tokenFilter matches when any of its values matches (parameters repeated are ANDed).
type tokenFilter struct {
	param *searchParam
	any   []token
}

// dateCond is one date value with its prefix, as the half-open range it names.
type dateCond struct {
	prefix string
	lo, hi time.Time
}

type dateFilter struct {
	param *searchParam
	any   []dateCond
}

// cursor is where the next page starts: the ledger category (by index in the searched
// list), the ledger bookmark of the page holding the next record, and how many records of
// that page were already consumed. It is opaque to clients; tampering with it can only move
// within what the ledger releases to the caller anyway.
type cursor struct {
	Cat      int    `json:"c,omitempty"`
	Bookmark string `json:"b,omitempty"`
	Skip     int    `json:"s,omitempty"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if len(s) > maxCursor || err != nil || json.Unmarshal(raw, &c) != nil || c.Cat < 0 || c.Cat > 64 || c.Skip < 0 || c.Skip > 1000 ||
		strings.ContainsFunc(c.Bookmark, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return cursor{}, badRequest("_cursor", "_cursor is not one this server sent")
	}
	return c, nil
}

var datePrefixes = []string{"eq", "ne", "lt", "le", "gt", "ge", "sa", "eb", "ap"}

// parseSearch reads the query of a search on t. Unknown parameters, modifiers and malformed
// values are refused (400, naming the parameter) rather than ignored: a filter silently
// dropped would return records the client did not ask for.
func parseSearch(t *resourceType, v url.Values) (*query, error) {
	q := &query{count: defaultCount, params: url.Values{}}
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names) // errors do not depend on map order
	repeats := 0
	for _, name := range names {
		vals := v[name]
		repeats += len(vals)
		if repeats > maxValues {
			return nil, badRequest(name, "too many parameters")
		}
		if generalParams[name] {
			continue
		}
		base, modifier, hasModifier := strings.Cut(name, ":")
		if hasModifier {
			return nil, badRequest(name, "the modifier :%s is not supported", modifier)
		}
		switch base {
		case "_count":
			if len(vals) > 1 {
				return nil, badRequest(name, "_count is repeated")
			}
			n, err := strconv.Atoi(vals[0])
			if err != nil || n < 1 || n > maxCount {
				return nil, badRequest(name, "_count must be a whole number from 1 to %d", maxCount)
			}
			q.count = n
			q.params[name] = vals
			continue
		case "_cursor":
			if len(vals) > 1 {
				return nil, badRequest(name, "_cursor is repeated")
			}
			c, err := decodeCursor(vals[0])
			if err != nil {
				return nil, err
			}
			q.cursor = c
			continue
		}
		p, ok := t.param(base)
		if !ok {
			return nil, badRequest(name, "%s is not a search parameter of %s here; GET /fhir/metadata lists those that are", strconv.Quote(name), t.name)
		}
		q.params[name] = vals
		for _, val := range vals {
			if err := q.add(p, val); err != nil {
				return nil, err
			}
		}
	}
	return q, nil
}

// add reads one value of parameter p.
func (q *query) add(p *searchParam, val string) error {
	alts := strings.Split(val, ",")
	if len(alts) > maxValues {
		return badRequest(p.name, "%s has more than %d values", p.name, maxValues)
	}
	switch {
	case p.kind == kindReference:
		if len(alts) > 1 {
			return badRequest(p.name, "%s takes one patient", p.name)
		}
		id := patientID(val)
		if !model.ValidPseudonym(id) {
			return badRequest(p.name, "%s must be Patient/{pseudonym} (32 lowercase hex digits)", p.name)
		}
		if q.patient != "" && q.patient != id {
			return badRequest(p.name, "%s names two patients", p.name)
		}
		q.patient = id
	case p.name == "_id":
		for _, a := range alts {
			if !model.ValidPseudonym(a) {
				return badRequest(p.name, "_id must be a patient's pseudonym (32 lowercase hex digits)")
			}
			q.ids = append(q.ids, a)
		}
	case p.kind == kindToken:
		f := tokenFilter{param: p}
		for _, a := range alts {
			tok, err := parseToken(p.name, a)
			if err != nil {
				return err
			}
			f.any = append(f.any, tok)
		}
		q.tokens = append(q.tokens, f)
	case p.kind == kindDate:
		f := dateFilter{param: p}
		for _, a := range alts {
			c, err := parseDate(p.name, a)
			if err != nil {
				return err
			}
			f.any = append(f.any, c)
		}
		q.dates = append(q.dates, f)
	}
	return nil
}

// patientID reads Patient/{id}, a full URL ending in it, or a bare id.
func patientID(ref string) string {
	if i := strings.LastIndex(ref, "Patient/"); i >= 0 {
		return ref[i+len("Patient/"):]
	}
	return ref
}

func parseToken(name, s string) (token, error) {
	if s == "" || len(s) > 256 {
		return token{}, badRequest(name, "%s needs a value: system|code or code", name)
	}
	system, code, has := strings.Cut(s, "|")
	if !has {
		return token{code: s}, nil
	}
	if code == "" && system == "" {
		return token{}, badRequest(name, "%s needs a system or a code", name)
	}
	return token{system: system, hasSystem: true, code: code}, nil
}

func parseDate(name, s string) (dateCond, error) {
	prefix := "eq"
	if len(s) >= 2 && slices.Contains(datePrefixes, s[:2]) {
		prefix, s = s[:2], s[2:]
	}
	d, err := r4.ParseDate(s)
	if err != nil {
		return dateCond{}, badRequest(name, "%s must be a FHIR date or dateTime (2024, 2024-11, 2024-11-04, 2024-11-04T07:45:00+01:00) after an optional prefix eq, ne, lt, le, gt, ge, sa, eb or ap", name)
	}
	lo, hi := span(d)
	return dateCond{prefix: prefix, lo: lo, hi: hi}, nil
}

// span is the half-open range of time a date names at its precision.
func span(d r4.Date) (time.Time, time.Time) {
	switch d.Precision {
	case r4.PrecisionYear:
		return d.Time, d.Time.AddDate(1, 0, 0)
	case r4.PrecisionMonth:
		return d.Time, d.Time.AddDate(0, 1, 0)
	case r4.PrecisionDay:
		return d.Time, d.Time.AddDate(0, 0, 1)
	}
	return d.Time, d.Time.Add(time.Second)
}
