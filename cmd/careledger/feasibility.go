package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/spf13/cobra"
)

// feasibilityCounter is the adapter between the API and the anonymiser's feasibility service.
type feasibilityCounter struct{ f *cohort.Feasibility }

var _ api.FeasibilityCounter = feasibilityCounter{}

// Feasibility implements api.FeasibilityCounter.
func (c feasibilityCounter) Feasibility(ctx context.Context, q api.FeasibilityQuery) (*api.FeasibilityAnswer, error) {
	a, err := c.f.Count(ctx, cohort.FeasibilityRequest{
		Requester: q.Requester, Purpose: q.Purpose, Definition: q.Definition,
		Rounding: q.Rounding, Threshold: q.Threshold, Epsilon: q.Epsilon,
	})
	switch {
	case errors.Is(err, cohort.ErrBudgetExhausted):
		return nil, fmt.Errorf("%w: %v", api.ErrBudgetExhausted, err)
	case errors.Is(err, cohort.ErrBadFeasibility), errors.Is(err, criteria.ErrInvalid):
		return nil, fmt.Errorf("%w: %v", api.ErrQueryRefused, err)
	case err != nil:
		return nil, err
	}
	out := api.FeasibilityAnswer(*a)
	return &out, nil
}

// feasibility returns the feasibility service, reading and recording as the operator's
// anonymiser identity.
func (s *stack) feasibility() (api.FeasibilityCounter, error) {
	u, err := loadUser(s.users, s.operator, model.RoleAnonymizer)
	if err != nil {
		return nil, fmt.Errorf("load the anonymiser identity: %w", err)
	}
	anon, err := s.clientFor(s.operator, u.CertificatePEM(), u.Sign)
	if err != nil {
		return nil, err
	}
	return feasibilityCounter{cohort.NewFeasibility(s.svc, anon, cohort.WithLogger(s.log.With("component", "feasibility")))}, nil
}

// Demo privacy budget: what `up` gives every manufacturer organisation for every research
// purpose on first start, so that feasibility counts work right away. A deployment sets its
// own with SetPrivacyBudget (the trust centre's admin).
const (
	demoBudgetEpsilon = 5.0
	demoBudgetQueries = 200
)

// ensureDemoBudgets sets the demo privacy budget for each client-only organisation and
// research purpose that has none yet, signed by the operator's admin.
func (s *stack) ensureDemoBudgets(ctx context.Context, users userSource) error {
	admin, err := loadUser(users, s.operator, model.RoleAdmin)
	if err != nil {
		return fmt.Errorf("load operator admin: %w", err)
	}
	c, err := s.clientFor(s.operator, admin.CertificatePEM(), admin.Sign)
	if err != nil {
		return err
	}
	for _, msp := range users.orgs() {
		if users.hasPeer(msp) {
			continue
		}
		for _, purpose := range model.ResearchPurposes {
			_, err := c.GetPrivacyBudget(ctx, msp, purpose)
			if err == nil {
				continue
			}
			if !errors.Is(err, &model.Error{Code: model.CodeNotFound}) {
				return fmt.Errorf("read privacy budget: %w", err)
			}
			if _, err := c.SetPrivacyBudget(ctx, model.PrivacyBudgetRequest{MSP: msp, Purpose: purpose, Epsilon: demoBudgetEpsilon, MaxQueries: demoBudgetQueries}); err != nil {
				return fmt.Errorf("set demo privacy budget: %w", err)
			}
		}
	}
	return nil
}

func feasibilityCmd(g *globals, f *clientFlags) *cobra.Command {
	var file string
	var threshold int
	req := client.FeasibilityRequest{}
	cmd := &cobra.Command{Use: "feasibility", Short: "How many consenting patients match a cohort definition (rounded, small counts withheld, optionally noisy; spends your organisation's privacy budget)", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			b, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			if _, err := criteria.Parse(b); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			req.Criteria = b
			if cmd.Flags().Changed("threshold") {
				req.Threshold = &threshold
			}
			a, err := s.c.Feasibility(cmd.Context(), req)
			if err != nil {
				return err
			}
			count := strconv.Itoa(a.Count)
			if a.Withheld {
				count = fmt.Sprintf("withheld (below %d)", a.Threshold)
			}
			row := []string{count, a.Mechanism, strconv.Itoa(a.Rounding), strconv.FormatFloat(a.Epsilon, 'g', -1, 64),
				strconv.FormatFloat(a.RemainingEpsilon, 'g', 4, 64), strconv.Itoa(a.RemainingQueries), a.Disclosure.TxID}
			rows := [][]string{row}
			if len(a.IncomparableUnits) > 0 {
				rows = append(rows, []string{"(lab values in units that could not be compared did not match: " + strings.Join(a.IncomparableUnits, ", ") + ")"})
			}
			return s.print(a, []string{"PATIENTS", "MECHANISM", "ROUNDING", "EPSILON", "EPSILON LEFT", "ANSWERS LEFT", "LEDGER TX"}, rows)
		})}
	cmd.Flags().StringVar(&file, "criteria", "", "the cohort definition, a JSON file (docs/cohort-criteria.md)")
	cmd.Flags().StringVar(&req.Purpose, "purpose", "", "research purpose the patients consented to")
	cmd.Flags().IntVar(&req.Rounding, "rounding", 10, "round the count to a multiple of this")
	cmd.Flags().IntVar(&threshold, "threshold", cohort.DefaultThreshold, "withhold rounded counts below this")
	cmd.Flags().Float64Var(&req.Epsilon, "epsilon", 0, "add Laplace noise for ε-differential privacy, charged to the budget (0: none)")
	cmd.Example = criteriaExample
	cmd.MarkFlagRequired("criteria")
	cmd.MarkFlagRequired("purpose")
	return cmd
}

