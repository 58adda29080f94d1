// Package scenario holds CareLedger's user stories as tests that run against any ledger: the
// embedded node in the gateway's tests and a real Fabric network in test-network's gated
// suite, so both run the very same stories. Every story uses fresh random IDs, so it can run
// again and again on a ledger that persists.
package scenario

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
)

// Env is what the stories need: the gateway, a way to push the audit queue to the ledger, and
// one ledger client per person, each signing as that person or through their organisation's
// gateway identity.
type Env struct {
	Service *gateway.Service
	// Flush writes queued access reports to the ledger.
	Flush        func(context.Context) error
	Patient      *ledger.Client
	Clinician    *ledger.Client
	Manufacturer *ledger.Client
}

// Run runs every story as a subtest.
func Run(t *testing.T, env Env) {
	t.Run("patient grants, clinician reads, patient sees it, revokes, clinician refused", func(t *testing.T) { GrantReadAuditRevoke(t, env) })
	t.Run("emergency access is marked in the patient's trail", func(t *testing.T) { EmergencyAccess(t, env) })
	t.Run("manufacturer is refused everything but cohorts", func(t *testing.T) { ManufacturerRefused(t, env) })
}

type people struct{ patient, clinician string }

func whoAre(t *testing.T, env Env) people {
	ctx := context.Background()
	p, err := env.Patient.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, model.RolePatient, p.Role)
	c, err := env.Clinician.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, model.RoleClinician, c.Role)
	return people{patient: p.ID, clinician: c.ID}
}

func lab(value float64) []byte {
	return []byte(`{"resourceType":"Observation","status":"final","code":{"text":"Haemoglobin"},"valueQuantity":{"value":` +
		strconv.FormatFloat(value, 'f', -1, 64) + `,"unit":"g/dL"}}`)
}

func uploadLab(t *testing.T, env Env, owner string) *model.Record {
	rec, err := env.Service.Upload(context.Background(), env.Patient, gateway.Upload{Owner: owner, Content: gateway.Content{MediaType: fhir.MediaType, Data: lab(13.2)}})
	require.NoError(t, err)
	return rec
}

func trailFor(t *testing.T, env Env, recordID string) []model.AccessEntry {
	ctx := context.Background()
	require.NoError(t, env.Flush(ctx))
	var out []model.AccessEntry
	page := ledger.Page{Size: 200}
	for {
		p, err := env.Patient.ListAccessLog(ctx, "", page)
		require.NoError(t, err)
		for _, e := range p.Entries {
			if e.RecordID == recordID {
				out = append(out, e)
			}
		}
		if p.Bookmark == "" {
			return out
		}
		page.Bookmark = p.Bookmark
	}
}

// GrantReadAuditRevoke: the patient grants a clinician read on `lab` for 30 days; the
// clinician reads the patient's history; the patient sees the access in the audit trail; the
// patient revokes; the clinician is refused.
func GrantReadAuditRevoke(t *testing.T, env Env) {
	ctx := context.Background()
	who := whoAre(t, env)
	rec := uploadLab(t, env, who.patient)

	_, err := env.Service.Read(ctx, env.Clinician, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrNoGrant)

	grantID := "g-" + uuid.NewString()
	until := time.Now().Add(30 * 24 * time.Hour)
	_, err = env.Patient.Grant(ctx, model.GrantRequest{ID: grantID, Grantee: model.Grantee{ID: who.clinician}, Actions: []string{model.ActionRead}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: &until})
	require.NoError(t, err)

	history, _, err := env.Service.ReadHistory(ctx, env.Clinician, who.patient, "lab", "", ledger.Page{Size: 200})
	require.NoError(t, err)
	var found bool
	for _, r := range history {
		if r.Record.ID == rec.ID {
			found = true
			require.JSONEq(t, string(lab(13.2)), string(r.Data))
			require.Equal(t, grantID, r.Decision.GrantID)
		}
	}
	require.True(t, found, "the clinician's history holds the granted record")

	trail := trailFor(t, env, rec.ID)
	require.NotEmpty(t, trail)
	last := trail[len(trail)-1]
	require.Equal(t, who.clinician, last.Accessor.ID)
	require.Equal(t, grantID, last.GrantID)
	require.Equal(t, model.BasisGrant, last.Basis)

	_, err = env.Patient.RevokeGrant(ctx, grantID)
	require.NoError(t, err)
	_, err = env.Service.Read(ctx, env.Clinician, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrGrantRevoked)
}

// EmergencyAccess: a clinician without a grant opens break-glass access with a reason; the
// read works and is marked as an emergency in the patient's trail; the patient sees the
// emergency access among their grants.
func EmergencyAccess(t *testing.T, env Env) {
	ctx := context.Background()
	who := whoAre(t, env)
	rec := uploadLab(t, env, who.patient)
	id := "e-" + uuid.NewString()
	_, err := env.Clinician.OpenEmergencyAccess(ctx, model.EmergencyRequest{ID: id, Patient: who.patient, Reason: "patient-unconscious", DurationMinutes: 30})
	require.NoError(t, err)
	rel, err := env.Service.Read(ctx, env.Clinician, rec.ID, 0, "")
	require.NoError(t, err)
	require.Equal(t, model.BasisEmergency, rel.Decision.Basis)
	trail := trailFor(t, env, rec.ID)
	require.NotEmpty(t, trail)
	require.Equal(t, model.BasisEmergency, trail[len(trail)-1].Basis)
	g, err := env.Patient.GetGrant(ctx, id)
	require.NoError(t, err)
	require.True(t, g.Emergency)
	_, err = env.Clinician.RevokeGrant(ctx, id)
	require.NoError(t, err)
}

// ManufacturerRefused: a manufacturer is refused every record, grant and audit transaction, and
// may list cohort publications.
func ManufacturerRefused(t *testing.T, env Env) {
	ctx := context.Background()
	who := whoAre(t, env)
	rec := uploadLab(t, env, who.patient)
	forbidden := &model.Error{Code: model.CodeForbidden}

	_, err := env.Service.Read(ctx, env.Manufacturer, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrNotPermitted)
	_, err = env.Manufacturer.GetRecord(ctx, rec.ID)
	require.ErrorIs(t, err, forbidden)
	_, err = env.Manufacturer.ListPatientRecords(ctx, who.patient, "", ledger.Page{})
	require.ErrorIs(t, err, forbidden)
	_, err = env.Manufacturer.ListGrants(ctx, who.patient, false, ledger.Page{})
	require.ErrorIs(t, err, forbidden)
	_, err = env.Manufacturer.ListAccessLog(ctx, who.patient, ledger.Page{})
	require.ErrorIs(t, err, forbidden)
	_, err = env.Manufacturer.ListGrantsToMe(ctx, false, ledger.Page{})
	require.ErrorIs(t, err, forbidden)
	_, err = env.Manufacturer.ListCohorts(ctx, ledger.Page{})
	require.NoError(t, err)
}
