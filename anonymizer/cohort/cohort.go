// Package cohort builds and publishes anonymised research cohorts from CareLedger records. It
// is the only path by which data about patients reaches manufacturers: it reads, as the
// anonymiser identity and through the gateway's policy enforcement point (so every read is
// authorised by research consent and audited), only the records of patients whose research
// consent covers the purpose; turns each patient into one row without any identifier or ledger
// pseudonym; anonymises the table with the anonymizer engine; refuses to publish when the
// privacy model cannot be met; stores the cohort (CSV, Parquet, JSON report) and records its
// hashes, parameters and the hash of the consent snapshot on the ledger.
package cohort

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/careledger/careledger/anonymizer"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/google/uuid"
)

// ErrNoCohort means no cohort could be published: too few consenting patients, or no
// transformation meets the privacy model within the suppression limit.
var ErrNoCohort = errors.New("no cohort meets the privacy model")

// Spec says what cohort to build.
type Spec struct {
	// ID names the cohort; a random UUID when empty.
	ID string
	// Purpose is the research purpose; only patients consenting to it are included.
	Purpose string
	// ReferenceDate is when ages are computed; today when zero.
	ReferenceDate time.Time
	// K is the k of k-anonymity over age, sex and postal code (at least 2).
	K int
	// L, when at least 2, adds distinct l-diversity of the diagnosis (of each sensitive
	// variable of an extract).
	L int
	// T, when above 0 (up to 1), adds equal-distance t-closeness of each sensitive variable
	// of an extract.
	T float64
	// SuppressionLimit is the share of rows that may be suppressed (0..1).
	SuppressionLimit float64
	// Extract, when set, says which patients and which clinical variables the cohort holds
	// (see Extract); without it a cohort holds age, sex, postal code and one diagnosis of
	// every consenting patient.
	Extract *Extract
}

// Publisher builds cohorts.
type Publisher struct {
	svc   *gateway.Service
	anon  *ledger.Client
	blobs blob.Store
	log   *slog.Logger
}

// NewPublisher returns a publisher reading and publishing as the anonymiser identity anon and
// storing cohort files in blobs.
func NewPublisher(svc *gateway.Service, anon *ledger.Client, blobs blob.Store, log *slog.Logger) *Publisher {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Publisher{svc: svc, anon: anon, blobs: blobs, log: log}
}

// Files are where a cohort's files are stored in the blob store.
func Files(cohortID string) (csv, parquet, report string) {
	p := "cohorts/" + cohortID + "/"
	return p + "cohort.csv", p + "cohort.parquet", p + "report.json"
}

// Result is a published cohort.
type Result struct {
	Cohort *model.Cohort
	Report anonymizer.Report
	CSV    []byte
}

// Columns of a cohort, in order. row_id is random per cohort and links to nothing.
var columns = []anonymizer.Field{
	{Name: "row_id", Kind: anonymizer.FieldText, Type: anonymizer.Insensitive},
	{Name: "age", Kind: anonymizer.FieldAge, Type: anonymizer.QuasiIdentifying},
	{Name: "sex", Kind: anonymizer.FieldSex, Type: anonymizer.QuasiIdentifying},
	{Name: "postal_code", Kind: anonymizer.FieldPostalCode, Type: anonymizer.QuasiIdentifying},
	{Name: "diagnosis", Kind: anonymizer.FieldICD10, Type: anonymizer.Sensitive},
}

