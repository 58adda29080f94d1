package web

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/ledger"
)

// cohortRow is a published cohort with its files, if a file service is configured.
type cohortRow struct {
	model.Cohort
	Files      []CohortFile
	FilesError string
	Params     []fact
}

func params(p model.PrivacyParameters) []fact {
	var out []fact
	add := func(label string, on bool, value string) {
		if on {
			out = append(out, fact{label, value})
		}
	}
	add("k (each person hides among at least k)", p.K > 0, strconv.Itoa(p.K))
	add("l (distinct sensitive values per group)", p.L > 0, trimFloat(p.L)+" "+p.LVariant)
	add("c", p.C > 0, trimFloat(p.C))
	add("t (closeness of distributions)", p.T > 0, trimFloat(p.T))
	add("ε (differential privacy)", p.Epsilon > 0, trimFloat(p.Epsilon))
	add("δ", p.Delta > 0, trimFloat(p.Delta))
	add("highest re-identification risk", p.MaxRisk > 0, trimFloat(p.MaxRisk))
	add("suppression limit", true, trimFloat(p.SuppressionLimit*100)+" %")
	return out
}

func (s *server) manufacturerHome(w http.ResponseWriter, r *http.Request, v *viewer) {
	ctx := r.Context()
	cohorts, more, err := collect(ctx, func(p ledger.Page) ([]model.Cohort, string, error) {
		cp, err := v.client.ListCohorts(ctx, p)
		if err != nil {
			return nil, "", err
		}
		return cp.Cohorts, cp.Bookmark, nil
	})
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	slices.SortStableFunc(cohorts, func(a, b model.Cohort) int { return b.PublishedAt.Compare(a.PublishedAt) })
	rows := make([]cohortRow, 0, len(cohorts))
	for _, c := range cohorts {
		row := cohortRow{Cohort: c, Params: params(c.Publication.Parameters)}
		if s.cfg.CohortFiles != nil {
			files, err := s.cfg.CohortFiles.Files(ctx, c)
			if err != nil {
				_, row.FilesError = s.explain(err)
			}
			row.Files = files
		}
		rows = append(rows, row)
	}
	data := map[string]any{"Cohorts": rows, "More": more, "FilesOn": s.cfg.CohortFiles != nil, "QueriesOn": s.cfg.Aggregator != nil}
	s.render(w, r, http.StatusOK, "manufacturer_home", v, "Published cohorts", data)
}

// cohort reads the cohort named in the path from the ledger, as the viewer.
func (s *server) cohort(w http.ResponseWriter, r *http.Request, v *viewer) (*model.Cohort, bool) {
	id := r.PathValue("cohortID")
	if !model.ValidID(id) {
		s.fail(w, r, v, http.StatusNotFound, "There is no such cohort.")
		return nil, false
	}
	c, err := v.client.GetCohort(r.Context(), id)
	if err != nil {
		s.failErr(w, r, v, err)
		return nil, false
	}
	return c, true
}

