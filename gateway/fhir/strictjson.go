package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds JSON nesting. Real resources stay well under 30 levels (a Bundle entry's
// Questionnaire answers are among the deepest); the bound keeps hostile input from costing
// stack and time in the library below.
const maxDepth = 64

// node is one JSON value as parsed by readJSON: exactly one of its fields is set by kind.
// Objects keep their members in document order so element paths and checks are
// deterministic.
type node struct {
	kind    byte // 'o' object, 'a' array, 's' string, 'n' number, 'b' bool, 'z' null
	keys    []string
	members []*node
	items   []*node
	str     string // string value, or a number's literal
}

// get returns an object's member by name, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != 'o' {
		return nil
	}
	for i, k := range n.keys {
		if k == key {
			return n.members[i]
		}
	}
	return nil
}

// text returns a string member's value, or "".
func (n *node) text(key string) string {
	if m := n.get(key); m != nil && m.kind == 's' {
		return m.str
	}
	return ""
}

// segment is one step of an element path: a member name, or an array index when key is "".
type segment struct {
	key   string
	index int
	// value is the value the step leads to; a resource inside a resource (a Bundle entry, a
	// contained resource) adds its type to the path, as FHIR tools write it.
	value *node
}

// elementPath renders segments under the root resource as FHIR writes element paths:
// Bundle.entry[3].resource.Observation.status.
func elementPath(root *node, segs []segment) string {
	var b strings.Builder
	b.WriteString(root.text("resourceType"))
	for _, s := range segs {
		if s.key != "" {
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		} else {
			fmt.Fprintf(&b, "[%d]", s.index)
		}
		if rt := s.value.text("resourceType"); rt != "" && s.value != root {
			b.WriteByte('.')
			b.WriteString(rt)
		}
	}
	return b.String()
}

// reader parses JSON more strictly than encoding/json: FHIR forbids what encoding/json lets
// through silently (a repeated member name, where the last one wins; invalid UTF-8, which it
// replaces; numbers beyond float64, which FHIR decimals cannot be compared or stored as).
type reader struct {
	dec     *json.Decoder
	badUTF8 int64 // offset of the first invalid UTF-8 byte, or -1
	path    []segment
	// problems found where the JSON is still well formed; paths are rendered once the whole
	// tree, with every resourceType, has been read.
	problems []problem
}

type problem struct {
	path    []segment
	message string
}

// readJSON parses one JSON value, and nothing after it, into a tree. Malformed JSON returns
// no tree; JSON that is well formed but that FHIR forbids returns the tree and the problems.
func readJSON(data []byte) (*node, error) {
	r := &reader{dec: json.NewDecoder(bytes.NewReader(data)), badUTF8: -1}
	r.dec.UseNumber()
	if !utf8.Valid(data) {
		r.badUTF8 = int64(firstInvalidUTF8(data))
	}
	root := &node{}
	if err := r.fill(root, 0); err != nil {
		return nil, err
	}
	if _, err := r.dec.Token(); err != io.EOF {
		return nil, invalid("", "data after the FHIR resource")
	}
	if len(r.problems) > 0 {
		errs := make([]error, 0, len(r.problems))
		for _, p := range r.problems {
			errs = append(errs, invalid(elementPath(root, p.path), p.message))
		}
		return root, errors.Join(errs...)
	}
	return root, nil
}

func firstInvalidUTF8(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return -1
}

// token reads the next token.
func (r *reader) token() (json.Token, error) {
	tok, err := r.dec.Token()
	if err != nil {
		return nil, syntaxError(err)
	}
	return tok, nil
}

// checkUTF8 notes a problem at the current path if the token just read held the first
// invalid UTF-8 byte.
func (r *reader) checkUTF8() {
	if r.badUTF8 >= 0 && r.badUTF8 < r.dec.InputOffset() {
		r.badUTF8 = -1
		r.problem("is not valid UTF-8")
	}
}

func (r *reader) problem(message string) {
	r.problems = append(r.problems, problem{path: append([]segment(nil), r.path...), message: message})
}

