package enrol_test

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/test-network/internal/enrol"
	"github.com/careledger/careledger/test-network/internal/render"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/test-network/internal/verify"
	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/fabricca/fabricatest"
)

// TestEnrolAgainstRealCAs renders the network with its CAs moved to free loopback ports,
// starts one real fabric-ca-server per organisation from the rendered configuration, enrols
// everything and checks the result the way network.sh does.
func TestEnrolAgainstRealCAs(t *testing.T) {
	bin, err := fabricatest.Binary()
	if err != nil {
		t.Skipf("skipping: %v; build it with .ci/build-fabric-ca or set %s", err, fabricatest.EnvBinary)
	}
	nw := topology.Default()
	nw.Orderer.CA.Port, nw.Orderer.CA.OpsPort = freePort(t), freePort(t)
	for i := range nw.Orgs {
		nw.Orgs[i].CA.Port, nw.Orgs[i].CA.OpsPort = freePort(t), freePort(t)
	}
	dir := t.TempDir()
	opts := render.Options{Mode: topology.Native, Dir: dir, CCAASBuilder: "/opt/fabric/builders/ccaas"}
	_, err = render.Generate(nw, opts)
	require.NoError(t, err)

	cas := []topology.CA{nw.Orderer.CA}
	for _, o := range nw.Orgs {
		cas = append(cas, o.CA)
	}
	for _, ca := range cas {
		startCA(t, bin, filepath.Join(dir, topology.CAHome(ca)))
	}

	ctx := context.Background()
	require.NoError(t, enrol.New(nw, dir, nil).Run(ctx))
	_, err = render.Generate(nw, opts)
	require.NoError(t, err)
	rep, err := verify.Dir(nw, dir, topology.Native)
	require.NoError(t, err)
	require.Equal(t, 15, rep.Enrolled) // 12 for the network and careledger up --fabric, 3 for the end-to-end suite

	profile, err := connprofile.Load(filepath.Join(dir, topology.ConnectionFile))
	require.NoError(t, err)
	patients := profile.Organizations["PatientsMSP"].Identities["patient"]
	require.Len(t, patients, 3)
	require.NotEqual(t, patients[0].EnrollmentID, patients[1].EnrollmentID)
	require.Equal(t, "patient1@patients.careledger.test", patients[0].Name, "the demo patient of careledger up --fabric comes first")
	require.Equal(t, topology.SuitePrefix+"patient@patients.careledger.test", patients[2].Name)
	admin, ok := profile.Identity("PatientsMSP", "admin")
	require.True(t, ok)
	id, err := wallet.ImportMSP(admin.MSPDir, "PatientsMSP")
	require.NoError(t, err)
	require.Equal(t, "admin", id.Role())
	require.Contains(t, id.Certificate().Subject.OrganizationalUnit, "admin", "the admin OU makes it an MSP admin")
	_, ok = profile.Identity("PharmaMSP", "manufacturer")
	require.True(t, ok)

	// Each peer got its builder configuration: its own organisation's chaincode server.
	var cfg map[string]string
	data, err := os.ReadFile(filepath.Join(dir, "nodes/peer1.clinic.careledger.test", render.BuilderConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &cfg))
	require.Equal(t, "127.0.0.1:9060", cfg["address"])
	for _, k := range []string{"root_cert", "client_cert", "client_key"} {
		require.Contains(t, cfg[k], "-----BEGIN", k)
	}

	// A second run keeps every identity.
	before, err := os.ReadFile(patients[0].Cert)
	require.NoError(t, err)
	require.NoError(t, enrol.New(nw, dir, nil).Run(ctx))
	after, err := os.ReadFile(patients[0].Cert)
	require.NoError(t, err)
	require.Equal(t, before, after)

	// The gateways are peers to channel policies; an identity enrolled with another type
	// than the topology asks for (a build directory from before) is refused, not kept.
	gw, ok := profile.Identity("ClinicMSP", "gateway")
	require.True(t, ok)
	gwID, err := wallet.ImportMSP(gw.MSPDir, "ClinicMSP")
	require.NoError(t, err)
	require.Contains(t, gwID.Certificate().Subject.OrganizationalUnit, "peer")
	changed := nw
	changed.Orgs = slices.Clone(nw.Orgs)
	for i, o := range changed.Orgs {
		changed.Orgs[i].Users = slices.Clone(o.Users)
		for j, u := range o.Users {
			if u.Role == "gateway" {
				changed.Orgs[i].Users[j].Type = "client"
			}
		}
	}
	require.ErrorContains(t, enrol.New(changed, dir, nil).Run(ctx), "network.sh clean")
}

func TestEnrolWithoutRunningCAFails(t *testing.T) {
	nw := topology.Default()
	nw.Orderer.CA.Port = freePort(t)
	dir := t.TempDir()
	_, err := render.Generate(nw, render.Options{Mode: topology.Native, Dir: dir, CCAASBuilder: "/x"})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = enrol.New(nw, dir, nil).Run(ctx)
	require.ErrorIs(t, err, enrol.ErrNotReady)
	_, statErr := os.Stat(filepath.Join(dir, "organizations"))
	require.ErrorIs(t, statErr, os.ErrNotExist, "nothing is written without a CA")
}

func startCA(t *testing.T, bin, home string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "start", "-H", home)
	cmd.Dir = home
	out, err := os.Create(filepath.Join(home, "server.log"))
	require.NoError(t, err)
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		out.Close()
	})
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
