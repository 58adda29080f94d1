package anonymizer

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// DefaultCohortRows is the size of the synthetic cohort benchmark.
const DefaultCohortRows = 1_200_000

// DefaultCohortSeed is the seed of the synthetic cohort benchmark.
const DefaultCohortSeed = 20260101

// BenchAdult runs the Adult benchmark on the data ARX ships (adult.csv and
// its hierarchies in dir) and prints, for each setting, the optimal
// transformation under non-uniform entropy, its loss, the pruned and
// exhaustive search times, the transformations each evaluated and
// records/s. Pruned times are the best of several runs, as the searches
// are short.
func BenchAdult(ctx context.Context, w io.Writer, dir string) error {
	t, hs, err := LoadAdult(dir)
	if err != nil {
		return fmt.Errorf("bench adult: %w", err)
	}
	settings := []struct {
		name string
		qis  int
		k    int
		sup  float64
		t    float64 // > 0: salary-class sensitive, equal-distance t-closeness
	}{
		{"9 QIs, k=5, 4% suppression", 9, 5, 0.04, 0},
		{"9 QIs, k=5, 0% suppression", 9, 5, 0, 0},
		{"9 QIs, k=100, 0% suppression", 9, 100, 0, 0},
		{"9 QIs, k=100, 4% suppression", 9, 100, 0.04, 0},
		{"8 QIs (as ARX 2014), k=5, 0%", 8, 5, 0, 0},
		{"8 QIs, k=3, 0.2-closeness (equal) of salary-class, 4%", 8, 3, 0.04, 0.2},
	}
	fmt.Fprintf(w, "Adult: %d records, %d attributes, %s, GOMAXPROCS=%d\n", t.NumRows(), len(t.Columns()), runtime.GOARCH, runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "setting\toptimum (levels)\tloss (NUE)\tpruned\tnodes\texhaustive\tnodes\trecords/s (pruned)\tsame optimum")
	for _, s := range settings {
		tt := t
		criteria := []Criterion{KAnonymity(s.k)}
		if s.qis == 8 {
			typ := Insensitive
			if s.t > 0 {
				typ = Sensitive
				criteria = append(criteria, EqualDistanceTCloseness("salary-class", s.t))
			}
			tt = cloneTypes(t)
			if err := tt.SetType("salary-class", typ); err != nil {
				return err
			}
		}
		cfg := Config{Hierarchies: hs, Criteria: criteria, SuppressionLimit: s.sup}
		var best *Result
		bestMs := 0.0
		for range 5 {
			r, err := Anonymize(ctx, tt, cfg)
			if err != nil {
				return fmt.Errorf("bench adult: %s: %w", s.name, err)
			}
			if best == nil || r.Report.Search.SearchMillis < bestMs {
				best, bestMs = r, r.Report.Search.SearchMillis
			}
		}
		cfg.Search = Exhaustive
		ex, err := Anonymize(ctx, tt, cfg)
		if err != nil {
			return fmt.Errorf("bench adult: %s: %w", s.name, err)
		}
		same := slices.Equal(best.Report.Transformation, ex.Report.Transformation)
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f ms\t%d\t%.0f ms\t%d\t%.0f\t%v\n", s.name, levelsString(best.Report.Transformation),
			best.Report.Utility.NonUniformEntropy, bestMs, best.Report.Search.Evaluated,
			ex.Report.Search.SearchMillis, ex.Report.Search.Evaluated, float64(t.NumRows())/(bestMs/1000), same)
	}
	return tw.Flush()
}

func cloneTypes(t *Table) *Table {
	c := &Table{rows: t.rows}
	for _, col := range t.cols {
		cc := *col
		c.cols = append(c.cols, &cc)
	}
	return c
}

func levelsString(l []QILevel) string {
	parts := make([]string, len(l))
	for i, q := range l {
		parts[i] = fmt.Sprintf("%s=%d/%d", q.Attribute, q.Level, q.Height)
	}
	return strings.Join(parts, " ")
}

// memPeak samples the heap while a benchmark runs.
type memPeak struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

