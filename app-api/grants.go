package api

import (
	"net/http"
	"slices"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/google/uuid"
)

// withCaller runs fn with the caller's ledger client after reading the query parameters.
func (s *server) withCaller(w http.ResponseWriter, r *http.Request, allowed []string, fn func(as *ledger.Client, q *params) (any, error)) {
	as, err := s.ledgerFor(callerFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := queryParams(r, allowed...)
	v, err := fn(as, q)
	if q.err != nil {
		err = q.err
	}
	s.reply(w, r, http.StatusOK, v, err)
}

// grants lists a patient's grants (the caller's own, or those of a patient who named the
// caller delegate).
func (s *server) grants(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"patient", "active", "pageSize", "bookmark"}, func(as *ledger.Client, q *params) (any, error) {
		patient, active, page := q.pseudonym("patient"), q.boolean("active", false), q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.ListGrants(r.Context(), patient, active, page)
	})
}

// grantsToMe lists the grants naming the caller or (clinicians) their organisation.
func (s *server) grantsToMe(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"active", "pageSize", "bookmark"}, func(as *ledger.Client, q *params) (any, error) {
		active, page := q.boolean("active", false), q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.ListGrantsToMe(r.Context(), active, page)
	})
}

// grant returns one grant to its patient, a delegate or the grantee.
func (s *server) grant(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "grantID")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.withCaller(w, r, nil, func(as *ledger.Client, q *params) (any, error) {
		if q.err != nil {
			return nil, q.err
		}
		return as.GetGrant(r.Context(), id)
	})
}

// grantConsent returns one grant as a FHIR R4 Consent resource.
func (s *server) grantConsent(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "grantID")
	if err == nil {
		err = queryParams(r).err
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, err := s.ledgerFor(callerFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := as.GetGrant(r.Context(), id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeFHIR(w, http.StatusOK, ConsentFromGrant(*g))
}

// consents exports a page of a patient's grants as a FHIR R4 Bundle of Consent resources.
func (s *server) consents(w http.ResponseWriter, r *http.Request) {
	as, err := s.ledgerFor(callerFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	q := queryParams(r, "patient", "active", "pageSize", "bookmark")
	patient, active, page := q.pseudonym("patient"), q.boolean("active", false), q.page()
	if q.err != nil {
		s.writeError(w, r, q.err)
		return
	}
	gp, err := as.ListGrants(r.Context(), patient, active, page)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if gp.Bookmark != "" {
		w.Header().Set("X-Next-Bookmark", gp.Bookmark)
	}
	writeFHIR(w, http.StatusOK, ConsentBundle(gp.Grants))
}

func writeFHIR(w http.ResponseWriter, status int, v any) {
	writeJSONAs(w, status, fhir.MediaType, v)
}

// emergencyRequest is the body of POST /v1/emergency-access.
type emergencyRequest struct {
	ID              string `json:"id"`
	Patient         string `json:"patient"`
	Reason          string `json:"reason"`
	DurationMinutes int    `json:"durationMinutes"`
}

// emergency opens break-glass access for a clinician; the ledger logs it and shows it to the
// patient.
func (s *server) emergency(w http.ResponseWriter, r *http.Request) {
	var req emergencyRequest
	err := decodeJSON(w, r, &req)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		if req.ID == "" {
			req.ID = uuid.NewString()
		}
		err = firstErr(
			checkField(model.ValidID(req.ID), "id", "must be 1-128 letters, digits, '.', '_' or '-'"),
			checkField(model.ValidPseudonym(req.Patient), "patient", "must be a pseudonym (32 lowercase hex digits)"),
			checkField(slices.Contains(model.EmergencyReasons, req.Reason), "reason", "must be one of the emergency reasons"),
			checkField(req.DurationMinutes >= 0 && req.DurationMinutes <= 24*60, "durationMinutes", "must be from 1 to 1440 (0 for the default)"),
		)
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	as, err := s.ledgerFor(callerFrom(r.Context()))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	g, err := as.OpenEmergencyAccess(r.Context(), model.EmergencyRequest(req))
	if err == nil {
		w.Header().Set("Location", "/v1/grants/"+g.ID)
	}
	s.reply(w, r, http.StatusCreated, g, err)
}

// audit returns a patient's access audit trail, oldest first.
func (s *server) audit(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"patient", "pageSize", "bookmark"}, func(as *ledger.Client, q *params) (any, error) {
		patient, page := q.pseudonym("patient"), q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.ListAccessLog(r.Context(), patient, page)
	})
}

// researchConsent returns a patient's research consent.
func (s *server) researchConsent(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"patient"}, func(as *ledger.Client, q *params) (any, error) {
		patient := q.pseudonym("patient")
		if q.err != nil {
			return nil, q.err
		}
		return as.GetResearchConsent(r.Context(), patient)
	})
}

// delegates lists the caller's delegates.
func (s *server) delegates(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"pageSize", "bookmark"}, func(as *ledger.Client, q *params) (any, error) {
		page := q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.ListDelegates(r.Context(), page)
	})
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
