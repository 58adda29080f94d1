package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careledger/careledger/chaincode/model"
)

const (
	maxArgBytes  = model.MaxArgumentBytes
	maxListItems = 100
)

// Every time in an argument must lie in [minTime, maxTime): a validity window that starts before
// 1970 or ends in the year 3000 is a client bug or a probe, never a patient's intent.
var (
	minTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// decode parses one JSON argument strictly: size-limited, no unknown fields, no key repeated in
// an object, nothing after the document, every time in a sane range. The error names the
// argument and, where JSON says so, the field.
func decode(name, arg string, v any) error {
	if len(arg) > maxArgBytes {
		return model.Errorf(model.CodeInvalidArgument, "%s is larger than %d bytes", name, maxArgBytes)
	}
	if arg == "" {
		return model.Errorf(model.CodeInvalidArgument, "%s is missing", name)
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(arg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var typeErr *json.UnmarshalTypeError
		var timeErr *time.ParseError
		switch {
		case errors.As(err, &typeErr):
			return model.Errorf(model.CodeInvalidArgument, "%s: field %s has the wrong type", name, typeErr.Field)
		case errors.As(err, &timeErr):
			return model.Errorf(model.CodeInvalidArgument, "%s: a time is not in RFC 3339 format", name)
		default:
			return model.Errorf(model.CodeInvalidArgument, "%s is not valid JSON: %v", name, err)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return model.Errorf(model.CodeInvalidArgument, "%s has data after the JSON document", name)
	}
	if key, ok := duplicateKey([]byte(arg)); ok {
		return model.Errorf(model.CodeInvalidArgument, "%s: key %q appears twice in one object", name, key)
	}
	if field, ok := timeOutOfRange(reflect.ValueOf(v), ""); ok {
		return model.Errorf(model.CodeInvalidArgument, "%s: %s must lie between %d and %d", name, field, minTime.Year(), maxTime.Year())
	}
	return nil
}

// duplicateKey returns the first key that an object of the (valid) JSON document repeats.
// encoding/json keeps the last of repeated keys and other parsers the first, so a document with
// one could mean one thing to the gateway that checked it and another to the chaincode. Keys
// are compared as encoding/json matches them to fields, without regard to case ("id", "ID" and
// "\u0049d" are one key).
//
// It scans the bytes rather than json.Decoder's tokens: every transaction's arguments pass
// here, and an audit batch of 200 reports made the token walk 28% of RecordAccesses. In a
// valid document a string is a key exactly when a colon follows it, and the key belongs to
// the innermost open object.
func duplicateKey(doc []byte) (string, bool) {
	// The keys of each open container, innermost last (nil for an array). Maps of closed
	// objects are cleared and kept for the next object at their depth.
	var open, spare []map[string]bool
	var buf []byte
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '{':
			var keys map[string]bool
			if n := len(open); n < len(spare) && spare[n] != nil {
				keys = spare[n]
			} else {
				keys = map[string]bool{}
			}
			open = append(open, keys)
		case '[':
			open = append(open, nil)
		case '}', ']':
			n := len(open) - 1
			if open[n] != nil {
				clear(open[n])
				for len(spare) <= n {
					spare = append(spare, nil)
				}
				spare[n] = open[n]
			}
			open = open[:n]
		case '"':
			end := stringEnd(doc, i)
			j := end
			for j < len(doc) && (doc[j] == ' ' || doc[j] == '\t' || doc[j] == '\n' || doc[j] == '\r') {
				j++
			}
			if j < len(doc) && doc[j] == ':' && len(open) > 0 && open[len(open)-1] != nil {
				keys := open[len(open)-1]
				buf = appendFolded(buf[:0], doc[i:end])
				if keys[string(buf)] {
					var key string
					_ = json.Unmarshal(doc[i:end], &key)
					return key, true
				}
				keys[string(buf)] = true
			}
			i = end - 1
		}
	}
	return "", false
}

// stringEnd returns the index just after the JSON string that starts at doc[start].
func stringEnd(doc []byte, start int) int {
	for i := start + 1; i < len(doc); i++ {
		switch doc[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(doc)
}

// appendFolded appends a quoted key folded as encoding/json folds keys when it matches them
// to fields: upper then lower case, the Kelvin sign and the long s included.
func appendFolded(buf, quoted []byte) []byte {
	raw := quoted[1 : len(quoted)-1]
	for _, c := range raw {
		if c == '\\' || c >= utf8.RuneSelf {
			var key string
			_ = json.Unmarshal(quoted, &key)
			return append(buf, strings.ToLower(strings.ToUpper(key))...)
		}
	}
	for _, c := range raw {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

var timeType = reflect.TypeFor[time.Time]()

// timeOutOfRange walks a decoded argument and returns the JSON name of the first time outside
// [minTime, maxTime). Unset times are left to the transaction's own checks.
func timeOutOfRange(v reflect.Value, path string) (string, bool) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", false
		}
		return timeOutOfRange(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			if f, bad := timeOutOfRange(v.Index(i), path); bad {
				return f, true
			}
		}
	case reflect.Struct:
		if v.Type() == timeType {
			t := v.Interface().(time.Time)
			return path, !t.IsZero() && (t.Before(minTime) || !t.Before(maxTime))
		}
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
			if name == "" {
				name = sf.Name
			}
			if path != "" {
				name = path + "." + name
			}
			if f, bad := timeOutOfRange(v.Field(i), name); bad {
				return f, true
			}
		}
	}
	return "", false
}

// checkSet validates a list against a vocabulary: non-empty, at most maxListItems, no
// duplicates. It returns the list sorted, so stored documents do not depend on argument order.
func checkSet(field string, values, vocabulary []string) ([]string, error) {
	if len(values) == 0 {
		return nil, model.Errorf(model.CodeInvalidArgument, "%s must not be empty", field)
	}
	if len(values) > maxListItems {
		return nil, model.Errorf(model.CodeInvalidArgument, "%s has more than %d items", field, maxListItems)
	}
	out := slices.Clone(values)
	slices.Sort(out)
	for i, v := range out {
		if vocabulary != nil && !slices.Contains(vocabulary, v) {
			return nil, model.Errorf(model.CodeInvalidArgument, "%s: unknown value %q", field, v)
		}
		if i > 0 && out[i-1] == v {
			return nil, model.Errorf(model.CodeInvalidArgument, "%s: duplicate value %q", field, v)
		}
	}
	return out, nil
}

func checkID(field, v string) error {
	if !model.ValidID(v) {
		return model.Errorf(model.CodeInvalidArgument, "%s must be 1-128 letters, digits, '.', '_' or '-'", field)
	}
	return nil
}

func checkPseudonym(field, v string) error {
	if !model.ValidPseudonym(v) {
		return model.Errorf(model.CodeInvalidArgument, "%s must be a ledger pseudonym (32 lowercase hex digits)", field)
	}
	return nil
}

func checkHash(field, v string) error {
	if !model.ValidHash(v) {
		return model.Errorf(model.CodeInvalidArgument, "%s must be a SHA-256 digest in lowercase hex", field)
	}
	return nil
}

func checkOneOf(field, v string, vocabulary []string) error {
	if !slices.Contains(vocabulary, v) {
		return model.Errorf(model.CodeInvalidArgument, "%s: unknown value %q", field, v)
	}
	return nil
}

// canonicalTime drops monotonic readings and location so stored times are byte-identical on
// every endorsing peer.
func canonicalTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Round(0)
	return &u
}
