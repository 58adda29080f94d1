package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

const (
	maxArgBytes  = model.MaxArgumentBytes
	maxListItems = 100
)

// decode parses one JSON argument strictly: size-limited, no unknown fields, nothing after the
// document. The error names the argument and, where JSON says so, the field.
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
	return nil
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
