package api

import (
	"errors"
	"fmt"
	"net/http"

	fhirapi "github.com/careledger/careledger/app-api/fhir"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/ledger"
)

// fhirHandler is the FHIR R4 interface (app-api/fhir) with this API's authentication and
// offline signing: a /fhir caller is identified exactly as a /v1 caller, and acts on the
// ledger through their organisation's gateway in the same way.
func (s *server) fhirHandler() http.Handler {
	h, err := fhirapi.New(fhirapi.Config{
		Service: s.cfg.Service,
		Identify: func(r *http.Request) (*fhirapi.Member, error) {
			c, err := s.identify(r)
			if err != nil {
				return nil, &fhirapi.AuthError{Err: err}
			}
			setLogCaller(r.Context(), c)
			as, err := s.ledgerFor(c)
			if errors.Is(err, errNoOrgGateway) {
				return nil, fmt.Errorf("%w: %w", fhirapi.ErrNoGateway, err)
			} else if err != nil {
				return nil, err
			}
			return &fhirapi.Member{Role: c.Role, Pseudonym: c.Pseudonym, Ledger: as}, nil
		},
		Prepare: func(r *http.Request, fn string, args ...string) (*fhirapi.Proposal, error) {
			// The FHIR handler authenticated the caller already; identify is cheap and keeps
			// the caller out of a context the FHIR package does not own.
			c, err := s.identify(r)
			if err != nil {
				return nil, &fhirapi.AuthError{Err: err}
			}
			p, err := s.proposal(c, fn, args...)
			if err != nil {
				return nil, err
			}
			return &fhirapi.Proposal{TransactionID: p.TransactionID, Function: p.Function, Proposal: p.Proposal, Digest: p.Digest}, nil
		},
		RequestID: requestID,
		Logger:    s.log,
		Now:       s.now,
	})
	if err != nil {
		panic(fmt.Sprintf("fhir interface: %v", err)) // New checked the service already
	}
	return h
}

// RecordList is the answer to a Bundle upload on /v1/records: one record per entry.
type RecordList struct {
	Records []model.Record `json:"records"`
}

// uploadBundle stores a collection or transaction Bundle posted to /v1/records, each entry
// its own record, all or nothing.
func (s *server) uploadBundle(w http.ResponseWriter, r *http.Request, as *ledger.Client, u gateway.Upload) {
	defer clear(u.Content.Data)
	if u.RecordID != "" || u.Category != "" {
		s.writeError(w, r, invalid("query parameters id and category do not apply to a Bundle: each entry gets its own"))
		return
	}
	recs, err := fhirapi.StoreBundle(r.Context(), s.cfg.Service, as, u.Owner, u.Content.Data)
	s.reply(w, r, http.StatusCreated, RecordList{Records: recs}, err)
}
