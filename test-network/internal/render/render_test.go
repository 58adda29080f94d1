package render_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/careledger/careledger/test-network/internal/render"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/test-network/internal/verify"
)

func generate(t *testing.T, mode topology.Mode) string {
	t.Helper()
	dir := t.TempDir()
	_, err := render.Generate(topology.Default(), render.Options{Mode: mode, Dir: dir, CCAASBuilder: "/opt/fabric/builders/ccaas"})
	require.NoError(t, err)
	return dir
}

func TestGenerateRendersACheckableNetwork(t *testing.T) {
	for _, mode := range []topology.Mode{topology.Native, topology.Docker} {
		t.Run(string(mode), func(t *testing.T) {
			dir := generate(t, mode)
			rep, err := verify.Dir(topology.Default(), dir, mode)
			require.NoError(t, err)
			require.Greater(t, rep.Files, 15)
			require.Zero(t, rep.Enrolled, "nothing is enrolled before the CAs run")
		})
	}
}

func TestGenerateAddressesPerMode(t *testing.T) {
	native := generate(t, topology.Native)
	core := readYAML(t, filepath.Join(native, "nodes/peer0.clinic.careledger.test/core.yaml"))
	peer := core["peer"].(map[string]any)
	require.Equal(t, "127.0.0.1:9051", peer["address"])
	require.Equal(t, "127.0.0.1:10051", peer["gossip"].(map[string]any)["bootstrap"], "bootstraps from the other clinic peer")
	require.Equal(t, filepath.Join(native, "organizations/peerOrganizations/clinic.careledger.test/peers/peer0.clinic.careledger.test/msp"), peer["mspConfigPath"])
	builders := core["chaincode"].(map[string]any)["externalBuilders"].([]any)
	require.Equal(t, "/opt/fabric/builders/ccaas", builders[0].(map[string]any)["path"])

	docker := generate(t, topology.Docker)
	core = readYAML(t, filepath.Join(docker, "nodes/peer0.clinic.careledger.test/core.yaml"))
	peer = core["peer"].(map[string]any)
	require.Equal(t, "peer0.clinic.careledger.test:9051", peer["address"])
	require.Equal(t, "0.0.0.0:9051", peer["listenAddress"])
	require.Equal(t, "/etc/hyperledger/careledger/organizations/peerOrganizations/clinic.careledger.test/peers/peer0.clinic.careledger.test/msp", peer["mspConfigPath"])
	builders = core["chaincode"].(map[string]any)["externalBuilders"].([]any)
	require.Equal(t, render.DockerCCAASBuilder, builders[0].(map[string]any)["path"])

	// The host CLI always gets host paths.
	cli := readYAML(t, filepath.Join(docker, "cli/core.yaml"))
	require.Equal(t, filepath.Join(docker, "organizations/peerOrganizations/patients.careledger.test/users/Admin@patients.careledger.test/msp"),
		cli["peer"].(map[string]any)["mspConfigPath"])
}

func TestComposeFiles(t *testing.T) {
	dir := generate(t, topology.Docker)
	services := map[string]map[string]any{}
	for _, f := range render.ComposeFiles {
		doc := readYAML(t, filepath.Join(dir, f))
		for name, svc := range doc["services"].(map[string]any) {
			services[name] = svc.(map[string]any)
		}
	}
	require.Len(t, services, 4+3+3+2, "4 CAs, 3 orderers, 3 peers, 2 chaincode servers")
	peer := services["peer1.clinic.careledger.test"]
	env := peer["environment"].(map[string]any)
	require.Equal(t, "${CL_CCAAS_PEER1_CLINIC:-}", env["CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"])
	require.Equal(t, "/etc/hyperledger/careledger/nodes/peer1.clinic.careledger.test", env["FABRIC_CFG_PATH"])
	cc := services["ccaas.patients.careledger.test"]
	require.Equal(t, "0.0.0.0:7060", cc["environment"].(map[string]any)["CHAINCODE_SERVER_ADDRESS"])
	for _, f := range render.ComposeFiles {
		data, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		require.NotContains(t, string(data), "BEGIN", "no key or certificate is written into a Compose file")
	}
	_, err := os.Stat(filepath.Join(generate(t, topology.Native), render.ComposeFiles[0]))
	require.ErrorIs(t, err, os.ErrNotExist, "native mode writes no Compose files")
}

func TestCCAASPackageIsReproducible(t *testing.T) {
	a, err := render.CCAASPackage("careledger_1.0")
	require.NoError(t, err)
	b, err := render.CCAASPackage("careledger_1.0")
	require.NoError(t, err)
	require.Equal(t, a, b, "same package, same package ID on every machine")
	id := render.PackageID("careledger_1.0", a)
	require.Regexp(t, `^careledger_1\.0:[0-9a-f]{64}$`, id)

	c, err := render.CCAASPackage("careledger_1.1")
	require.NoError(t, err)
	require.NotEqual(t, id, render.PackageID("careledger_1.1", c))

	for _, bad := range []string{"", "_x", "care ledger", "a/b", "x:y"} {
		_, err := render.CCAASPackage(bad)
		require.Error(t, err, "label %q", bad)
	}
}

func TestRegenerateKeepsCASecrets(t *testing.T) {
	dir := generate(t, topology.Native)
	ca := topology.Default().Orgs[0].CA
	secretFile := filepath.Join(dir, topology.CASecret(ca))
	first, err := os.ReadFile(secretFile)
	require.NoError(t, err)
	info, err := os.Stat(secretFile)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	_, err = render.Generate(topology.Default(), render.Options{Mode: topology.Docker, Dir: dir})
	require.NoError(t, err)
	again, err := os.ReadFile(secretFile)
	require.NoError(t, err)
	require.Equal(t, first, again, "the CA stored the first secret; it must never change")

	other := generate(t, topology.Native)
	theirs, err := os.ReadFile(filepath.Join(other, topology.CASecret(ca)))
	require.NoError(t, err)
	require.NotEqual(t, first, theirs, "secrets are random per build, never fixed")
}

func TestGenerateRejectsBadOptions(t *testing.T) {
	parent := t.TempDir()
	tests := []struct {
		name string
		opts render.Options
	}{
		{"no mode", render.Options{Dir: filepath.Join(parent, "a"), CCAASBuilder: "/x"}},
		{"unknown mode", render.Options{Mode: "k8s", Dir: filepath.Join(parent, "b"), CCAASBuilder: "/x"}},
		{"no dir", render.Options{Mode: topology.Native, CCAASBuilder: "/x"}},
		{"native without builder", render.Options{Mode: topology.Native, Dir: filepath.Join(parent, "c")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files, err := render.Generate(topology.Default(), tt.opts)
			require.ErrorIs(t, err, render.ErrBadOptions)
			require.Empty(t, files)
		})
	}
	entries, err := os.ReadDir(parent)
	require.NoError(t, err)
	require.Empty(t, entries, "bad options write nothing")
}

func TestCorruptSecretIsReported(t *testing.T) {
	dir := generate(t, topology.Native)
	ca := topology.Default().Orderer.CA
	require.NoError(t, os.WriteFile(filepath.Join(dir, topology.CASecret(ca)), []byte("two words\n"), 0o600))
	_, err := render.Generate(topology.Default(), render.Options{Mode: topology.Native, Dir: dir, CCAASBuilder: "/x"})
	require.ErrorContains(t, err, "malformed")
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var doc map[string]any
	require.NoError(t, yaml.Unmarshal(data, &doc))
	require.False(t, strings.Contains(string(data), "<no value>"), "%s: template hole", path)
	return doc
}
