package ledger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

func TestTypedClientAgainstEmbeddedNode(t *testing.T) {
	env := gatewaytest.Start(t)
	ctx := context.Background()
	patientUser := env.User(t, network.PatientsMSP, "patient1")
	patient := env.Client(t, patientUser)
	clinicianUser := env.User(t, network.ClinicMSP, "clinician1")
	clinician := env.Client(t, clinicianUser)
	clinicGateway := env.Client(t, env.User(t, network.ClinicMSP, "gateway"))
	manufacturer := env.Client(t, env.User(t, network.PharmaMSP, "manufacturer1"))

	me, err := patient.WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, model.RolePatient, me.Role)
	require.Equal(t, model.PseudonymFor(network.PatientsMSP, patientUser.EnrollmentID), me.ID)
	doc, err := clinician.WhoAmI(ctx)
	require.NoError(t, err)

	rec, err := patient.RegisterRecord(ctx, model.NewRecord{ID: "rec-1", Owner: me.ID, Category: "lab", Hash: hash(1), Locator: "blob:1"})
	require.NoError(t, err)
	require.Equal(t, 1, rec.Versions)

	_, err = clinician.GetRecord(ctx, "rec-1")
	var me2 *model.Error
	require.True(t, errors.As(err, &me2), "chaincode refusals come back as *model.Error, got %v", err)
	require.Equal(t, model.CodeForbidden, me2.Code)
	require.ErrorIs(t, err, &model.Error{Code: model.CodeForbidden})

	_, err = patient.Grant(ctx, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.ID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: ptr(time.Now().Add(30 * 24 * time.Hour))})
	require.NoError(t, err)

	d, err := clinician.CheckAccess(ctx, "rec-1", "read", "")
	require.NoError(t, err)
	require.True(t, d.Allowed)
	require.Equal(t, "g1", d.GrantID)

	// The clinic's gateway acting for its clinician gets the clinician's decision.
	viaGateway, err := clinicGateway.For(clinicianUser.CertPEM).CheckAccess(ctx, "rec-1", "read", "")
	require.NoError(t, err)
	require.True(t, viaGateway.Allowed)
	require.Equal(t, doc.ID, viaGateway.Accessor.ID)

	// One read decided and described in one evaluation.
	a, err := clinicGateway.For(clinicianUser.CertPEM).AuthorizeRead(ctx, "rec-1", 0, "TREAT")
	require.NoError(t, err)
	require.True(t, a.Decision.Allowed)
	require.Equal(t, 1, a.Version.Number)
	require.Equal(t, hash(1), a.Version.Hash)
	require.Equal(t, me.ID, a.Record.Owner)

	page, err := clinician.ListPatientRecords(ctx, me.ID, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, page.Records, 1)

	_, err = patient.RevokeGrant(ctx, "g1")
	require.NoError(t, err)
	d, err = clinician.CheckAccess(ctx, "rec-1", "read", "")
	require.NoError(t, err)
	require.False(t, d.Allowed)
	require.Equal(t, model.DenyGrantRevoked, d.Reason)

	_, err = manufacturer.ListGrants(ctx, me.ID, false, ledger.Page{})
	require.ErrorIs(t, err, &model.Error{Code: model.CodeForbidden})

	_, err = patient.RegisterRecord(ctx, model.NewRecord{ID: "rec-1", Owner: me.ID, Category: "lab", Hash: hash(2), Locator: "blob:2"})
	require.ErrorIs(t, err, &model.Error{Code: model.CodeConflict})
}

func TestUnreachableLedgerIsUnavailable(t *testing.T) {
	env := gatewaytest.Start(t)
	u := env.User(t, network.PatientsMSP, "patient1")
	conn, err := ledger.Dial(ledger.Endpoint{Address: "127.0.0.1:1", TLSCACertPEM: env.Node.TLSCACertPEM(), ServerNameOverride: env.Node.ServerName()}, "careledger", "careledger", ledger.Timeouts{Evaluate: time.Second, Endorse: time.Second, Submit: time.Second, CommitStatus: time.Second})
	require.NoError(t, err)
	defer conn.Close()
	sign, err := identity.NewPrivateKeySign(u.Key)
	require.NoError(t, err)
	id, err := ledger.NewIdentity(u.MSPID, u.CertPEM, sign)
	require.NoError(t, err)
	c, err := conn.As(id)
	require.NoError(t, err)
	_, err = c.WhoAmI(context.Background())
	require.ErrorIs(t, err, ledger.ErrUnavailable)
	_, err = c.RequestErasure(context.Background())
	require.ErrorIs(t, err, ledger.ErrUnavailable)
}

func hash(n int) string {
	const hexdigits = "0123456789abcdef"
	b := make([]byte, 64)
	for i := range b {
		b[i] = '0'
	}
	b[63] = hexdigits[n%16]
	b[62] = hexdigits[(n/16)%16]
	return string(b)
}

func ptr[T any](v T) *T { return &v }

// TestConcurrentFirstTransactionsOfANewPartyAllCommit: a new patient's first transactions
// register the patient on the ledger, so several of them in one block read and write the same
// key and all but one are invalidated for a read conflict. The client runs such a transaction
// again; each upload must commit.
func TestConcurrentFirstTransactionsOfANewPartyAllCommit(t *testing.T) {
	env := gatewaytest.Start(t)
	ctx := context.Background()
	u := env.Issue(t, network.PatientsMSP, network.UserSpec{Name: "newcomer", Role: network.RolePatient})
	patient := env.Client(t, u)
	owner := model.PseudonymFor(network.PatientsMSP, u.EnrollmentID)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = patient.RegisterRecord(ctx, model.NewRecord{ID: fmt.Sprintf("first-%d", i), Owner: owner, Category: "lab", Hash: hash(100 + i), Locator: fmt.Sprintf("blob:first-%d", i)})
		})
	}
	wg.Wait()
	for i, err := range errs {
		require.NoError(t, err, "upload %d", i)
	}
}