// Publish builds, checks, stores and publishes one cohort.
func (p *Publisher) Publish(ctx context.Context, spec Spec) (*Result, error) {
	if spec.K < 2 {
		return nil, fmt.Errorf("publish cohort: k must be at least 2")
	}
	if spec.SuppressionLimit < 0 || spec.SuppressionLimit > 1 {
		return nil, fmt.Errorf("publish cohort: suppression limit must be between 0 and 1")
	}
	if spec.ID == "" {
		spec.ID = uuid.NewString()
	}
	if spec.ReferenceDate.IsZero() {
		spec.ReferenceDate = time.Now().UTC().Truncate(24 * time.Hour)
	}
	if spec.Extract != nil {
		return p.publishExtract(ctx, spec)
	}
	if spec.T != 0 {
		return nil, fmt.Errorf("publish cohort: t-closeness needs an extract with a sensitive variable")
	}
	consenting, err := p.consenting(ctx, spec.Purpose)
	if err != nil {
		return nil, err
	}
	rb, err := anonymizer.NewRowBuilder(spec.ReferenceDate, columns...)
	if err != nil {
		return nil, err
	}
	skipped := 0
	for _, c := range consenting {
		row, err := p.patientRow(ctx, c.Patient, spec.Purpose)
		if err != nil {
			return nil, err
		}
		if row == nil {
			skipped++ // no usable demographics or diagnosis: nothing to contribute
			continue
		}
		if err := rb.Add(row); err != nil {
			skipped++
			// The error quotes the offending value (a postal code, say): keep it out of the log.
			p.log.Warn("cohort: a consenting patient's demographics could not be used")
		}
	}
	table := rb.Table()
	if table.NumRows() < spec.K {
		return nil, fmt.Errorf("%w: %d usable consenting patients, fewer than k=%d", ErrNoCohort, table.NumRows(), spec.K)
	}
	cfg, models, params, err := privacyConfig(table, spec)
	if err != nil {
		return nil, err
	}
	res, err := anonymizer.Anonymize(ctx, table, cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoCohort, err)
	}
	pub := model.CohortPublication{
		Purpose: spec.Purpose, Models: models, Parameters: params,
		QuasiIdentifiers:    table.QuasiIdentifiers(),
		ConsentSnapshotHash: snapshotHash(spec.Purpose, consenting),
	}
	out, err := p.release(ctx, spec.ID, res, res.Report, pub)
	if err != nil {
		return nil, err
	}
	p.log.Info("cohort published", "cohort", spec.ID, "rows", pub.RowCount, "suppressed", pub.SuppressedRows, "skipped", skipped)
	return out, nil
}

// release stores the anonymised table and the report, and records the publication (pub,
// with its hashes and counts filled in here) on the ledger.
func (p *Publisher) release(ctx context.Context, id string, res *anonymizer.Result, report any, pub model.CohortPublication) (*Result, error) {
	var csvBuf, pqBuf, repBuf bytes.Buffer
	if err := res.Output.WriteCSV(&csvBuf, ','); err != nil {
		return nil, err
	}
	if err := res.Output.WriteParquet(&pqBuf); err != nil {
		return nil, err
	}
	enc := json.NewEncoder(&repBuf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(report); err != nil {
		return nil, err
	}
	csvKey, pqKey, repKey := Files(id)
	for key, data := range map[string][]byte{csvKey: csvBuf.Bytes(), pqKey: pqBuf.Bytes(), repKey: repBuf.Bytes()} {
		if err := p.blobs.Put(ctx, key, data); err != nil {
			return nil, fmt.Errorf("store cohort: %w", err)
		}
	}
	pub.ID, pub.Locator = id, "cohort:"+id
	pub.DatasetHash, pub.ReportHash = sha(csvBuf.Bytes()), sha(repBuf.Bytes())
	pub.RowCount, pub.SuppressedRows = res.Report.Rows.Output, res.Report.Rows.Suppressed
	co, err := p.anon.PublishCohort(ctx, pub)
	if err != nil {
		return nil, fmt.Errorf("publish cohort on the ledger: %w", err)
	}
	return &Result{Cohort: co, Report: res.Report, CSV: csvBuf.Bytes()}, nil
}

// consenting lists the patients whose consent covers purpose now, sorted.
func (p *Publisher) consenting(ctx context.Context, purpose string) ([]model.ConsentingPatient, error) {
	return consenting(ctx, p.anon, purpose)
}

// consenting lists, as the anonymiser anon, the patients whose consent covers purpose now,
// sorted.
func consenting(ctx context.Context, anon *ledger.Client, purpose string) ([]model.ConsentingPatient, error) {
	var out []model.ConsentingPatient
	page := ledger.Page{Size: 200}
	for {
		cp, err := anon.ListResearchConsents(ctx, purpose, page)
		if err != nil {
			return nil, fmt.Errorf("list research consents: %w", err)
		}
		out = append(out, cp.Patients...)
		if cp.Bookmark == "" {
			break
		}
		page.Bookmark = cp.Bookmark
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Patient < out[j].Patient })
	return out, nil
}

