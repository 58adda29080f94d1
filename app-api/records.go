package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	fhirapi "github.com/careledger/careledger/app-api/fhir"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
)

// me returns the caller as the ledger sees them.
func (s *server) me(w http.ResponseWriter, r *http.Request) {
	as, err := s.ledgerFor(callerFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := queryParams(r).err; err != nil {
		s.writeError(w, r, err)
		return
	}
	who, err := as.WhoAmI(r.Context())
	s.reply(w, r, http.StatusOK, who, err)
}

// reply sends v as JSON, or err.
func (s *server) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

// readContent reads a record body: FHIR JSON up to fhir.MaxResourceBytes, whole, to be
// validated; a document up to the configured limit as a stream, which the gateway seals and
// stores as it arrives, so that no upload is ever held whole in memory.
func (s *server) readContent(w http.ResponseWriter, r *http.Request) (gateway.Content, error) {
	mt, err := mediaType(r)
	if err != nil {
		return gateway.Content{}, err
	}
	if !model.ValidMediaType(mt) {
		return gateway.Content{}, &requestError{http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "the Content-Type must be a plain type/subtype"}
	}
	if mt != fhir.MediaType {
		return gateway.Content{MediaType: mt, Body: http.MaxBytesReader(w, r.Body, s.cfg.MaxDocumentBytes)}, nil
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, fhir.MaxResourceBytes))
	if err != nil {
		return gateway.Content{}, err
	}
	return gateway.Content{MediaType: mt, Data: data}, nil
}

