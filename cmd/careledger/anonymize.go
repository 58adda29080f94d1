package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/careledger/careledger/anonymizer"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
)

// anonymizeFlags configure `careledger anonymize`.
type anonymizeFlags struct {
	input, output, parquet, report, metric string
	qis, sensitive, identifying            []string
	k, l                                   int
	lVariant                               string
	c, t, suppression, maxRisk             float64
	exhaustive, mondrian, quiet            bool
}

func newAnonymizeCmd() *cobra.Command {
	f := &anonymizeFlags{}
	cmd := &cobra.Command{
		Use:   "anonymize",
		Short: "Anonymise a CSV table with generalisation hierarchies and print the report",
		Long: `anonymize runs the anonymisation engine on a CSV file (header line, ';' or ',').
Quasi-identifiers are given with their ARX-format hierarchy files (--qi age=hierarchy_age.csv);
--sensitive attributes are protected by l-diversity or t-closeness; --identifying attributes are
removed; all others are released unchanged. The JSON report (--report, or stdout) names the
generalisation level chosen per quasi-identifier and the value of the utility metric.
Flags that would have no effect (--l or --t without --sensitive, an attribute given two roles
or twice, --suppression with --mondrian) are refused, as is a k above the number of records;
on any error nothing is written.

Example (UCI Adult from ARX):
  careledger anonymize --input adult.csv --k 5 --suppression 0.04 \
    --qi age=adult_hierarchy_age.csv --qi sex=adult_hierarchy_sex.csv ...`,
		RunE: func(cmd *cobra.Command, _ []string) error { return runAnonymize(cmd, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.input, "input", "", "input CSV (required)")
	fl.StringVar(&f.output, "output", "", "write the anonymised table as CSV here")
	fl.StringVar(&f.parquet, "parquet", "", "write the anonymised table as Parquet here")
	fl.StringVar(&f.report, "report", "", "write the JSON report here (default: stdout)")
	fl.StringArrayVar(&f.qis, "qi", nil, "quasi-identifier and its hierarchy file, name=path (repeatable)")
	fl.StringArrayVar(&f.sensitive, "sensitive", nil, "sensitive attribute (repeatable)")
	fl.StringArrayVar(&f.identifying, "identifying", nil, "identifying attribute, removed (repeatable)")
	fl.IntVar(&f.k, "k", 5, "k of k-anonymity (0: none)")
	fl.IntVar(&f.l, "l", 0, "l of l-diversity on each --sensitive attribute (0: none)")
	fl.StringVar(&f.lVariant, "l-variant", "distinct", "distinct, entropy or recursive")
	fl.Float64Var(&f.c, "c", 0, "c of recursive (c,l)-diversity")
	fl.Float64Var(&f.t, "t", 0, "t of equal-distance t-closeness on each --sensitive attribute (0: none)")
	fl.Float64Var(&f.maxRisk, "max-risk", 0, "highest re-identification risk allowed per record (0: none)")
	fl.Float64Var(&f.suppression, "suppression", 0, "share of records that may be suppressed (0..1)")
	fl.StringVar(&f.metric, "metric", "", "utility metric to minimise (default: non-uniform entropy)")
	fl.BoolVar(&f.exhaustive, "exhaustive", false, "search the whole lattice instead of pruning")
	fl.BoolVar(&f.mondrian, "mondrian", false, "local recoding (Mondrian) instead of full-domain generalisation")
	fl.BoolVar(&f.quiet, "quiet", false, "no progress bar")
	cmd.MarkFlagRequired("input")
	return cmd
}

// check refuses flag combinations the command would otherwise drop or
// resolve silently, before any file is read or written. The engine checks
// the models' parameters against the table itself (k above the number of
// records, say), so that the API and cohort publishing refuse the same.
// changed says whether a flag was set on the command line.
func (f *anonymizeFlags) check(changed func(flag string) bool) error {
	switch {
	case f.k < 0:
		return fmt.Errorf("--k %d: want a positive k, or 0 for no k-anonymity", f.k)
	case f.l < 0:
		return fmt.Errorf("--l %d: want a positive l, or 0 for no l-diversity", f.l)
	case !(f.t >= 0 && f.t <= 1):
		return fmt.Errorf("--t %v: want t in (0,1], or 0 for no t-closeness", f.t)
	case !(f.maxRisk >= 0 && f.maxRisk <= 1):
		return fmt.Errorf("--max-risk %v: want a risk in (0,1], or 0 for none", f.maxRisk)
	case f.l > 0 && len(f.sensitive) == 0:
		return errors.New("--l needs --sensitive: l-diversity protects sensitive attributes, and none is named")
	case f.t > 0 && len(f.sensitive) == 0:
		return errors.New("--t needs --sensitive: t-closeness protects sensitive attributes, and none is named")
	case !slices.Contains([]string{"distinct", "entropy", "recursive"}, f.lVariant):
		return fmt.Errorf("--l-variant %q: want distinct, entropy or recursive", f.lVariant)
	case changed("l-variant") && f.l == 0:
		return errors.New("--l-variant needs --l")
	case changed("c") && (f.l == 0 || f.lVariant != "recursive"):
		return errors.New("--c needs --l and --l-variant recursive")
	}
	if f.mondrian {
		for _, name := range []string{"suppression", "metric", "exhaustive"} {
			if changed(name) {
				return fmt.Errorf("--%s has no effect with --mondrian, which neither suppresses records nor searches a lattice", name)
			}
		}
	}
	// Each attribute is given one role, once.
	role := map[string]string{}
	assign := func(flag, name string) error {
		if prev, ok := role[name]; ok {
			if prev == flag {
				return fmt.Errorf("--%s %s given twice", flag, name)
			}
			return fmt.Errorf("%s is given as --%s and as --%s; an attribute has one role", name, prev, flag)
		}
		role[name] = flag
		return nil
	}
	for _, spec := range f.qis {
		name, _, ok := strings.Cut(spec, "=")
		if !ok {
			return fmt.Errorf("--qi %q: want name=hierarchy.csv", spec)
		}
		if err := assign("qi", name); err != nil {
			return err
		}
	}
	for _, name := range f.sensitive {
		if err := assign("sensitive", name); err != nil {
			return err
		}
	}
	for _, name := range f.identifying {
		if err := assign("identifying", name); err != nil {
			return err
		}
	}
	return nil
}

func runAnonymize(cmd *cobra.Command, f *anonymizeFlags) error {
	if err := f.check(cmd.Flags().Changed); err != nil {
		return err
	}
	in, err := os.Open(f.input)
	if err != nil {
		return err
	}
	defer in.Close()
	table, err := anonymizer.ReadCSV(in, anonymizer.CSVOptions{})
	if err != nil {
		return err
	}
	cfg := anonymizer.Config{Hierarchies: map[string]*anonymizer.Hierarchy{}, SuppressionLimit: f.suppression}
	for _, spec := range f.qis {
		name, path, _ := strings.Cut(spec, "=")
		h, err := readHierarchy(path)
		if err != nil {
			return fmt.Errorf("--qi %s: %w", name, err)
		}
		if err := table.SetType(name, anonymizer.QuasiIdentifying); err != nil {
			return err
		}
		cfg.Hierarchies[name] = h
	}
	for _, name := range f.identifying {
		if err := table.SetType(name, anonymizer.Identifying); err != nil {
			return err
		}
	}
	for _, name := range f.sensitive {
		if err := table.SetType(name, anonymizer.Sensitive); err != nil {
			return err
		}
		switch {
		case f.l > 0 && f.lVariant == "distinct":
			cfg.Criteria = append(cfg.Criteria, anonymizer.DistinctLDiversity(name, f.l))
		case f.l > 0 && f.lVariant == "entropy":
			cfg.Criteria = append(cfg.Criteria, anonymizer.EntropyLDiversity(name, float64(f.l)))
		case f.l > 0 && f.lVariant == "recursive":
			cfg.Criteria = append(cfg.Criteria, anonymizer.RecursiveCLDiversity(name, f.c, f.l))
		}
		if f.t > 0 {
			cfg.Criteria = append(cfg.Criteria, anonymizer.EqualDistanceTCloseness(name, f.t))
		}
	}
	if f.k > 0 {
		cfg.Criteria = append(cfg.Criteria, anonymizer.KAnonymity(f.k))
	}
	if f.maxRisk > 0 {
		cfg.Criteria = append(cfg.Criteria, anonymizer.HighestRisk(f.maxRisk))
	}
	if f.metric != "" {
		if cfg.Metric, err = anonymizer.ParseMetric(f.metric); err != nil {
			return err
		}
	}
	if f.exhaustive {
		cfg.Search = anonymizer.Exhaustive
	}
	errOut := cmd.ErrOrStderr()
	var bar *progressbar.ProgressBar
	if !f.quiet {
		cfg.Progress = func(done, total int) {
			if bar == nil {
				bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(errOut), progressbar.OptionSetDescription("transformations"), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
			}
			bar.Set(done)
		}
	}
	run := anonymizer.Anonymize
	if f.mondrian {
		run = anonymizer.Mondrian
	}
	res, err := run(cmd.Context(), table, cfg)
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if err := writeTo(f.output, func(w io.Writer) error { return res.Output.WriteCSV(w, ';') }); err != nil {
		return err
	}
	if err := writeTo(f.parquet, res.Output.WriteParquet); err != nil {
		return err
	}
	if f.report == "" {
		return res.Report.WriteJSON(cmd.OutOrStdout())
	}
	return writeTo(f.report, res.Report.WriteJSON)
}

func readHierarchy(path string) (*anonymizer.Hierarchy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return anonymizer.ReadHierarchyCSV(f)
}

// writeTo writes to path through a temporary file renamed into place; "" writes nothing.
func writeTo(path string, write func(io.Writer) error) error {
	if path == "" {
		return nil
	}
	tmp, err := os.CreateTemp(dirOf(path), ".careledger-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func dirOf(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[:i+1]
	}
	return "."
}