func budgetCmd(g *globals, f *clientFlags) *cobra.Command {
	var msp, purpose string
	cmd := &cobra.Command{Use: "budget", Short: "A manufacturer organisation's privacy budget for a purpose", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			b, err := s.c.PrivacyBudget(cmd.Context(), msp, purpose)
			if err != nil {
				return err
			}
			return s.print(b, []string{"ORGANISATION", "PURPOSE", "EPSILON", "SPENT", "ANSWERS", "GIVEN", "SET"},
				[][]string{{b.MSP, b.Purpose, strconv.FormatFloat(b.Epsilon, 'g', -1, 64), strconv.FormatFloat(b.SpentEpsilon, 'g', 4, 64), strconv.Itoa(b.MaxQueries), strconv.Itoa(b.Queries), day(b.UpdatedAt)}})
		})}
	cmd.Flags().StringVar(&msp, "org", "", "the manufacturer organisation's MSP ID (default: your own)")
	cmd.Flags().StringVar(&purpose, "purpose", "", "research purpose")
	cmd.MarkFlagRequired("purpose")
	return cmd
}

func disclosuresCmd(g *globals, f *clientFlags) *cobra.Command {
	var msp string
	cmd := &cobra.Command{Use: "disclosures", Short: "Feasibility answers given, to whom and at what privacy cost", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			page, err := s.c.Disclosures(cmd.Context(), msp, client.Page{Size: 200})
			if err != nil {
				return err
			}
			var rows [][]string
			for _, d := range page.Disclosures {
				a := d.Answer
				count := strconv.Itoa(a.Count)
				if a.Withheld {
					count = "withheld"
				}
				rows = append(rows, []string{day(d.RecordedAt), a.Requester.MSP, a.Purpose, count, strconv.FormatFloat(a.Epsilon, 'g', -1, 64), a.QueryHash[:12]})
			}
			return s.print(page, []string{"WHEN", "TO", "PURPOSE", "COUNT", "EPSILON", "QUERY"}, rows)
		})}
	cmd.Flags().StringVar(&msp, "org", "", "one manufacturer organisation's MSP ID (default: all you may see)")
	return cmd
}

// criteriaExample is what `careledger manufacturer feasibility --help` shows.
const criteriaExample = `  careledger manufacturer feasibility --purpose drug-safety --criteria t2dm.json

  with t2dm.json (first type 2 diabetes diagnosis, metformin within 90 days, HbA1c > 7 % within a year):
  {"version": 1, "index": {"condition": "E11"},
   "include": [{"medication": "A10BA02", "window": {"fromDays": 0, "toDays": 90}},
               {"lab": {"loinc": "4548-4", "comparator": ">", "value": 7, "unit": "%"},
                "window": {"fromDays": 0, "toDays": 365}}]}`

// newAdminBudgetCmd sets a privacy budget, signed with the admin's own key.
func newAdminBudgetCmd(g *globals) *cobra.Command {
	f := &clientFlags{}
	var req model.PrivacyBudgetRequest
	cmd := &cobra.Command{Use: "budget", Short: "Set a manufacturer organisation's privacy budget for feasibility counts (the trust centre's admin)", Args: cobra.NoArgs,
		RunE: run(g, f, func(cmd *cobra.Command, s *session, _ []string) error {
			b, _, err := s.c.SetPrivacyBudget(cmd.Context(), req)
			if err != nil {
				return err
			}
			return s.print(b, []string{"ORGANISATION", "PURPOSE", "EPSILON", "SPENT", "ANSWERS", "GIVEN"},
				[][]string{{b.MSP, b.Purpose, strconv.FormatFloat(b.Epsilon, 'g', -1, 64), strconv.FormatFloat(b.SpentEpsilon, 'g', 4, 64), strconv.Itoa(b.MaxQueries), strconv.Itoa(b.Queries)}})
		})}
	f.register(cmd, "admin")
	cmd.Flags().StringVar(&req.MSP, "org", "", "the manufacturer organisation's MSP ID")
	cmd.Flags().StringVar(&req.Purpose, "purpose", "", "research purpose")
	cmd.Flags().Float64Var(&req.Epsilon, "epsilon", 1, "total ε that noisy answers may spend")
	cmd.Flags().IntVar(&req.MaxQueries, "queries", 100, "total answers of any kind")
	cmd.MarkFlagRequired("org")
	cmd.MarkFlagRequired("purpose")
	return cmd
}
