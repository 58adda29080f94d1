package fhir

import (
	"net/http"
	"strconv"
	"time"
)

// Bundle is a FHIR R4 Bundle as this server sends it: searchset, history and
// transaction-response.
type Bundle struct {
	ResourceType string  `json:"resourceType"`
	Type         string  `json:"type"`
	Timestamp    string  `json:"timestamp"`
	Link         []Link  `json:"link,omitempty"`
	Entry        []Entry `json:"entry"`
}

// Link is Bundle.link.
type Link struct {
	Relation string `json:"relation"`
	URL      string `json:"url"`
}

// Entry is Bundle.entry.
type Entry struct {
	FullURL  string         `json:"fullUrl,omitempty"`
	Resource any            `json:"resource,omitempty"`
	Search   *EntrySearch   `json:"search,omitempty"`
	Request  *EntryRequest  `json:"request,omitempty"`
	Response *EntryResponse `json:"response,omitempty"`
}

// EntrySearch is Bundle.entry.search.
type EntrySearch struct {
	Mode string `json:"mode"`
}

// EntryRequest is Bundle.entry.request.
type EntryRequest struct {
	Method string `json:"method"`
	URL    string `json:"url"`
}

// EntryResponse is Bundle.entry.response.
type EntryResponse struct {
	Status       string `json:"status"`
	Location     string `json:"location,omitempty"`
	Etag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
}

func newBundle(typ string, now time.Time) *Bundle {
	return &Bundle{ResourceType: "Bundle", Type: typ, Timestamp: lastUpdated(now), Entry: []Entry{}}
}

// base is the absolute URL of this FHIR endpoint as the client reached it.
func base(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + "/fhir"
}

// add appends a resource; mode is the search mode ("" in a history, which gets a request
// instead).
func (b *Bundle) add(r *http.Request, s *served, mode string) {
	e := Entry{FullURL: base(r) + "/" + s.Type + "/" + s.ID, Resource: s}
	if mode != "" {
		e.Search = &EntrySearch{Mode: mode}
	} else {
		method := "PUT"
		if s.Version.Number <= 1 {
			method = "POST"
		}
		e.Request = &EntryRequest{Method: method, URL: s.Type + "/" + s.ID}
		e.Response = &EntryResponse{Status: "200", Etag: `W/"` + strconv.Itoa(s.Version.Number) + `"`}
	}
	b.Entry = append(b.Entry, e)
}

// warn appends an OperationOutcome entry (search mode "outcome") about an item that could not
// be served, so one bad record degrades only itself.
func (b *Bundle) warn(diagnostics string) {
	b.Entry = append(b.Entry, Entry{
		Resource: OperationOutcome{ResourceType: "OperationOutcome", Issue: []Issue{{Severity: "warning", Code: "exception", Diagnostics: diagnostics}}},
		Search:   &EntrySearch{Mode: "outcome"},
	})
}

// link adds a link; uri is relative to the server root (a request URI) and made absolute.
func (b *Bundle) link(r *http.Request, relation, uri string) {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	b.Link = append(b.Link, Link{Relation: relation, URL: scheme + "://" + r.Host + uri})
}

// match appends a search match that is not a record (a Consent, an AuditEvent).
func (b *Bundle) match(r *http.Request, ref string, resource any) {
	b.Entry = append(b.Entry, Entry{FullURL: base(r) + "/" + ref, Resource: resource, Search: &EntrySearch{Mode: "match"}})
}

// ledgerPage adds the links of a searchset that is one page of a ledger listing: the next
// page starts at the ledger's bookmark.
func (b *Bundle) ledgerPage(r *http.Request, q *query, bookmark string, n int) {
	var next *cursor
	if bookmark != "" && n > 0 {
		next = &cursor{Bookmark: bookmark}
	}
	pageLinks(r, b, q, next)
}