func watchMemory() *memPeak {
	runtime.GC()
	m := &memPeak{stop: make(chan struct{})}
	m.done.Add(1)
	go func() {
		defer m.done.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			m.peak = max(m.peak, ms.HeapInuse+ms.StackInuse)
			select {
			case <-m.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return m
}

func (m *memPeak) finish() uint64 {
	close(m.stop)
	m.done.Wait()
	return m.peak
}

// BenchCohort generates the synthetic cohort (rows records from seed) and
// anonymises it with k=5 and k=11, distinct 3-diversity of the diagnosis and
// a 5% suppression limit, printing time, records/s and peak heap (input
// table included) for each.
func BenchCohort(ctx context.Context, w io.Writer, rows int, seed uint64) error {
	start := time.Now()
	t, err := SyntheticCohort(seed, rows)
	if err != nil {
		return fmt.Errorf("bench cohort: %w", err)
	}
	gen := time.Since(start)
	hs, err := CohortHierarchies(t)
	if err != nil {
		return fmt.Errorf("bench cohort: %w", err)
	}
	fmt.Fprintf(w, "Synthetic cohort: %d records generated in %v (seed %d), QIs age/sex/postal_code/admission_date, sensitive diagnosis, GOMAXPROCS=%d\n",
		rows, gen.Round(time.Millisecond), seed, runtime.GOMAXPROCS(0))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "setting\toptimum (levels)\tsuppressed\tclasses\tnodes\tsearch\ttotal\trecords/s\tpeak heap")
	for _, k := range []int{5, 11} {
		cfg := Config{Hierarchies: hs, SuppressionLimit: 0.05,
			Criteria: []Criterion{KAnonymity(k), DistinctLDiversity(CohortDiagnosis, 3)}}
		mp := watchMemory()
		st := time.Now()
		r, err := Anonymize(ctx, t, cfg)
		el := time.Since(st)
		peak := mp.finish()
		if err != nil {
			return fmt.Errorf("bench cohort: k=%d: %w", k, err)
		}
		fmt.Fprintf(tw, "k=%d, distinct-3-diversity(diagnosis), 5%%\t%s\t%d\t%d\t%d/%d\t%.2f s\t%.2f s\t%.0f\t%d MiB\n", k,
			levelsString(r.Report.Transformation), r.Report.Rows.Suppressed, r.Report.Rows.Classes,
			r.Report.Search.Evaluated, r.Report.Search.LatticeSize, r.Report.Search.SearchMillis/1000, el.Seconds(),
			float64(rows)/el.Seconds(), peak>>20)
	}
	return tw.Flush()
}

// BenchDPRelease releases differentially private counts per age band ×
// sex × three-digit postal area × ICD-10 chapter at ε=1 from the synthetic
// cohort and prints the time, cells and error figures against the true
// counts.
func BenchDPRelease(ctx context.Context, w io.Writer, rows int, seed uint64) error {
	t, err := SyntheticCohort(seed, rows)
	if err != nil {
		return fmt.Errorf("bench dp: %w", err)
	}
	hs, err := CohortHierarchies(t)
	if err != nil {
		return fmt.Errorf("bench dp: %w", err)
	}
	for _, g := range []struct {
		src, dst string
		level    int
	}{
		{CohortAge, "age_band", 2}, {CohortPostalCode, "postal_area", 2}, {CohortDiagnosis, "icd_chapter", 3},
	} {
		if err := t.AddGeneralized(g.src, g.dst, hs[g.src], g.level); err != nil {
			return fmt.Errorf("bench dp: %w", err)
		}
	}
	// Public domains: fixed lists that do not depend on the data.
	var bands, areas []string
	for a := 0; a <= 100; a += 10 {
		bands = append(bands, fmt.Sprintf("%d-%d", a, a+9))
	}
	for z := 0; z < 1000; z++ {
		areas = append(areas, fmt.Sprintf("%03d**", z))
	}
	q := DPQuery{
		Dimensions:   []string{"age_band", CohortSex, "postal_area", "icd_chapter"},
		Domains:      map[string][]string{"age_band": bands, CohortSex: {"female", "male", "other", "unknown"}, "postal_area": areas, "icd_chapter": icd10Chapters},
		PersonColumn: CohortPatientID,
		Epsilon:      1,
	}
	acct, err := NewAccountant(1, nil)
	if err != nil {
		return err
	}
	st := time.Now()
	rel, err := acct.Counts(t, "bench", q)
	if err != nil {
		return fmt.Errorf("bench dp: %w", err)
	}
	el := time.Since(st)
	if err := ctx.Err(); err != nil {
		return err
	}
	// True counts for the error figures (one admission per patient, so
	// bounding changes nothing here).
	truth := map[string]int64{}
	cols := make([]int, len(q.Dimensions))
	for i, d := range q.Dimensions {
		cols[i], _ = t.ColumnIndex(d)
	}
	for r := 0; r < t.NumRows(); r++ {
		var sb strings.Builder
		for _, c := range cols {
			sb.WriteString(t.Value(r, c))
			sb.WriteByte(0)
		}
		truth[sb.String()]++
	}
	var absErr float64
	nonEmpty := 0
	for _, c := range rel.Cells {
		k := strings.Join(c.Values, "\x00") + "\x00"
		d := float64(c.Count - truth[k])
		absErr += max(d, -d)
		if truth[k] > 0 {
			nonEmpty++
		}
	}
	fmt.Fprintf(w, "DP counts (age band × sex × ZIP3 × ICD-10 chapter), ε=%v, Laplace scale %.1f: %d cells (%d non-empty) from %d records in %v; mean absolute error %.2f; budget left %.2f\n",
		q.Epsilon, rel.NoiseScale, len(rel.Cells), nonEmpty, t.NumRows(), el.Round(time.Millisecond), absErr/float64(len(rel.Cells)), acct.Remaining("bench"))
	return nil
}
