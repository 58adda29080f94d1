package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/fabricca"
	"github.com/careledger/careledger/wallet/fabricca/fabricatest"
	"github.com/stretchr/testify/require"
)

func TestAdminEnrolIssuesIdentitiesTheLedgerAccepts(t *testing.T) {
	c := startCLIStack(t)
	out := c.must("admin", "enrol", "--role", "patient", "--label", "alice")
	require.Contains(t, out, `enrolled "alice": patient in PatientsMSP`)
	var alice, demo model.Caller
	c.jsonOf(&alice, "patient", "whoami", "--as", "alice")
	c.jsonOf(&demo, "patient", "whoami")
	require.Equal(t, model.RolePatient, alice.Role)
	require.NotEqual(t, demo.ID, alice.ID)
	require.Contains(t, out, alice.ID)

	_, err := c.run("admin", "enrol", "--role", "patient", "--label", "alice")
	require.ErrorContains(t, err, "already holds")
	_, err = c.run("admin", "enrol", "--role", "patient", "--label", "bob", "--name", "Bob Smith")
	require.ErrorContains(t, err, "random enrollment ID")
	_, err = c.run("admin", "enrol", "--role", "superuser", "--label", "eve")
	require.ErrorContains(t, err, "--role")

	c.must("admin", "enrol", "--role", "clinician", "--label", "dr-who")
	var doctor model.Caller
	c.jsonOf(&doctor, "clinician", "whoami", "--as", "dr-who")
	require.Equal(t, "ClinicMSP", doctor.MSP)
}

func TestAdminEnrolWithARealFabricCA(t *testing.T) {
	srv := fabricatest.Start(t) // skips, naming .ci/build-fabric-ca, when the server is absent
	ctx := context.Background()
	dir := t.TempDir()
	w, err := wallet.Open(filepath.Join(dir, "wallet"))
	require.NoError(t, err)
	ca, err := fabricca.New(srv.URL, "PatientsMSP", fabricca.WithTLSRoots(srv.TLSRoots))
	require.NoError(t, err)
	admin, err := ca.Enroll(ctx, fabricatest.AdminID, fabricatest.AdminSecret, fabricca.EnrollOptions{})
	require.NoError(t, err)
	require.NoError(t, w.Put("admin", admin, []byte("pass")))
	caFile := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(caFile, srv.CACertPEM, 0o600))
	t.Setenv("CARELEDGER_WALLET_PASSPHRASE", "pass")

	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"--data-dir", dir, "admin", "enrol", "--role", "patient", "--label", "p1", "--msp", "PatientsMSP",
		"--ca-url", srv.URL, "--ca-tls-cert", caFile, "--wallet", filepath.Join(dir, "wallet")})
	require.NoError(t, root.Execute(), out.String())
	id, err := w.Get("p1", []byte("pass"))
	require.NoError(t, err)
	require.Equal(t, "patient", id.Role(), "the role is an ecert attribute the chaincode reads")
	require.Len(t, id.EnrollmentID(), 32, "patients get a random pseudonymous enrollment ID")
	require.False(t, strings.Contains(out.String(), id.EnrollmentID()), "the enrollment ID is not printed; the pseudonym is")
	require.Contains(t, out.String(), id.LedgerID())

	// A gateway is a peer of its organisation to channel policies, unless the organisation
	// runs no peer.
	for msp, ou := range map[string][2]string{"PatientsMSP": {"peer", "client"}, "PharmaMSP": {"client", "peer"}} {
		root := newRoot()
		root.SetOut(&out)
		root.SetArgs([]string{"--data-dir", dir, "admin", "enrol", "--role", "gateway", "--label", "gw-" + msp, "--msp", msp,
			"--ca-url", srv.URL, "--ca-tls-cert", caFile, "--wallet", filepath.Join(dir, "wallet")})
		require.NoError(t, root.Execute(), out.String())
		gw, err := w.Get("gw-"+msp, []byte("pass"))
		require.NoError(t, err)
		require.Contains(t, gw.Certificate().Subject.OrganizationalUnit, ou[0], msp)
		require.NotContains(t, gw.Certificate().Subject.OrganizationalUnit, ou[1], msp)
	}
}
