package cohort

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/careledger/careledger/anonymizer"
	"github.com/careledger/careledger/anonymizer/cohort/criteria"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
)

// extractReaders is how many consenting patients an extract reads at once: reads are
// latency-bound (the ledger's decision and the durable audit entry of each).
const extractReaders = 16

// ExtractReport is the report.json of an extract cohort: the engine's report (models,
// transformation, utility loss, and prosecutor, journalist and marketer risk, the latter two
// against the consenting population) and what the extract was.
type ExtractReport struct {
	anonymizer.Report
	Extract ExtractSummary `json:"extract"`
}

// ExtractSummary says what an extract was built from.
type ExtractSummary struct {
	// QueryHash is the definition's hash, as recorded on the ledger.
	QueryHash  string   `json:"query_hash"`
	Definition *Extract `json:"definition"`
	// ReferenceDate is the day ages were computed at.
	ReferenceDate string `json:"reference_date"`
	// Matched counts the patients in the cohort before suppression (rows out plus rows
	// suppressed, as the ledger says too). How many patients consented is not said: that
	// count goes to manufacturers only through feasibility answers, rounded and withheld
	// when small.
	Matched int `json:"matched"`
	// IncomparableUnits lists lab units that could not be converted ("from→to"); those
	// results were left out.
	IncomparableUnits []string `json:"incomparable_units,omitempty"`
	// DateShift says how shifted dates were shifted (the offsets themselves are gone).
	DateShift string `json:"date_shift,omitempty"`
}

// PrepareExtract fills in the definition's reference date (the day it is answered for, when
// it names none) so that its hash names the question exactly.
func PrepareExtract(x *Extract, today time.Time) *Extract {
	c := *x
	if c.Cohort != nil && c.Cohort.ReferenceDate == "" {
		def := *c.Cohort
		def.ReferenceDate = today.UTC().Format(time.DateOnly)
		c.Cohort = &def
	}
	return &c
}

// AnonymizeExtract builds the extract of subjects and anonymises it under the privacy model:
// the whole pipeline after reading, with no I/O, as publishing and the benchmark run it.
func AnonymizeExtract(ctx context.Context, x *Extract, subjects []Subject, spec Spec) (*ExtractTable, *anonymizer.Result, []string, model.PrivacyParameters, error) {
	if spec.T < 0 || spec.T > 1 {
		return nil, nil, nil, model.PrivacyParameters{}, fmt.Errorf("publish cohort: t must be in (0,1]")
	}
	b, err := BuildExtract(x, subjects, spec.ReferenceDate, nil)
	if err != nil {
		return nil, nil, nil, model.PrivacyParameters{}, err
	}
	if b.Matched < spec.K {
		return b, nil, nil, model.PrivacyParameters{}, fmt.Errorf("%w: %d of %d consenting patients match the cohort, fewer than k=%d", ErrNoCohort, b.Matched, b.Subjects, spec.K)
	}
	cfg, models, params, err := b.Config(spec.K, spec.L, spec.T, spec.SuppressionLimit)
	if err != nil {
		return b, nil, nil, model.PrivacyParameters{}, err
	}
	res, err := anonymizer.Anonymize(ctx, b.Table, cfg)
	if err != nil {
		return b, nil, nil, model.PrivacyParameters{}, fmt.Errorf("%w: %w", ErrNoCohort, err)
	}
	return b, res, models, params, nil
}

// publishExtract builds, checks, stores and publishes a cohort extract.
func (p *Publisher) publishExtract(ctx context.Context, spec Spec) (*Result, error) {
	x := PrepareExtract(spec.Extract, spec.ReferenceDate)
	if err := x.Validate(); err != nil {
		return nil, err
	}
	if x.Cohort != nil {
		// Ages are computed at the cohort's reference date, so the report says that one.
		if d, err := time.Parse(time.DateOnly, x.Cohort.ReferenceDate); err == nil {
			spec.ReferenceDate = d
		}
	}
	consenting, err := p.consenting(ctx, spec.Purpose)
	if err != nil {
		return nil, err
	}
	subjects, err := p.readSubjects(ctx, spec.Purpose, consenting)
	if err != nil {
		return nil, err
	}
	b, res, models, params, err := AnonymizeExtract(ctx, x, subjects, spec)
	clear(subjects)
	if err != nil {
		return nil, err
	}
	rep := ExtractReport{Report: res.Report, Extract: ExtractSummary{
		QueryHash: x.Hash(), Definition: x, ReferenceDate: spec.ReferenceDate.Format(time.DateOnly),
		Matched: b.Matched, IncomparableUnits: b.Incomparable,
	}}
	for _, v := range x.Variables {
		if v.Date != nil && v.Date.Treatment == "shift" {
			rep.Extract.DateShift = "one random offset per patient, the same for all of the patient's dates, drawn for this publication and not kept"
		}
	}
	pub := model.CohortPublication{
		Purpose: spec.Purpose, Models: models, Parameters: params,
		QuasiIdentifiers:    b.Table.QuasiIdentifiers(),
		ConsentSnapshotHash: snapshotHash(spec.Purpose, consenting),
		QueryHash:           rep.Extract.QueryHash,
	}
	out, err := p.release(ctx, spec.ID, res, rep, pub)
	if err != nil {
		return nil, err
	}
	p.log.Info("cohort extract published", "cohort", spec.ID, "consenting", len(consenting), "matched", b.Matched,
		"rows", res.Report.Rows.Output, "suppressed", res.Report.Rows.Suppressed)
	return out, nil
}

// readSubjects reads every consenting patient's records (each read authorised by research
// consent and audited), extractReaders at a time, in the order given. A patient whose
// consent lapsed or who was erased since the listing is left out.
func (p *Publisher) readSubjects(ctx context.Context, purpose string, consenting []model.ConsentingPatient) ([]Subject, error) {
	out := make([]Subject, len(consenting))
	keep := make([]bool, len(consenting))
	err := fanOut(ctx, len(consenting), extractReaders, func(ctx context.Context, i int) error {
		var err error
		out[i], keep[i], err = p.readSubject(ctx, purpose, consenting[i].Patient)
		return err
	})
	if err != nil {
		return nil, err
	}
	subjects := out[:0]
	for i := range out {
		if keep[i] {
			subjects = append(subjects, out[i])
		}
	}
	return subjects, nil
}

func (p *Publisher) readSubject(ctx context.Context, purpose, patient string) (Subject, bool, error) {
	var data [][]byte
	defer func() {
		for _, d := range data {
			clear(d)
		}
	}()
	var postal string
	page := ledger.Page{Size: 100}
	for {
		rels, next, err := p.svc.ReadHistory(ctx, p.anon, patient, "", purpose, page)
		if errors.Is(err, gateway.ErrNoResearchConsent) || errors.Is(err, gateway.ErrErased) {
			return Subject{}, false, nil
		}
		if err != nil {
			return Subject{}, false, fmt.Errorf("read consenting patient's records: %w", err)
		}
		for _, r := range rels {
			if r.MediaType != fhir.MediaType {
				continue
			}
			data = append(data, r.Data)
			if kind(r.Data) == "Patient" {
				var fp fhirPatient
				if json.Unmarshal(r.Data, &fp) == nil && len(fp.Address) > 0 {
					postal = fp.Address[0].PostalCode
				}
			}
		}
		if next == "" {
			break
		}
		page.Bookmark = next
	}
	return Subject{Patient: criteria.FromFHIR(data), PostalCode: postal}, true, nil
}
