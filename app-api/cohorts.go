package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// CohortFile describes one data file of a published cohort (the anonymised table, its
// report, a data dictionary).
type CohortFile struct {
	Name      string `json:"name"`
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	// SHA256 is the file's digest in lowercase hex; for the dataset it equals the
	// publication's datasetHash on the ledger.
	SHA256 string `json:"sha256"`
}

// CohortFiles serves the data files of published cohorts. The anonymiser implements it. The
// API has already asked the ledger, as the caller, for the cohort before calling it. Errors
// wrapping ErrCohortNotFound become 404.
type CohortFiles interface {
	// Files lists a cohort's files.
	Files(ctx context.Context, cohort model.Cohort) ([]CohortFile, error)
	// Open opens one file by name; the caller closes it.
	Open(ctx context.Context, cohort model.Cohort, name string) (io.ReadCloser, CohortFile, error)
}

// AggregateQuery asks a disclosure-controlled aggregate of a cohort: a statistic of one
// attribute (or a count) grouped by some attributes.
type AggregateQuery struct {
	// GroupBy names up to 4 attributes of the cohort (quasi-identifiers or others).
	GroupBy []string `json:"groupBy"`
	// Statistic is count, sum or mean.
	Statistic string `json:"statistic"`
	// Attribute is the numeric attribute summed or averaged (not for count).
	Attribute string `json:"attribute,omitempty"`
	// Epsilon is the differential-privacy budget to spend on this query; 0 lets the engine
	// choose. The engine may refuse when the cohort's budget is used up.
	Epsilon float64 `json:"epsilon,omitempty"`
}

// AggregateRow is one released cell.
type AggregateRow struct {
	Values []string `json:"values"`
	Value  float64  `json:"value"`
}

// AggregateResult is a released aggregate: the cells that passed disclosure control.
type AggregateResult struct {
	Columns []string       `json:"columns"`
	Rows    []AggregateRow `json:"rows"`
	// SuppressedCells counts cells withheld for being below the minimum cell size.
	SuppressedCells int `json:"suppressedCells"`
	// Mechanism says how the values were protected, e.g. "laplace" or "min-cell-size".
	Mechanism string  `json:"mechanism"`
	Epsilon   float64 `json:"epsilon,omitempty"`
}

// Aggregator answers aggregate queries on a cohort with disclosure control. The anonymiser
// implements it; refusals wrap ErrQueryRefused and their text is shown to the caller.
type Aggregator interface {
	Aggregate(ctx context.Context, cohort model.Cohort, q AggregateQuery) (*AggregateResult, error)
}

var statistics = []string{"count", "sum", "mean"}

// cohorts lists published cohorts.
func (s *server) cohorts(w http.ResponseWriter, r *http.Request) {
	s.withCaller(w, r, []string{"pageSize", "bookmark"}, func(as *ledger.Client, q *params) (any, error) {
		page := q.page()
		if q.err != nil {
			return nil, q.err
		}
		return as.ListCohorts(r.Context(), page)
	})
}

// cohortFor asks the ledger, as the caller, for the cohort named in the path.
func (s *server) cohortFor(r *http.Request, allowed ...string) (*model.Cohort, *params, error) {
	id, err := pathID(r, "cohortID")
	if err != nil {
		return nil, nil, err
	}
	q := queryParams(r, allowed...)
	if q.err != nil {
		return nil, nil, q.err
	}
	as, err := s.ledgerFor(callerFrom(r.Context()))
	if err != nil {
		return nil, nil, err
	}
	c, err := as.GetCohort(r.Context(), id)
	return c, q, err
}

// cohort returns one cohort publication.
func (s *server) cohort(w http.ResponseWriter, r *http.Request) {
	c, _, err := s.cohortFor(r)
	s.reply(w, r, http.StatusOK, c, err)
}

// cohortFiles lists a cohort's data files.
func (s *server) cohortFiles(w http.ResponseWriter, r *http.Request) {
	if s.cfg.CohortFiles == nil {
		s.writeError(w, r, errNotImplemented)
		return
	}
	c, _, err := s.cohortFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	files, err := s.cfg.CohortFiles.Files(r.Context(), *c)
	if files == nil {
		files = []CohortFile{}
	}
	s.reply(w, r, http.StatusOK, map[string]any{"files": files}, err)
}

// cohortFile downloads one data file of a cohort.
func (s *server) cohortFile(w http.ResponseWriter, r *http.Request) {
	if s.cfg.CohortFiles == nil {
		s.writeError(w, r, errNotImplemented)
		return
	}
	name, err := pathID(r, "fileName")
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, _, err := s.cohortFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	rc, f, err := s.cfg.CohortFiles.Open(r.Context(), *c, name)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	defer rc.Close()
	h := w.Header()
	mt := f.MediaType
	if !model.ValidMediaType(mt) {
		mt = "application/octet-stream"
	}
	h.Set("Content-Type", mt)
	if f.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	if f.SHA256 != "" {
		h.Set("X-Content-SHA256", f.SHA256)
	}
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", f.Name))
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc) // a broken download is the client's to retry
}

