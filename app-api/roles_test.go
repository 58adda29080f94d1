package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

// memCohorts serves cohort files from memory, standing in for the anonymiser's store behind
// the CohortFiles interface.
type memCohorts map[string][]byte

func (m memCohorts) Files(_ context.Context, c model.Cohort) ([]api.CohortFile, error) {
	var out []api.CohortFile
	for name, b := range m {
		if strings.HasPrefix(name, c.Publication.ID+"/") {
			out = append(out, fileOf(strings.TrimPrefix(name, c.Publication.ID+"/"), b))
		}
	}
	return out, nil
}

func (m memCohorts) Open(_ context.Context, c model.Cohort, name string) (io.ReadCloser, api.CohortFile, error) {
	b, ok := m[c.Publication.ID+"/"+name]
	if !ok {
		return nil, api.CohortFile{}, fmt.Errorf("open %s: %w", name, api.ErrCohortNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), fileOf(name, b), nil
}

func fileOf(name string, b []byte) api.CohortFile {
	sum := sha256.Sum256(b)
	return api.CohortFile{Name: name, MediaType: "text/csv", Size: int64(len(b)), SHA256: hex.EncodeToString(sum[:])}
}

// countAggregator answers count queries from a fixed table and refuses small cells, standing
// in for the anonymiser's engine behind the Aggregator interface.
type countAggregator struct{}

func (countAggregator) Aggregate(_ context.Context, c model.Cohort, q api.AggregateQuery) (*api.AggregateResult, error) {
	if len(q.GroupBy) > 1 {
		return nil, fmt.Errorf("%w: grouping by %d attributes leaves cells below the minimum size", api.ErrQueryRefused, len(q.GroupBy))
	}
	return &api.AggregateResult{Columns: q.GroupBy, Rows: []api.AggregateRow{{Values: []string{"40-49"}, Value: 12}}, Mechanism: "min-cell-size"}, nil
}

const dataset = "age,zip,diagnosis\n40-49,101**,J45\n"

func publishCohort(t *testing.T, e *env, id string) {
	t.Helper()
	anon := e.stack.Client(t, e.stack.User(t, network.PatientsMSP, "anonymizer"))
	sum := sha256.Sum256([]byte(dataset))
	_, err := anon.PublishCohort(context.Background(), model.CohortPublication{
		ID: id, DatasetHash: hex.EncodeToString(sum[:]), RowCount: 1, Purpose: "drug-safety",
		Models: []string{"k-anonymity"}, Parameters: model.PrivacyParameters{K: 5},
		QuasiIdentifiers: []string{"age", "zip"}, ConsentSnapshotHash: hex.EncodeToString(sum[:]),
	})
	require.NoError(t, err)
}

// TestManufacturerOnlyReachesCohorts: a manufacturer gets 403 on every record, grant and
// audit resource, and lists, downloads and queries cohorts.
func TestManufacturerOnlyReachesCohorts(t *testing.T) {
	e := startEnv(t, func(c *api.Config) {
		c.CohortFiles = memCohorts{"c-asthma/dataset.csv": []byte(dataset)}
		c.Aggregator = countAggregator{}
	})
	ctx := context.Background()
	patient, maker := e.client(t, e.patient), e.client(t, e.manufacturer)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	g, _, err := patient.Grant(ctx, model.GrantRequest{Grantee: model.Grantee{MSP: network.ClinicMSP}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)

	refused := map[string]func() error{
		"record":   func() error { _, err := maker.Record(ctx, rec.ID); return err },
		"content":  func() error { _, err := maker.Content(ctx, rec.ID, 0, ""); return err },
		"versions": func() error { _, err := maker.Versions(ctx, rec.ID); return err },
		"verify":   func() error { _, err := maker.Verify(ctx, rec.ID, rec.LatestHash); return err },
		"append": func() error {
			_, err := maker.AppendVersion(ctx, rec.ID, client.FHIRMediaType, []byte(labResult))
			return err
		},
		"upload": func() error {
			_, err := maker.Upload(ctx, client.Upload{Owner: me.ID, MediaType: client.FHIRMediaType, Data: []byte(labResult)})
			return err
		},
		"patient records": func() error { _, err := maker.PatientRecords(ctx, me.ID, "", client.Page{}); return err },
		"patient history": func() error { _, err := maker.PatientHistory(ctx, me.ID, "", client.Page{}); return err },
		"patient content": func() error { _, err := maker.PatientContent(ctx, me.ID, "", "", client.Page{}); return err },
		"grants":          func() error { _, err := maker.Grants(ctx, me.ID, false, client.Page{}); return err },
		"grant":           func() error { _, err := maker.GetGrant(ctx, g.ID); return err },
		"grants to me":    func() error { _, err := maker.GrantsToMe(ctx, false, client.Page{}); return err },
		"consents":        func() error { _, err := maker.Consents(ctx, me.ID, false, client.Page{}); return err },
		"grant consent":   func() error { _, err := maker.GrantConsent(ctx, g.ID); return err },
		"audit":           func() error { _, err := maker.AccessLog(ctx, me.ID, client.Page{}); return err },
		"research":        func() error { _, err := maker.ResearchConsent(ctx, me.ID); return err },
		"emergency": func() error {
			_, err := maker.EmergencyAccess(ctx, model.EmergencyRequest{Patient: me.ID, Reason: "life-threatening"})
			return err
		},
		"grant signed offline": func() error {
			_, _, err := maker.Grant(ctx, model.GrantRequest{Patient: me.ID, Grantee: model.Grantee{MSP: network.PharmaMSP}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "HRESCH"})
			return err
		},
		"revoke signed offline": func() error { _, _, err := maker.RevokeGrant(ctx, g.ID); return err },
	}
	for name, call := range refused {
		t.Run(name, func(t *testing.T) {
			var ae *client.Error
			require.ErrorAs(t, call(), &ae)
			require.Equal(t, http.StatusForbidden, ae.Status, ae.Message)
			// The ledger's FORBIDDEN, or the policy enforcement point's refusal of the role.
			require.Contains(t, []string{string(model.CodeForbidden), api.CodeRoleNotPermitted}, ae.Code)
			require.NotEmpty(t, ae.Message)
		})
	}

	publishCohort(t, e, "c-asthma")
	cohorts, err := maker.Cohorts(ctx, client.Page{})
	require.NoError(t, err)
	require.Len(t, cohorts.Cohorts, 1)
	co, err := maker.Cohort(ctx, "c-asthma")
	require.NoError(t, err)
	files, err := maker.CohortFiles(ctx, "c-asthma")
	require.NoError(t, err)
	require.Len(t, files, 1)
	var buf bytes.Buffer
	f, err := maker.DownloadCohortFile(ctx, "c-asthma", "dataset.csv", &buf)
	require.NoError(t, err)
	require.Equal(t, dataset, buf.String())
	require.Equal(t, co.Publication.DatasetHash, f.SHA256)
	_, err = maker.DownloadCohortFile(ctx, "c-asthma", "other.csv", &buf)
	apiError(t, err, http.StatusNotFound, "NOT_FOUND")
	_, err = maker.Cohort(ctx, "c-missing")
	apiError(t, err, http.StatusNotFound, "NOT_FOUND")
	res, err := maker.Query(ctx, "c-asthma", client.AggregateQuery{GroupBy: []string{"age"}, Statistic: "count"})
	require.NoError(t, err)
	require.Equal(t, 12.0, res.Rows[0].Value)
	_, err = maker.Query(ctx, "c-asthma", client.AggregateQuery{GroupBy: []string{"age", "zip"}, Statistic: "count"})
	ae := apiError(t, err, http.StatusUnprocessableEntity, api.CodeQueryRefused)
	require.Contains(t, ae.Message, "minimum size")
	_, err = maker.Query(ctx, "c-asthma", client.AggregateQuery{Statistic: "median"})
	ae = apiError(t, err, http.StatusBadRequest, "INVALID_ARGUMENT")
	require.Contains(t, ae.Message, "statistic")
}

// TestCohortEngineNotConfigured: without an engine, downloads and queries are 501.
func TestCohortEngineNotConfigured(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	publishCohort(t, e, "c-1")
	maker := e.client(t, e.manufacturer)
	_, err := maker.CohortFiles(ctx, "c-1")
	apiError(t, err, http.StatusNotImplemented, api.CodeNotImplemented)
	_, err = maker.Query(ctx, "c-1", client.AggregateQuery{Statistic: "count"})
	apiError(t, err, http.StatusNotImplemented, api.CodeNotImplemented)
}

// TestOrganisationWithoutGateway: members of an organisation this server has no gateway
// identity for get a clear 503, but never someone else's gateway.
func TestOrganisationWithoutGateway(t *testing.T) {
	e := startEnv(t, func(c *api.Config) {
		pharma := c.Orgs[network.PharmaMSP]
		pharma.Gateway = nil
		c.Orgs[network.PharmaMSP] = pharma
	})
	_, err := e.client(t, e.manufacturer).Cohorts(context.Background(), client.Page{})
	ae := apiError(t, err, http.StatusServiceUnavailable, api.CodeNoOrgGateway)
	require.Contains(t, ae.Message, "gateway identity")
	require.Zero(t, ae.RetryAfter)
}