// snapshotHash commits to exactly which consents a cohort was built from.
func snapshotHash(purpose string, cs []model.ConsentingPatient) string {
	var b strings.Builder
	b.WriteString("careledger/consent-snapshot/v1\n" + purpose + "\n")
	for _, c := range cs {
		b.WriteString(c.Patient + " " + c.TxID + "\n")
	}
	return sha([]byte(b.String()))
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// patientRow reads the patient's records (each read authorised by research consent and
// audited) and returns their row, or nil when they lack demographics or a diagnosis.
func (p *Publisher) patientRow(ctx context.Context, patient, purpose string) (anonymizer.Row, error) {
	var demo *fhirPatient
	var diagnosis string
	page := ledger.Page{Size: 100}
	for {
		rels, next, err := p.svc.ReadHistory(ctx, p.anon, patient, "", purpose, page)
		if err != nil {
			return nil, fmt.Errorf("read consenting patient's records: %w", err)
		}
		for _, r := range rels {
			if r.MediaType != fhir.MediaType {
				continue
			}
			switch kind(r.Data) {
			case "Patient":
				var fp fhirPatient
				if json.Unmarshal(r.Data, &fp) == nil {
					demo = &fp
				}
			case "Condition":
				if diagnosis == "" {
					diagnosis = icd10Of(r.Data)
				}
			}
			clear(r.Data)
		}
		if next == "" {
			break
		}
		page.Bookmark = next
	}
	if demo == nil || diagnosis == "" || demo.BirthDate == "" || len(demo.Address) == 0 {
		return nil, nil
	}
	birth, err := time.Parse(time.DateOnly, demo.BirthDate)
	if err != nil {
		return nil, nil
	}
	return anonymizer.Row{
		"row_id": randomID(), "age": birth, "sex": demo.Gender,
		"postal_code": demo.Address[0].PostalCode, "diagnosis": diagnosis,
	}, nil
}

type fhirPatient struct {
	Gender    string `json:"gender"`
	BirthDate string `json:"birthDate"`
	Address   []struct {
		PostalCode string `json:"postalCode"`
	} `json:"address"`
}

func kind(data []byte) string {
	var h struct {
		ResourceType string `json:"resourceType"`
	}
	_ = json.Unmarshal(data, &h)
	return h.ResourceType
}

func icd10Of(data []byte) string {
	var c struct {
		Code struct {
			Coding []struct {
				System string `json:"system"`
				Code   string `json:"code"`
			} `json:"coding"`
		} `json:"code"`
	}
	if json.Unmarshal(data, &c) != nil {
		return ""
	}
	for _, cd := range c.Code.Coding {
		if strings.Contains(cd.System, "icd-10") {
			return cd.Code
		}
	}
	return ""
}

func randomID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// privacyConfig builds the engine configuration and the ledger's description of it.
func privacyConfig(t *anonymizer.Table, spec Spec) (anonymizer.Config, []string, model.PrivacyParameters, error) {
	distinct := func(name string) []string {
		v, _ := t.Distinct(name)
		return v
	}
	age, err := anonymizer.IntervalHierarchy(distinct("age"), 5, 10, 20, 40)
	if err != nil {
		return anonymizer.Config{}, nil, model.PrivacyParameters{}, err
	}
	postal, err := anonymizer.PostalCodeHierarchy(distinct("postal_code"), nil)
	if err != nil {
		return anonymizer.Config{}, nil, model.PrivacyParameters{}, err
	}
	var sexRows [][]string
	for _, v := range distinct("sex") {
		sexRows = append(sexRows, []string{v, "*"})
	}
	sex, err := anonymizer.NewHierarchy(sexRows)
	if err != nil {
		return anonymizer.Config{}, nil, model.PrivacyParameters{}, err
	}
	cfg := anonymizer.Config{
		Hierarchies:      map[string]*anonymizer.Hierarchy{"age": age, "postal_code": postal, "sex": sex},
		Criteria:         []anonymizer.Criterion{anonymizer.KAnonymity(spec.K)},
		SuppressionLimit: spec.SuppressionLimit,
		DropSuppressed:   true,
	}
	models := []string{"k-anonymity"}
	params := model.PrivacyParameters{K: spec.K, SuppressionLimit: spec.SuppressionLimit}
	if spec.L >= 2 {
		cfg.Criteria = append(cfg.Criteria, anonymizer.DistinctLDiversity("diagnosis", spec.L))
		models = append(models, "l-diversity")
		params.L, params.LVariant = float64(spec.L), "distinct"
	}
	return cfg, models, params, nil
}