// cohortQuery runs an aggregate query on a cohort.
func (s *server) cohortQuery(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Aggregator == nil {
		s.writeError(w, r, errNotImplemented)
		return
	}
	var q AggregateQuery
	if err := decodeJSON(w, r, &q); err != nil {
		s.writeError(w, r, err)
		return
	}
	namesOK := len(q.GroupBy) <= 4
	for _, n := range q.GroupBy {
		namesOK = namesOK && model.ValidAttributeName(n)
	}
	err := firstErr(
		checkField(namesOK, "groupBy", "must list at most 4 attribute names"),
		checkField(slices.Contains(statistics, q.Statistic), "statistic", "must be count, sum or mean"),
		checkField((q.Statistic == "count") == (q.Attribute == "") && (q.Attribute == "" || model.ValidAttributeName(q.Attribute)), "attribute", "must name a numeric attribute for sum and mean, and be absent for count"),
		checkField(q.Epsilon >= 0 && q.Epsilon <= 10, "epsilon", "must be from 0 to 10"),
	)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c, _, err := s.cohortFor(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	res, err := s.cfg.Aggregator.Aggregate(r.Context(), *c, q)
	s.reply(w, r, http.StatusOK, res, err)
}

// CohortRequest asks the anonymiser to build and publish a cohort from the records of the
// patients whose research consent covers Purpose.
type CohortRequest struct {
	// ID names the cohort; the server picks a UUID when empty.
	ID string `json:"id,omitempty"`
	// Purpose is the research purpose.
	Purpose string `json:"purpose"`
	// K is the k of k-anonymity over the quasi-identifiers (2 to 1000).
	K int `json:"k"`
	// L, if at least 2, adds distinct l-diversity of the diagnosis, or of each sensitive
	// variable of an extract.
	L int `json:"l,omitempty"`
	// T, above 0 (up to 1), adds equal-distance t-closeness of each sensitive variable of an
	// extract.
	T float64 `json:"t,omitempty"`
	// SuppressionLimit is the share of rows that may be suppressed (0 to 1).
	SuppressionLimit float64 `json:"suppressionLimit"`
	// Definition, when present, is an extract definition (docs/cohort-extract.md): which
	// patients, and which clinical variables each row holds.
	Definition json.RawMessage `json:"definition,omitempty"`
	// Extract is Definition, parsed and checked by the server.
	Extract *cohort.Extract `json:"-"`
}

// CohortPublisher builds and publishes cohorts. It reads and publishes as the caller (as),
// so the ledger decides: only the anonymiser may list consents, read for research and publish.
// Refusals by the privacy model wrap ErrCohortRefused.
type CohortPublisher interface {
	Publish(ctx context.Context, as *ledger.Client, req CohortRequest) (*model.Cohort, error)
}

// publishCohort builds and publishes a cohort (anonymiser only; the ledger enforces it).
func (s *server) publishCohort(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Publisher == nil {
		s.writeError(w, r, errNotImplemented)
		return
	}
	var req CohortRequest
	err := decodeJSON(w, r, &req)
	if err == nil {
		err = queryParams(r).err
	}
	if err == nil {
		err = firstErr(
			checkField(req.ID == "" || model.ValidID(req.ID), "id", "must be 1-128 letters, digits, '.', '_' or '-'"),
			checkField(slices.Contains(model.ResearchPurposes, req.Purpose), "purpose", "must be one of the research purposes"),
			checkField(req.K >= 2 && req.K <= 1000, "k", "must be from 2 to 1000"),
			checkField(req.L == 0 || (req.L >= 2 && req.L <= 100), "l", "must be 0 or from 2 to 100"),
			checkField(req.SuppressionLimit >= 0 && req.SuppressionLimit <= 1, "suppressionLimit", "must be from 0 to 1"),
			checkField(req.T >= 0 && req.T <= 1, "t", "must be from 0 (none) to 1"),
			checkField(req.T == 0 || len(req.Definition) > 0, "t", "needs an extract definition with a sensitive variable"),
		)
	}
	if err == nil && len(req.Definition) > 0 {
		req.Extract, err = parseExtract(req.Definition, req.L >= 2 || req.T > 0)
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
	c, err := s.cfg.Publisher.Publish(r.Context(), as, req)
	if err == nil {
		w.Header().Set("Location", "/v1/cohorts/"+c.Publication.ID)
	}
	s.reply(w, r, http.StatusCreated, c, err)
}

// parseExtract parses a cohort request's extract definition; needSensitive says the privacy
// model names l or t, which protect sensitive variables.
func parseExtract(data []byte, needSensitive bool) (*cohort.Extract, error) {
	x, err := cohort.ParseExtract(data)
	var xe *cohort.ExtractError
	switch {
	case errors.As(err, &xe) && xe.Path != "":
		return nil, invalid("field definition.%s: %s", xe.Path, xe.Reason)
	case err != nil:
		return nil, invalid("field definition: %v", err)
	case needSensitive && len(x.Sensitive()) == 0:
		return nil, invalid("field definition.variables: l-diversity and t-closeness need a variable with role sensitive")
	}
	return x, nil
}
