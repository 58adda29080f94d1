package verify_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/test-network/internal/render"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/test-network/internal/verify"
)

// TestDetectsBrokenConfiguration edits one rendered file at a time the way a careless hand
// edit or a template regression would, and expects the check that CI runs to notice.
func TestDetectsBrokenConfiguration(t *testing.T) {
	tests := []struct {
		name, file, old, new, want string
		mode                       topology.Mode
	}{
		{"peer with docker endpoint", "nodes/peer0.patients.careledger.test/core.yaml", `endpoint: ""`, `endpoint: unix:///var/run/docker.sock`, "vm.endpoint", topology.Native},
		{"peer without tls", "nodes/peer0.patients.careledger.test/core.yaml", "tls:\n    enabled: true", "tls:\n    enabled: false", "peer.tls.enabled", topology.Native},
		{"peer without ccaas builder", "nodes/peer1.clinic.careledger.test/core.yaml", "- name: ccaas_builder", "- name: golang", "ccaas_builder", topology.Native},
		{"orderer unknown key", "nodes/orderer2.orderer.careledger.test/orderer.yaml", "Debug:", "Kafka:\n  Retry: 1\nDebug:", `unknown top-level key "Kafka"`, topology.Native},
		{"osnadmin without mutual tls", "nodes/orderer1.orderer.careledger.test/orderer.yaml", "ClientAuthRequired: true", "ClientAuthRequired: false", "Admin.TLS.ClientAuthRequired", topology.Native},
		{"invalid yaml", "configtx/configtx.yaml", "Organizations:", "Organizations: [", "not valid YAML", topology.Native},
		{"pharma not a member", "configtx/configtx.yaml", "        - *PharmaMSP\n", "", "PharmaMSP is not a channel member", topology.Native},
		{"pharma streams blocks", "configtx/configtx.yaml", `Rule: "OR('PatientsMSP.peer', 'PatientsMSP.admin'`, `Rule: "OR('PharmaMSP.member', 'PatientsMSP.peer', 'PatientsMSP.admin'`, "Application.Policies.StreamReaders names [PharmaMSP", topology.Native},
		{"patients' clients stream blocks", "configtx/configtx.yaml", `Rule: "OR('PatientsMSP.peer', 'PatientsMSP.admin'`, `Rule: "OR('PatientsMSP.member', 'PatientsMSP.admin'`, "admits PatientsMSP members other than peers and admins", topology.Native},
		{"everyone reads from the orderers", "configtx/configtx.yaml", "Readers:\n      Type: Signature\n      Rule: \"OR('OrdererMSP.member'", "Readers:\n      Type: ImplicitMeta\n      Rule: \"ANY Readers\"\n      X: \"OR('OrdererMSP.member'", "Channel.Policies.Readers.Type is ImplicitMeta", topology.Native},
		{"unparsable stream policy", "configtx/configtx.yaml", `Rule: "OR('PatientsMSP.peer', 'PatientsMSP.admin'`, `Rule: "OR('PatientsMSP.peer' 'PatientsMSP.admin'`, "invalid signature policy", topology.Native},
		{"block events for readers", "configtx/configtx.yaml", "event/Block: /Channel/Application/StreamReaders", "event/Block: /Channel/Application/Readers", "Application.ACLs.event/Block is /Channel/Application/Readers", topology.Native},
		{"qscc blocks for readers", "configtx/configtx.yaml", "    qscc/GetBlockByNumber: /Channel/Application/StreamReaders\n", "", "Application.ACLs.qscc/GetBlockByNumber missing", topology.Native},
		{"gateway cannot write", "configtx/configtx.yaml", `Rule: "OR('ClinicMSP.admin', 'ClinicMSP.client', 'ClinicMSP.peer')"`, `Rule: "OR('ClinicMSP.admin', 'ClinicMSP.client')"`, "Writers of ClinicMSP do not admit its gateway", topology.Native},
		{"wrong package id", "chaincode/package-id", "careledger_1.0:", "careledger_1.1:", "is not the package ID", topology.Native},
		{"compose publishes to all interfaces", "compose/compose-net.yaml", `"127.0.0.1:7051:7051"`, `"7051:7051"`, "beyond the loopback", topology.Docker},
		{"ca secret drift", "ca/ca-clinic/bootstrap-secret", "", "x", "bootstrap secret differs", topology.Native},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := render.Generate(topology.Default(), render.Options{Mode: tt.mode, Dir: dir, CCAASBuilder: "/x"})
			require.NoError(t, err)
			path := filepath.Join(dir, filepath.FromSlash(tt.file))
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			var edited string
			if tt.old == "" {
				edited = tt.new + string(data)
			} else {
				require.Contains(t, string(data), tt.old)
				edited = strings.Replace(string(data), tt.old, tt.new, 1)
			}
			require.NoError(t, os.WriteFile(path, []byte(edited), 0o600))

			_, err = verify.Dir(topology.Default(), dir, tt.mode)
			require.ErrorIs(t, err, verify.ErrCheck)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestMissingBuildDirectory(t *testing.T) {
	_, err := verify.Dir(topology.Default(), filepath.Join(t.TempDir(), "absent"), topology.Native)
	require.ErrorIs(t, err, verify.ErrCheck)
	require.ErrorContains(t, err, "configtx.yaml")
}
