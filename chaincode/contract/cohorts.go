package contract

import (
	"math"
	"slices"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// PublishCohort records an anonymised cohort: its dataset hash, row counts, the privacy models
// and parameters it was checked against, the quasi-identifiers, and the hash of the research
// consent snapshot it was built from. Only the anonymiser publishes. Emits CohortPublished.
func (c *Contract) PublishCohort(ctx contractapi.TransactionContextInterface, publication string) (*model.Cohort, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if err := t.require(model.RoleAnonymizer); err != nil {
		return nil, err
	}
	var p model.CohortPublication
	if err := decode("publication", publication, &p); err != nil {
		return nil, err
	}
	if err := t.checkPublication(&p); err != nil {
		return nil, err
	}
	key := t.key(kindCohort, p.ID)
	if ok, err := t.exists(key); err != nil {
		return nil, err
	} else if ok {
		return nil, model.Errorf(model.CodeConflict, "cohort %s already exists", p.ID)
	}
	co := &model.Cohort{Publication: p, Publisher: t.caller.Party, PublishedAt: t.now, TxID: t.id}
	if err := t.put(key, co); err != nil {
		return nil, err
	}
	return co, t.emit(model.EventCohortPublished, model.Event{CohortID: p.ID, Actor: t.caller.ID})
}

func (t *txn) checkPublication(p *model.CohortPublication) error {
	bad := func(format string, args ...any) error {
		return model.Errorf(model.CodeInvalidArgument, format, args...)
	}
	if err := checkID("id", p.ID); err != nil {
		return err
	}
	if err := checkHash("datasetHash", p.DatasetHash); err != nil {
		return err
	}
	if p.ReportHash != "" {
		if err := checkHash("reportHash", p.ReportHash); err != nil {
			return err
		}
	}
	if err := checkHash("consentSnapshotHash", p.ConsentSnapshotHash); err != nil {
		return err
	}
	if p.QueryHash != "" {
		if err := checkHash("queryHash", p.QueryHash); err != nil {
			return err
		}
	}
	if p.Locator != "" && !model.ValidLocator(p.Locator) {
		return bad("locator must be 1-256 characters of letters, digits and ':/._-'")
	}
	if p.RowCount < 1 || p.SuppressedRows < 0 {
		return bad("rowCount must be at least 1 and suppressedRows not negative")
	}
	if err := checkOneOf("purpose", p.Purpose, model.ResearchPurposes); err != nil {
		return err
	}
	var err error
	if p.Models, err = checkSet("models", p.Models, model.PrivacyModels); err != nil {
		return err
	}
	dpOnly := len(p.Models) == 1 && p.Models[0] == "differential-privacy"
	if len(p.QuasiIdentifiers) == 0 && dpOnly {
		p.QuasiIdentifiers = []string{}
	} else {
		if p.QuasiIdentifiers, err = checkSet("quasiIdentifiers", p.QuasiIdentifiers, nil); err != nil {
			return err
		}
		for _, q := range p.QuasiIdentifiers {
			if !model.ValidAttributeName(q) {
				return bad("quasiIdentifiers: %q is not a valid attribute name", q)
			}
		}
	}
	pp := p.Parameters
	// In a fixed order, so that every peer names the same parameter when several are bad.
	for _, p := range []struct {
		name string
		v    float64
	}{{"l", pp.L}, {"c", pp.C}, {"t", pp.T}, {"epsilon", pp.Epsilon}, {"delta", pp.Delta}, {"maxRisk", pp.MaxRisk}, {"suppressionLimit", pp.SuppressionLimit}} {
		if math.IsNaN(p.v) || math.IsInf(p.v, 0) || p.v < 0 {
			return bad("parameters.%s must be a finite number, not negative", p.name)
		}
	}
	has := func(m string) bool { return slices.Contains(p.Models, m) }
	switch {
	case pp.SuppressionLimit > 1:
		return bad("parameters.suppressionLimit is a fraction between 0 and 1")
	case has("k-anonymity") && pp.K < 2, !has("k-anonymity") && pp.K != 0:
		return bad("parameters.k must be 2 or more with k-anonymity, and only then")
	case has("l-diversity") && (pp.L < 2 || !slices.Contains([]string{"distinct", "entropy", "recursive"}, pp.LVariant)):
		return bad("l-diversity needs parameters.l of 2 or more and lVariant distinct, entropy or recursive")
	case has("l-diversity") && pp.LVariant == "recursive" && pp.C <= 0:
		return bad("recursive (c,l)-diversity needs parameters.c above 0")
	case !has("l-diversity") && (pp.L != 0 || pp.LVariant != "" || pp.C != 0):
		return bad("parameters.l, lVariant and c belong to l-diversity only")
	case has("t-closeness") != (pp.T > 0) || pp.T > 1:
		return bad("parameters.t must be in (0,1] with t-closeness, and only then")
	case has("differential-privacy") != (pp.Epsilon > 0), pp.Delta >= 1:
		return bad("parameters.epsilon must be above 0 with differential-privacy, and only then; delta below 1")
	case has("risk-threshold") != (pp.MaxRisk > 0) || pp.MaxRisk > 1:
		return bad("parameters.maxRisk must be in (0,1] with risk-threshold, and only then")
	}
	return nil
}

// GetCohort returns one cohort publication. Every member of the consortium may read
// publications: they describe anonymised data and name nobody.
func (c *Contract) GetCohort(ctx contractapi.TransactionContextInterface, cohortID string) (*model.Cohort, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if t.caller.Role == "" {
		return nil, model.Errorf(model.CodeForbidden, "the caller has no CareLedger role")
	}
	if err := checkID("cohortId", cohortID); err != nil {
		return nil, err
	}
	var co model.Cohort
	ok, err := t.get(t.key(kindCohort, cohortID), &co)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, model.Errorf(model.CodeNotFound, "cohort %s not found", cohortID)
	}
	return &co, nil
}

// ListCohorts lists cohort publications in ID order. Evaluate it; do not submit it.
func (c *Contract) ListCohorts(ctx contractapi.TransactionContextInterface, pageSize int, bookmark string) (*model.CohortPage, error) {
	t, err := begin(ctx)
	if err != nil {
		return nil, err
	}
	if t.caller.Role == "" {
		return nil, model.Errorf(model.CodeForbidden, "the caller has no CareLedger role")
	}
	size, err := checkPageSize(pageSize)
	if err != nil {
		return nil, err
	}
	out := &model.CohortPage{Cohorts: []model.Cohort{}}
	out.Bookmark, err = t.page(kindCohort, nil, bookmark, size, func(_ string, value []byte) (bool, error) {
		var co model.Cohort
		if err := unmarshal(value, &co); err != nil {
			return false, err
		}
		out.Cohorts = append(out.Cohorts, co)
		return true, nil
	})
	return out, err
}
