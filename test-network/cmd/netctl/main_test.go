package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGenerateThenCheck(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "build")
	var out, errOut bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"generate", "-dir", dir, "-mode", "docker"}, &out, &errOut))
	require.Contains(t, out.String(), "docker mode")
	out.Reset()
	require.NoError(t, run(context.Background(), []string{"check", "-dir", dir, "-mode", "docker"}, &out, &errOut))
	require.Contains(t, out.String(), "0 enrolled identities")
}

// TestNodesIsWhatNetworkShReads pins the line format network.sh parses with `read -r`.
func TestNodesIsWhatNetworkShReads(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"nodes"}, &out, &out))
	kinds := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		f := strings.Fields(line)
		kinds[f[0]] = append(kinds[f[0]], strings.Join(f[1:], " "))
	}
	require.Len(t, kinds["ca"], 4)
	require.Len(t, kinds["orderer"], 3)
	require.Len(t, kinds["peer"], 3)
	require.Len(t, kinds["ccaas"], 2)
	require.Contains(t, kinds["peer"], "peer1.clinic.careledger.test 10051 ClinicMSP clinic CL_CCAAS_PEER1_CLINIC")
	require.Contains(t, kinds["orderer"], "orderer1.orderer.careledger.test 7050 7053 OrdererMSP")
	require.Contains(t, kinds["var"], "OPERATOR_MSPID PatientsMSP")
	require.Contains(t, kinds["var"], "CC_POLICY AND('PatientsMSP.peer','ClinicMSP.peer')")
	require.Len(t, kinds["ports"], 1)
	require.Len(t, strings.Fields(kinds["ports"][0]), 28, "4 CAs x2, 3 orderers x3, 3 peers x3, 2 chaincode servers")
}

func TestBadArguments(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{nil, "usage"},
		{[]string{"frobnicate", "-dir", dir}, "unknown command"},
		{[]string{"generate"}, "-dir is required"},
		{[]string{"generate", "-dir", dir, "-mode", "k8s"}, "want \"native\" or \"docker\""},
		{[]string{"generate", "-nope"}, "flag provided but not defined"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tt.args, &out, &errOut)
		require.Error(t, err, "%v", tt.args)
		require.Contains(t, err.Error()+errOut.String(), tt.want)
	}
}
