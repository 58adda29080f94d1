package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/careledger/careledger/anonymizer"
	"github.com/careledger/careledger/anonymizer/cohort"
	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/web"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/ledger"
)

// cohortStore serves published cohorts' files from the blob store, and answers aggregate
// count queries on them with minimum cell size and secondary suppression: the adapter between
// the API and the anonymiser.
type cohortStore struct {
	blobs blob.Store
}

var _ api.CohortFiles = cohortStore{}
var _ api.Aggregator = cohortStore{}

func cohortFileSpecs(id string) map[string]string {
	csv, pq, rep := cohort.Files(id)
	return map[string]string{"cohort.csv": csv, "cohort.parquet": pq, "report.json": rep}
}

var mediaTypes = map[string]string{
	"cohort.csv": "text/csv", "cohort.parquet": "application/vnd.apache.parquet", "report.json": "application/json",
}

// Files implements api.CohortFiles.
func (c cohortStore) Files(ctx context.Context, co model.Cohort) ([]api.CohortFile, error) {
	var out []api.CohortFile
	for _, name := range []string{"cohort.csv", "cohort.parquet", "report.json"} {
		_, f, err := c.read(ctx, co, name)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// Open implements api.CohortFiles. The dataset is checked against the hash on the ledger
// before a byte is served.
func (c cohortStore) Open(ctx context.Context, co model.Cohort, name string) (io.ReadCloser, api.CohortFile, error) {
	data, f, err := c.read(ctx, co, name)
	if err != nil {
		return nil, api.CohortFile{}, err
	}
	return io.NopCloser(bytes.NewReader(data)), f, nil
}

func (c cohortStore) read(ctx context.Context, co model.Cohort, name string) ([]byte, api.CohortFile, error) {
	key, ok := cohortFileSpecs(co.Publication.ID)[name]
	if !ok {
		return nil, api.CohortFile{}, fmt.Errorf("cohort file %q: %w", name, api.ErrCohortNotFound)
	}
	data, err := c.blobs.Get(ctx, key)
	if err != nil {
		return nil, api.CohortFile{}, fmt.Errorf("cohort file %q: %w", name, api.ErrCohortNotFound)
	}
	sum := sha256.Sum256(data)
	digest := hex.EncodeToString(sum[:])
	if name == "cohort.csv" && digest != co.Publication.DatasetHash {
		return nil, api.CohortFile{}, fmt.Errorf("cohort %s: stored dataset does not match the ledger's hash", co.Publication.ID)
	}
	return data, api.CohortFile{Name: name, MediaType: mediaTypes[name], Size: int64(len(data)), SHA256: digest}, nil
}

// Aggregate implements api.Aggregator: counts by up to four attributes of the cohort, with
// cells below the minimum size suppressed and enough others suppressed that no suppressed
// count can be recovered from the margins. Suppressed cells are left out.
func (c cohortStore) Aggregate(ctx context.Context, co model.Cohort, q api.AggregateQuery) (*api.AggregateResult, error) {
	if q.Statistic != "count" {
		return nil, fmt.Errorf("%w: only counts are released from cohorts", api.ErrQueryRefused)
	}
	tab, err := c.counts(ctx, co, q.GroupBy, api.ErrQueryRefused)
	if err != nil {
		return nil, err
	}
	res := &api.AggregateResult{Columns: append(append([]string{}, q.GroupBy...), "count"), Mechanism: "min-cell-size"}
	for _, cell := range tab.Cells {
		if cell.Suppressed {
			res.SuppressedCells++
			continue
		}
		res.Rows = append(res.Rows, api.AggregateRow{Values: cell.Values, Value: float64(cell.Count)})
	}
	return res, nil
}

// counts is the disclosure-controlled count table of a cohort; refusals wrap refused.
func (c cohortStore) counts(ctx context.Context, co model.Cohort, groupBy []string, refused error) (*anonymizer.CountTable, error) {
	data, _, err := c.read(ctx, co, "cohort.csv")
	if err != nil {
		return nil, err
	}
	t, err := anonymizer.ReadCSV(bytes.NewReader(data), anonymizer.CSVOptions{})
	if err != nil {
		return nil, err
	}
	if len(groupBy) == 0 || len(groupBy) > 4 {
		return nil, fmt.Errorf("%w: group by one to four attributes", refused)
	}
	for _, d := range groupBy {
		if _, ok := t.ColumnIndex(d); !ok || d == "row_id" {
			return nil, fmt.Errorf("%w: the cohort has no attribute %q", refused, d)
		}
	}
	rel, err := anonymizer.Counts(t, groupBy, anonymizer.CountOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", refused, err)
	}
	tab, ok := rel.Table(groupBy...)
	if !ok {
		return nil, fmt.Errorf("%w: no table over %v", refused, groupBy)
	}
	return tab, nil
}

// webCohorts adapts the cohort store to the web UI, which marks each withheld cell.
type webCohorts struct{ store cohortStore }

var _ web.CohortFiles = webCohorts{}
var _ web.Aggregator = webCohorts{}

// Files implements web.CohortFiles.
func (w webCohorts) Files(ctx context.Context, co model.Cohort) ([]web.CohortFile, error) {
	files, err := w.store.Files(ctx, co)
	if err != nil {
		return nil, err
	}
	out := make([]web.CohortFile, len(files))
	for i, f := range files {
		out[i] = web.CohortFile(f)
	}
	return out, nil
}

// Open implements web.CohortFiles.
func (w webCohorts) Open(ctx context.Context, co model.Cohort, name string) (io.ReadCloser, web.CohortFile, error) {
	rc, f, err := w.store.Open(ctx, co, name)
	if errors.Is(err, api.ErrCohortNotFound) {
		return nil, web.CohortFile{}, fmt.Errorf("%w: %v", web.ErrNoSuchFile, err)
	}
	return rc, web.CohortFile(f), err
}

// Aggregate implements web.Aggregator.
func (w webCohorts) Aggregate(ctx context.Context, co model.Cohort, q web.AggregateQuery) (*web.AggregateResult, error) {
	if q.Statistic != "" && q.Statistic != "count" {
		return nil, fmt.Errorf("%w: only counts are released from cohorts", web.ErrQueryRefused)
	}
	tab, err := w.store.counts(ctx, co, q.GroupBy, web.ErrQueryRefused)
	if err != nil {
		return nil, err
	}
	res := &web.AggregateResult{Columns: append(append([]string{}, q.GroupBy...), "count"), Mechanism: "min-cell-size"}
	for _, cell := range tab.Cells {
		res.Rows = append(res.Rows, web.AggregateRow{Values: cell.Values, Value: float64(cell.Count), Suppressed: cell.Suppressed})
	}
	return res, nil
}

// cohortPublisher builds and publishes cohorts as the calling anonymiser.
type cohortPublisher struct {
	svc   *gateway.Service
	blobs blob.Store
	log   *slog.Logger
}

var _ api.CohortPublisher = cohortPublisher{}

// Publish implements api.CohortPublisher.
func (p cohortPublisher) Publish(ctx context.Context, as *ledger.Client, req api.CohortRequest) (*model.Cohort, error) {
	res, err := cohort.NewPublisher(p.svc, as, p.blobs, p.log).Publish(ctx, cohort.Spec{
		ID: req.ID, Purpose: req.Purpose, K: req.K, L: req.L, T: req.T, SuppressionLimit: req.SuppressionLimit,
		Extract: req.Extract,
	})
	if errors.Is(err, cohort.ErrNoCohort) {
		return nil, fmt.Errorf("%w: %v", api.ErrCohortRefused, err)
	}
	if err != nil {
		return nil, err
	}
	return res.Cohort, nil
}
