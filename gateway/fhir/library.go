package fhir

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"

	"github.com/google/fhir/go/fhirversion"
	"github.com/google/fhir/go/jsonformat"
)

// This file is the one place that knows github.com/google/fhir/go: it runs the library's R4
// unmarshaller with validation and turns what it reports into ValidationErrors.

// maxIssues bounds how many problems one error lists; a sender fixing a resource needs the
// first few, not thousands from a generated file.
const maxIssues = 10

var r4 = sync.OnceValues(func() (*jsonformat.Unmarshaller, error) {
	u, err := jsonformat.NewUnmarshaller("UTC", fhirversion.R4)
	if err != nil {
		return nil, fmt.Errorf("fhir: create R4 unmarshaller: %w", err)
	}
	u.MaxNestingDepth = maxDepth
	return u, nil
})

// collector receives the library's validation findings (required elements, primitive
// formats, reference target types).
type collector struct {
	issues []libIssue
}

func (c *collector) ReportValidationError(path string, err error) error {
	is := issueOf(err)
	if is.path == "" {
		is.path = path
	}
	c.issues = append(c.issues, is)
	return nil
}

// ReportValidationWarning ignores warnings: they do not make content invalid.
func (c *collector) ReportValidationWarning(string, error) error { return nil }

// libIssue is one finding of the library: its element path, its short description
// ("code type mismatch") and its diagnostics, which may quote the value.
type libIssue struct {
	path, details, diagnostics string
}

// checkR4 parses data, already known to be strict JSON with a resourceType, with the
// library and reports every finding as a ValidationError, in path order.
func checkR4(data []byte, root *node) (err error) {
	u, err := r4()
	if err != nil {
		return err
	}
	// Content comes from outside; a bug in the library that it trips must refuse that
	// content, not take the gateway down.
	defer func() {
		if r := recover(); r != nil {
			err = invalid("", "the FHIR R4 parser could not read this resource")
		}
	}()
	c := &collector{}
	if _, err := u.UnmarshalWithErrorReporter(data, c); err != nil {
		c.issues = append(c.issues, issuesOf(err)...)
	}
	if len(c.issues) == 0 {
		return nil
	}
	errs := make([]*ValidationError, 0, len(c.issues))
	for _, is := range c.issues {
		if _, canon := resolve(root, is.path); canon != "" {
			is.path = canon
		}
		errs = append(errs, translate(is, root))
	}
	return joinIssues(errs)
}

// checkContained validates contained resources, which the library parses but leaves out
// of its validation of required elements and references (R4 protos hold them as Any). Each
// is written out and checked on its own; its findings are named under its container.
func checkContained(root *node) error {
	var errs []error
	walkObjects(root, func(n *node, path []segment) {
		contained := n.get("contained")
		if contained == nil || contained.kind != 'a' || n.text("resourceType") == "" {
			return
		}
		for j, res := range contained.items {
			at := append(path[:len(path):len(path)], segment{key: "contained", value: contained}, segment{index: j, value: res})
			if err := checkR4(res.appendJSON(nil), res); err != nil {
				errs = append(errs, underPath(err, elementPath(root, at), res.text("resourceType")))
			}
		}
	})
	return errors.Join(errs...)
}

// underPath renames the ValidationErrors in err, whose paths start with the resource type
// rt, to lie under prefix (which ends in rt).
func underPath(err error, prefix, rt string) error {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		var ve *ValidationError
		if errors.As(e, &ve) {
			e = invalid(prefix+strings.TrimPrefix(ve.Path, rt), ve.Message)
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}

// joinIssues returns one error for a list of problems: the problems sorted by path (the
// library reports in map order) and capped, each reachable with errors.As.
func joinIssues(errs []*ValidationError) error {
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Path < errs[j].Path })
	if len(errs) > maxIssues {
		errs = errs[:maxIssues]
	}
	if len(errs) == 1 {
		return errs[0]
	}
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}

// issuesOf unpacks an error the library returned. Its error types live in an internal
// package, so their exported fields are read by reflection; anything else becomes one issue
// without a path.
func issuesOf(err error) []libIssue {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Slice {
		var out []libIssue
		for i := range v.Len() {
			if e, ok := v.Index(i).Interface().(error); ok {
				out = append(out, issueOf(e))
			}
		}
		return out
	}
	return []libIssue{issueOf(err)}
}