func syntaxError(err error) error {
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return invalid("", fmt.Sprintf("malformed JSON at byte %d", syntax.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return invalid("", "malformed JSON: unexpected end")
	default:
		return invalid("", "malformed JSON")
	}
}

// fill reads the next value into n. Nodes are created before they are read so that a path
// into an object can already name it while its resourceType is still to come.
func (r *reader) fill(n *node, depth int) error {
	if depth > maxDepth {
		return invalid("", fmt.Sprintf("JSON nested deeper than %d levels", maxDepth))
	}
	tok, err := r.token()
	if err != nil {
		return err
	}
	r.checkUTF8()
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return r.object(n, depth)
		case '[':
			return r.array(n, depth)
		}
		return invalid("", "malformed JSON")
	case string:
		n.kind, n.str = 's', t
		if strings.TrimSpace(t) == "" {
			// FHIR: a primitive has a value or is left out; "" and "  " are neither.
			r.problem("is an empty string: leave the element out instead")
		}
	case json.Number:
		n.kind, n.str = 'n', string(t)
		if _, err := strconv.ParseFloat(string(t), 64); err != nil {
			r.problem(fmt.Sprintf("%s is not a finite number", shorten(string(t))))
		}
	case bool:
		n.kind, n.str = 'b', strconv.FormatBool(t)
	default:
		n.kind = 'z'
	}
	return nil
}

func (r *reader) object(n *node, depth int) error {
	n.kind = 'o'
	seen := make(map[string]bool)
	for r.dec.More() {
		tok, err := r.token()
		if err != nil {
			return err
		}
		key, ok := tok.(string)
		if !ok {
			return invalid("", "malformed JSON")
		}
		v := &node{}
		r.path = append(r.path, segment{key: key, value: v})
		r.checkUTF8()
		if seen[key] {
			r.problem("appears twice in one object")
		}
		seen[key] = true
		if err := r.fill(v, depth+1); err != nil {
			return err
		}
		r.path = r.path[:len(r.path)-1]
		n.keys = append(n.keys, key)
		n.members = append(n.members, v)
	}
	if len(n.keys) == 0 {
		r.problem("is an empty object: leave the element out instead")
	}
	_, err := r.token()
	return err
}

func (r *reader) array(n *node, depth int) error {
	n.kind = 'a'
	for i := 0; r.dec.More(); i++ {
		v := &node{}
		r.path = append(r.path, segment{index: i, value: v})
		if err := r.fill(v, depth+1); err != nil {
			return err
		}
		r.path = r.path[:len(r.path)-1]
		n.items = append(n.items, v)
	}
	if len(n.items) == 0 {
		r.problem("is an empty array: leave the element out instead")
	}
	_, err := r.token()
	return err
}

// walkObjects calls visit for every object in the tree, parents first, with the path to it.
func walkObjects(root *node, visit func(n *node, path []segment)) {
	var walk func(n *node, path []segment)
	walk = func(n *node, path []segment) {
		switch n.kind {
		case 'o':
			visit(n, path)
			for i, k := range n.keys {
				walk(n.members[i], append(path, segment{key: k, value: n.members[i]}))
			}
		case 'a':
			for i, item := range n.items {
				walk(item, append(path, segment{index: i, value: item}))
			}
		}
	}
	walk(root, nil)
}

// appendJSON writes the tree back as compact JSON.
func (n *node) appendJSON(b []byte) []byte {
	switch n.kind {
	case 'o':
		b = append(b, '{')
		for i, k := range n.keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = n.members[i].appendJSON(b)
		}
		return append(b, '}')
	case 'a':
		b = append(b, '[')
		for i, item := range n.items {
			if i > 0 {
				b = append(b, ',')
			}
			b = item.appendJSON(b)
		}
		return append(b, ']')
	case 's':
		return appendString(b, n.str)
	case 'n', 'b':
		return append(b, n.str...)
	default:
		return append(b, "null"...)
	}
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// shorten keeps quoted values in messages to a readable length.
func shorten(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