func (s *server) manufacturerFile(w http.ResponseWriter, r *http.Request, v *viewer) {
	if s.cfg.CohortFiles == nil {
		s.fail(w, r, v, http.StatusNotImplemented, "Downloads are not available on this server.")
		return
	}
	c, ok := s.cohort(w, r, v)
	if !ok {
		return
	}
	name := r.PathValue("name")
	if !model.ValidID(name) {
		s.fail(w, r, v, http.StatusNotFound, "This cohort has no such file.")
		return
	}
	rc, f, err := s.cfg.CohortFiles.Open(r.Context(), *c, name)
	if err != nil {
		s.failErr(w, r, v, err)
		return
	}
	defer rc.Close()
	mt := f.MediaType
	if !model.ValidMediaType(mt) {
		mt = "application/octet-stream"
	}
	h := w.Header()
	h.Set("Content-Type", mt)
	h.Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", name))
	h.Set("Content-Security-Policy", "sandbox; default-src 'none'")
	if f.Size > 0 {
		h.Set("Content-Length", strconv.FormatInt(f.Size, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.Copy(w, rc) // a broken download is the browser's to retry
}

// queryAttrs are the attributes a cohort offers for grouping.
func queryAttrs(c *model.Cohort) []string {
	return slices.Clone(c.Publication.QuasiIdentifiers)
}

func (s *server) manufacturerQueryPage(w http.ResponseWriter, r *http.Request, v *viewer) {
	c, ok := s.cohort(w, r, v)
	if !ok {
		return
	}
	s.queryPage(w, r, v, c, http.StatusOK, "", nil, nil)
}

func (s *server) queryPage(w http.ResponseWriter, r *http.Request, v *viewer, c *model.Cohort, status int, problem string, q *AggregateQuery, res *AggregateResult) {
	data := map[string]any{"Cohort": c, "Attrs": queryAttrs(c), "Available": s.cfg.Aggregator != nil, "Query": q, "Result": res, "Statistics": []string{"count", "sum", "mean"}, "Group1": "", "Group2": "", "Statistic": "count", "Attribute": ""}
	// Keep the form as it was asked, so the person can change one thing and ask again.
	if f := r.PostForm; f != nil {
		data["Group1"], data["Group2"], data["Statistic"], data["Attribute"] = f.Get("group1"), f.Get("group2"), f.Get("statistic"), f.Get("attribute")
	}
	if res != nil {
		data["Chart"] = newChart(res)
		data["Suppressed"] = countSuppressed(res)
	}
	s.renderWith(w, r, status, "manufacturer_query", v, s.csrf.token(v.binding), "Ask a cohort", data, problem)
}

func (s *server) manufacturerQuery(w http.ResponseWriter, r *http.Request, v *viewer) {
	c, ok := s.cohort(w, r, v)
	if !ok {
		return
	}
	if s.cfg.Aggregator == nil {
		s.queryPage(w, r, v, c, http.StatusNotImplemented, "Queries are not available on this server.", nil, nil)
		return
	}
	q, err := parseQueryForm(r.PostForm, queryAttrs(c))
	var res *AggregateResult
	if err == nil {
		res, err = s.cfg.Aggregator.Aggregate(r.Context(), *c, q)
	}
	if err != nil {
		status, msg := s.explain(err)
		s.queryPage(w, r, v, c, status, msg, &q, nil)
		return
	}
	s.queryPage(w, r, v, c, http.StatusOK, "", &q, res)
}

func countSuppressed(res *AggregateResult) int {
	n := 0
	for _, row := range res.Rows {
		if row.Suppressed {
			n++
		}
	}
	return n
}

// chart is a horizontal bar chart laid out on the server as plain SVG numbers: no script and
// no external library draws it, and it reads the same with styles off.
type chart struct {
	Width, Height int
	LabelWidth    int
	Bars          []bar
}

type bar struct {
	Label      string
	Value      string
	Y, W       int
	TextY      int
	ValueX     int
	Suppressed bool
}

const (
	chartWidth  = 760
	chartLabelW = 260
	barHeight   = 32
	barGap      = 10
	maxBars     = 60
)

func newChart(res *AggregateResult) *chart {
	c := &chart{Width: chartWidth, LabelWidth: chartLabelW}
	maxV := 0.0
	for _, row := range res.Rows {
		if !row.Suppressed && row.Value > maxV {
			maxV = row.Value
		}
	}
	span := chartWidth - chartLabelW - 90
	for i, row := range res.Rows {
		if i == maxBars {
			break
		}
		y := i * (barHeight + barGap)
		b := bar{Label: strings.Join(row.Values, " · "), Y: y, TextY: y + barHeight/2 + 6, Suppressed: row.Suppressed}
		if row.Suppressed {
			b.Value = "suppressed"
			b.W = span / 12 // a small hatched stub, labelled, so the gap is visible but not a value
		} else {
			b.Value = trimFloat(roundTo(row.Value, 2))
			if maxV > 0 && row.Value > 0 {
				b.W = max(1, int(float64(span)*row.Value/maxV))
			}
		}
		if r := []rune(b.Label); len(r) > 30 {
			b.Label = string(r[:29]) + "…"
		}
		b.ValueX = chartLabelW + b.W + 8
		c.Bars = append(c.Bars, b)
	}
	c.Height = len(c.Bars)*(barHeight+barGap) + barGap
	return c
}

func roundTo(f float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	v := f * p
	if v < 0 {
		return float64(int64(v-0.5)) / p
	}
	return float64(int64(v+0.5)) / p
}
