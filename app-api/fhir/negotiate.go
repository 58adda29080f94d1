package fhir

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"

	r4 "github.com/careledger/careledger/gateway/fhir"
)

// FHIR JSON is served as application/fhir+json, or as application/json to a client that asks
// for exactly that. XML is not supported.
const jsonMediaType = "application/json"

// formats are the _format values and Accept types taken to mean FHIR JSON.
var formats = map[string]bool{
	"json": true, r4.MediaType: true, jsonMediaType: true, "application/json+fhir": true,
}

var (
	errNotAcceptable = &fhirError{http.StatusNotAcceptable, "not-supported", "this server speaks FHIR JSON only: accept application/fhir+json or application/json", nil}
	errMediaType     = &fhirError{http.StatusUnsupportedMediaType, "not-supported", "send FHIR JSON: Content-Type application/fhir+json (or application/json)", nil}
)

// responseType picks the response media type from _format, then Accept; "" when the client
// accepts no FHIR JSON.
func responseType(r *http.Request) string {
	if f := r.URL.Query().Get("_format"); f != "" {
		mt, _, _ := mime.ParseMediaType(f)
		if !formats[strings.ToLower(mt)] && !formats[strings.ToLower(f)] {
			return ""
		}
		if strings.ToLower(mt) == jsonMediaType {
			return jsonMediaType
		}
		return r4.MediaType
	}
	accept := r.Header.Get("Accept")
	if accept == "" {
		return r4.MediaType
	}
	best := ""
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil || params["q"] == "0" {
			continue
		}
		switch mt = strings.ToLower(mt); {
		case mt == r4.MediaType || mt == "application/json+fhir" || mt == "*/*" || mt == "application/*":
			return r4.MediaType
		case mt == jsonMediaType:
			best = jsonMediaType
		}
	}
	return best
}

// acceptsFHIR reports whether the client accepts FHIR JSON; ITI-68 uses it to choose between
// a document's bytes and a Binary resource.
func acceptsFHIR(r *http.Request) bool {
	if r.URL.Query().Get("_format") != "" {
		return responseType(r) != ""
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		if m := strings.ToLower(mt); m == r4.MediaType || m == "application/json+fhir" || m == jsonMediaType {
			return true
		}
	}
	return false
}

// writeResource sends v as FHIR JSON in the media type the client asked for (FHIR JSON when
// it asked for none it can have: an error must still reach it).
func writeResource(w http.ResponseWriter, r *http.Request, status int, v any) {
	mt := responseType(r)
	if mt == "" {
		mt = r4.MediaType
	}
	w.Header().Set("Content-Type", mt+"; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if r.URL.Query().Get("_pretty") == "true" {
		enc.SetIndent("", "  ")
	}
	_ = enc.Encode(v) // the client went away; nothing to do
}

// readBody reads a FHIR JSON request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !formats[strings.ToLower(mt)] || strings.ToLower(mt) == "json" {
		return nil, errMediaType
	}
	return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
}
