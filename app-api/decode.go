package api

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/go-chi/chi/v5"
)

// decodeJSON reads one JSON object from the request body into v: application/json, at most
// maxJSONBody bytes, no unknown fields, nothing after it. Errors name the field at fault.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) error {
	if mt, err := mediaType(r); err != nil {
		return err
	} else if mt != "application/json" {
		return &requestError{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the request body must be application/json"}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var maxBytes *http.MaxBytesError
		if errors.As(err, &maxBytes) {
			return err
		}
		return invalid("the request body must hold exactly one JSON object")
	}
	return nil
}

// jsonError turns a decoding failure into a message naming the field.
func jsonError(err error) error {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		maxBytes *http.MaxBytesError
		reqErr   *requestError
	)
	switch {
	case errors.As(err, &maxBytes), errors.As(err, &reqErr):
		return err
	case errors.As(err, &syntax):
		return invalid("malformed JSON at byte %d", syntax.Offset)
	case errors.Is(err, io.EOF):
		return invalid("the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("malformed JSON: unexpected end of the body")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return invalid("field %s must be %s", typ.Field, jsonKind(typ.Type.Kind().String()))
		}
		return invalid("the request body must be a JSON object")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	// time.Time reports its own parse errors, without the field name.
	var terr *time.ParseError
	if errors.As(err, &terr) {
		return invalid("time %q is not in RFC 3339 form, e.g. 2030-01-31T00:00:00Z", terr.Value)
	}
	return invalid("invalid JSON: %v", err)
}

func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	case "bool":
		return "a boolean"
	case "int", "int64", "int32", "uint", "uint64", "float64":
		return "a number"
	case "ptr":
		return "a value of another type"
	}
	return "of another type"
}

// mediaType returns the request's media type without parameters, lower case.
func mediaType(r *http.Request) (string, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", &requestError{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the Content-Type header is missing"}
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", &requestError{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the Content-Type header is malformed"}
	}
	return strings.ToLower(mt), nil
}

// params reads query parameters, refusing any it does not know and repeated ones, so that a
// misspelt filter is an error rather than silently ignored.
type params struct {
	q   url.Values
	err error
}

func queryParams(r *http.Request, allowed ...string) *params {
	p := &params{q: r.URL.Query()}
	for name, vals := range p.q {
		switch {
		case !slices.Contains(allowed, name):
			p.err = invalid("unknown query parameter %q", name)
		case len(vals) > 1:
			p.err = invalid("query parameter %s is repeated", name)
		}
		if p.err != nil {
			break
		}
	}
	return p
}

func (p *params) fail(err error) {
	if p.err == nil {
		p.err = err
	}
}

func (p *params) str(name string) string { return p.q.Get(name) }

// oneOf reads an optional parameter from a vocabulary.
func (p *params) oneOf(name string, vocab []string) string {
	v := p.q.Get(name)
	if v != "" && !slices.Contains(vocab, v) {
		p.fail(invalid("query parameter %s must be one of %s", name, strings.Join(vocab, ", ")))
	}
	return v
}

func (p *params) pseudonym(name string) string {
	v := p.q.Get(name)
	if v != "" && !model.ValidPseudonym(v) {
		p.fail(invalid("query parameter %s must be a pseudonym (32 lowercase hex digits)", name))
	}
	return v
}

func (p *params) boolean(name string, def bool) bool {
	v := p.q.Get(name)
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		p.fail(invalid("query parameter %s must be true or false", name))
	}
	return b
}

func (p *params) integer(name string, lo, hi int) int {
	v := p.q.Get(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(invalid("query parameter %s must be a whole number from %d to %d", name, lo, hi))
	}
	return n
}

// maxBookmark bounds the opaque bookmark a client sends back.
const maxBookmark = 1024

func (p *params) page() ledger.Page {
	pg := ledger.Page{Size: p.integer("pageSize", 1, 200), Bookmark: p.q.Get("bookmark")}
	if len(pg.Bookmark) > maxBookmark || strings.ContainsFunc(pg.Bookmark, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		p.fail(invalid("query parameter bookmark is not one this API returned"))
	}
	return pg
}

// pathID reads a path parameter that must be a ledger ID (records, grants, cohorts).
func pathID(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if !model.ValidID(v) {
		return "", invalid("path parameter %s must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return v, nil
}

// pathPseudonym reads a path parameter that must be a pseudonym.
func pathPseudonym(r *http.Request, name string) (string, error) {
	v := chi.URLParam(r, name)
	if !model.ValidPseudonym(v) {
		return "", invalid("path parameter %s must be a pseudonym (32 lowercase hex digits)", name)
	}
	return v, nil
}

// checkField is a helper for request validation messages.
func checkField(ok bool, field, rule string) error {
	if ok {
		return nil
	}
	return invalid("field %s %s", field, rule)
}