func issueOf(err error) libIssue {
	v := reflect.ValueOf(err)
	if v.Kind() == reflect.Pointer && !v.IsNil() && v.Elem().Kind() == reflect.Struct {
		s := v.Elem()
		field := func(name string) string {
			if f := s.FieldByName(name); f.IsValid() && f.Kind() == reflect.String {
				return f.String()
			}
			return ""
		}
		if d := field("Details"); d != "" {
			return libIssue{path: field("Path"), details: d, diagnostics: field("Diagnostics")}
		}
	}
	return libIssue{details: err.Error()}
}

// translate words a library finding the way a sender can act on it, naming the element.
func translate(is libIssue, root *node) *ValidationError {
	path, details := is.path, is.details
	value := strings.TrimPrefix(is.diagnostics, "found ")
	switch {
	case strings.HasPrefix(details, "missing required field "):
		name := strings.Trim(strings.TrimPrefix(details, "missing required field "), `"`)
		if name == "resourceType" {
			return invalid(joinPath(path, "resourceType"), "is required")
		}
		return invalid(joinPath(path, name), "is required")
	case details == "unknown field":
		return invalid(joinPath(path, strings.Trim(value, `"`)), "is not an element FHIR R4 defines here")
	case details == "unknown resource type" || details == "invalid resource type":
		// The library names the unknown type as the last step of the path.
		name := strings.Trim(value, `"`)
		if strings.HasSuffix(path, name) {
			path = strings.TrimSuffix(strings.TrimSuffix(path, name), ".")
		}
		return invalid(joinPath(path, "resourceType"), fmt.Sprintf("%s is not a FHIR R4 resource type", quoted(value)))
	case details == "code type mismatch" || details == "expected code":
		if v := valueAt(root, path, ""); v != "" {
			return invalid(path, fmt.Sprintf("%s is not a valid code", quoted(v)))
		}
		return invalid(path, "is not a valid code")
	case strings.HasPrefix(details, "invalid reference to a "):
		// "invalid reference to a Practitioner resource, want Patient, Group"
		got, want, ok := strings.Cut(strings.TrimPrefix(details, "invalid reference to a "), " resource, want ")
		if !ok {
			return invalid(path, details)
		}
		return invalid(path, fmt.Sprintf("refers to a %s, but only %s may be referenced here", got, want))
	case strings.HasPrefix(details, "expected ") || strings.HasPrefix(details, "invalid "):
		what := strings.TrimPrefix(strings.TrimPrefix(details, "expected "), "invalid ")
		what = strings.ToLower(strings.TrimSuffix(what, " format"))
		switch what {
		case "utf-8 encoding":
			return invalid(path, "is not valid UTF-8")
		case "datetime":
			what = "dateTime"
		case "binary data":
			what = "base64Binary"
		case "array", "object":
			return invalid(path, "must be a JSON "+what)
		case "json":
			return invalid(path, "is not a valid value here")
		}
		if v := valueAt(root, path, value); v != "" {
			return invalid(path, fmt.Sprintf("%s is not a valid %s", quoted(v), what))
		}
		return invalid(path, "is not a valid "+what)
	default:
		return invalid(path, details)
	}
}

// joinPath appends an element name to a path.
func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// quoted quotes a value for a message, shortened; a value that is already JSON-quoted stays
// as it is.
func quoted(v string) string {
	if strings.HasPrefix(v, `"`) {
		return shorten(v)
	}
	return fmt.Sprintf("%q", shorten(v))
}

// valueAt finds the JSON value an element path names in the tree, falling back to what the
// library quoted.
func valueAt(root *node, path, fallback string) string {
	n, _ := resolve(root, path)
	if n != nil && (n.kind == 's' || n.kind == 'n') {
		return n.str
	}
	return fallback
}

// resolve walks an element path such as Bundle.entry[1].resource.Observation.status through
// the tree. It returns the node the path names (nil if it names none) and the path with
// each resource type step spelt as the resource spells it: the library's own paths write
// the step inside a Bundle entry as "observation".
func resolve(root *node, path string) (*node, string) {
	parts := strings.Split(path, ".")
	if parts[0] != root.text("resourceType") {
		return nil, path
	}
	n := root
	for i, part := range parts[1:] {
		if n == nil {
			return nil, path
		}
		if rt := n.text("resourceType"); rt != "" && n.get(part) == nil && strings.EqualFold(rt, part) {
			parts[i+1] = rt
			continue
		}
		name, rest, _ := strings.Cut(part, "[")
		n = n.get(name)
		for rest != "" {
			var idx int
			if _, err := fmt.Sscanf(rest, "%d]", &idx); err != nil || n == nil || n.kind != 'a' || idx >= len(n.items) {
				return nil, path
			}
			n = n.items[idx]
			_, rest, _ = strings.Cut(rest, "[")
		}
	}
	return n, strings.Join(parts, ".")
}