// upload stores a new record: the body is the content, the query says whose record it is.
func (s *server) upload(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	q := queryParams(r, "owner", "category", "id")
	u := gateway.Upload{Owner: q.pseudonym("owner"), Category: q.oneOf("category", model.Categories), RecordID: q.str("id")}
	if u.RecordID != "" && !model.ValidID(u.RecordID) {
		q.fail(invalid("query parameter id must be 1-128 letters, digits, '.', '_' or '-'"))
	}
	if u.Owner == "" {
		if c.Role != model.RolePatient {
			q.fail(invalid("query parameter owner is required: the patient's pseudonym"))
		}
		u.Owner = c.Pseudonym
	}
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	as, err := s.ledgerFor(c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done, err := s.uploads.begin(c.Pseudonym)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer done()
	if u.Content, err = s.readContent(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if u.Content.MediaType == fhir.MediaType && fhirapi.IsBundle(u.Content.Data) {
		s.uploadBundle(w, r, as, u)
		return
	}
	rec, err := s.cfg.Service.Upload(r.Context(), as, u)
	clear(u.Content.Data)
	if err == nil {
		w.Header().Set("Location", "/v1/records/"+rec.ID)
	}
	s.reply(w, r, http.StatusCreated, rec, err)
}

// appendVersion stores a new version of a record.
func (s *server) appendVersion(w http.ResponseWriter, r *http.Request) {
	c := callerFrom(r.Context())
	id, err := pathID(r, "recordID")
	if err == nil {
		err = queryParams(r).err
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, err := s.ledgerFor(c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	done, err := s.uploads.begin(c.Pseudonym)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer done()
	content, err := s.readContent(w, r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rec, err := s.cfg.Service.AppendVersion(r.Context(), as, id, content)
	clear(content.Data)
	if err == nil {
		w.Header().Set("Location", "/v1/records/"+rec.ID)
	}
	s.reply(w, r, http.StatusCreated, rec, err)
}

// withRecord runs fn with the record ID from the path and the caller's ledger client, after
// checking the query parameters.
func (s *server) withRecord(w http.ResponseWriter, r *http.Request, allowed []string, fn func(as *ledger.Client, id string, q *params) (any, error)) {
	id, err := pathID(r, "recordID")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.withCaller(w, r, allowed, func(as *ledger.Client, q *params) (any, error) { return fn(as, id, q) })
}

// record returns a record's metadata.
func (s *server) record(w http.ResponseWriter, r *http.Request) {
	s.withRecord(w, r, nil, func(as *ledger.Client, id string, q *params) (any, error) {
		if q.err != nil {
			return nil, q.err
		}
		return as.GetRecord(r.Context(), id)
	})
}

// versions returns a record with its whole version chain.
func (s *server) versions(w http.ResponseWriter, r *http.Request) {
	s.withRecord(w, r, nil, func(as *ledger.Client, id string, q *params) (any, error) {
		if q.err != nil {
			return nil, q.err
		}
		return as.GetRecordHistory(r.Context(), id)
	})
}

// verify checks a ciphertext hash against the record's chain on the ledger.
func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	s.withRecord(w, r, []string{"hash"}, func(as *ledger.Client, id string, q *params) (any, error) {
		hash := q.str("hash")
		if !model.ValidHash(hash) {
			q.fail(invalid("query parameter hash must be a SHA-256 digest in lowercase hex"))
		}
		if q.err != nil {
			return nil, q.err
		}
		return as.VerifyRecordHash(r.Context(), id, hash)
	})
}

// content releases one version of a record through the policy enforcement point.
func (s *server) content(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "recordID")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := queryParams(r, "version", "purpose")
	version := q.integer("version", 1, 1<<30)
	purpose := q.oneOf("purpose", model.Purposes)
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	c := callerFrom(r.Context())
	opts, err := accessAssertion(r, c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, err := s.ledgerFor(c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rel, err := s.cfg.Service.Read(r.Context(), as, id, version, purpose, opts...)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer clear(rel.Data)
	h := w.Header()
	h.Set("Content-Type", rel.MediaType)
	h.Set("Content-Length", strconv.Itoa(len(rel.Data)))
	h.Set("ETag", `"`+rel.Version.Hash+`"`)
	h.Set("X-Record-Version", strconv.Itoa(rel.Version.Number))
	h.Set("X-Access-Basis", rel.Decision.Basis)
	if rel.MediaType != fhir.MediaType {
		// A document is never rendered by a browser in the API's origin.
		h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", fmt.Sprintf("%s-v%d", rel.Record.ID, rel.Version.Number)))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rel.Data)
}

// accessAssertion reads the member's signed access assertion from its header, if the client
// sent one: the read is then member-signed, checked with the certificate the caller
// authenticated with. A malformed header is a 400; whether the assertion is the caller's and
// fits the read, the gateway and the ledger decide.
func accessAssertion(r *http.Request, c *caller) ([]gateway.ReadOption, error) {
	values := r.Header.Values(model.AssertionHeader)
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, invalid("header %s is repeated", model.AssertionHeader)
	}
	sa, err := model.ParseAssertion(values[0])
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) {
			return nil, invalid("header %s: %s", model.AssertionHeader, me.Message)
		}
		return nil, err
	}
	return []gateway.ReadOption{gateway.WithAssertion(sa, c.CertPEM)}, nil
}

// withPatient runs fn with the patient pseudonym from the path and the caller's client.
func (s *server) withPatient(w http.ResponseWriter, r *http.Request, allowed []string, fn func(as *ledger.Client, patient string, q *params) (any, error)) {
	patient, err := pathPseudonym(r, "patientID")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.withCaller(w, r, allowed, func(as *ledger.Client, q *params) (any, error) { return fn(as, patient, q) })
}

// patientRecords lists the patient's records the caller may read.
func (s *server) patientRecords(w http.ResponseWriter, r *http.Request) {
	s.withPatient(w, r, []string{"category", "pageSize", "bookmark"}, func(as *ledger.Client, patient string, q *params) (any, error) {
		category, page := q.oneOf("category", model.Categories), q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.ListPatientRecords(r.Context(), patient, category, page)
	})
}

// patientHistory lists the patient's readable records with their version chains (metadata).
func (s *server) patientHistory(w http.ResponseWriter, r *http.Request) {
	s.withPatient(w, r, []string{"category", "pageSize", "bookmark"}, func(as *ledger.Client, patient string, q *params) (any, error) {
		category, page := q.oneOf("category", model.Categories), q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.GetPatientHistory(r.Context(), patient, category, page)
	})
}

// Page sizes of content listings, smaller than the ledger's because they carry content.
const (
	defaultContentPage = 10
	maxContentPage     = 20
)

// Release is one record version's content released to the caller, in a history listing.
// FHIR content is embedded as JSON in Resource; documents are base64 in Data.
type Release struct {
	Record   model.Record    `json:"record"`
	Version  model.Version   `json:"version"`
	Basis    string          `json:"basis"`
	GrantID  string          `json:"grantId,omitempty"`
	Media    string          `json:"mediaType"`
	Resource json.RawMessage `json:"resource,omitempty"`
	Data     []byte          `json:"data,omitempty"`
	// Unavailable is set, with no content, for a version whose stored content is missing:
	// the rest of the page is served.
	Unavailable *ErrorDetail `json:"unavailable,omitempty"`
}

// ReleasePage is one page of released content.
type ReleasePage struct {
	Releases []Release `json:"releases"`
	Bookmark string    `json:"bookmark,omitempty"`
}

// patientContent reads the latest version of every record of the patient the caller may
// read, one page at a time; each read is audited.
func (s *server) patientContent(w http.ResponseWriter, r *http.Request) {
	s.withPatient(w, r, []string{"category", "purpose", "pageSize", "bookmark"}, func(as *ledger.Client, patient string, q *params) (any, error) {
		category, purpose := q.oneOf("category", model.Categories), q.oneOf("purpose", model.Purposes)
		// Content pages are small: each release may be a document of many megabytes.
		page := ledger.Page{Size: q.integer("pageSize", 1, maxContentPage), Bookmark: q.page().Bookmark}
		if page.Size == 0 {
			page.Size = defaultContentPage
		}
		if q.err != nil {
			return nil, q.err
		}
		opts, err := accessAssertion(r, callerFrom(r.Context()))
		if err != nil {
			return nil, err
		}
		rels, bookmark, err := s.cfg.Service.ReadHistory(r.Context(), as, patient, category, purpose, page, opts...)
		if err != nil {
			return nil, err
		}
		out := ReleasePage{Releases: make([]Release, 0, len(rels)), Bookmark: bookmark}
		for _, rel := range rels {
			item := Release{Record: rel.Record, Version: rel.Version, Basis: rel.Decision.Basis, GrantID: rel.Decision.GrantID, Media: rel.MediaType}
			if rel.Unavailable != nil {
				_, code, message, _ := classify(rel.Unavailable)
				item.Unavailable = &ErrorDetail{Code: code, Message: message}
			} else if rel.MediaType == fhir.MediaType {
				item.Resource = json.RawMessage(rel.Data)
			} else {
				item.Data = rel.Data
			}
			out.Releases = append(out.Releases, item)
		}
		return out, nil
	})
}

// erasure returns a patient's erasure record (404 when the patient was not erased).
func (s *server) erasure(w http.ResponseWriter, r *http.Request) {
	s.withPatient(w, r, nil, func(as *ledger.Client, patient string, q *params) (any, error) {
		if q.err != nil {
			return nil, q.err
		}
		return as.GetErasure(r.Context(), patient)
	})
}
