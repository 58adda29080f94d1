package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
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

// TestOrgCAIsTheCallDeploySends checks the peer CLI argument network.sh deploy sends to put
// an organisation's CA certificates on the ledger.
func TestOrgCAIsTheCallDeploySends(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca.clinic"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	cacerts := filepath.Join(dir, "organizations", "peerOrganizations", "clinic.careledger.test", "msp", "cacerts")
	require.NoError(t, os.MkdirAll(cacerts, 0o755))

	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"orgca", "-dir", dir, "-org", "ClinicMSP"}, &out, &errOut)
	require.ErrorContains(t, err, "no CA certificate")
	err = run(context.Background(), []string{"orgca", "-dir", dir, "-org", "NopeMSP"}, &out, &errOut)
	require.ErrorContains(t, err, "unknown organisation")

	require.NoError(t, os.WriteFile(filepath.Join(cacerts, "ca.pem"), []byte(caPEM), 0o644))
	require.NoError(t, run(context.Background(), []string{"orgca", "-dir", dir, "-org", "ClinicMSP"}, &out, &errOut))
	var call struct {
		Function string
		Args     []string
	}
	require.NoError(t, json.Unmarshal(out.Bytes(), &call))
	require.Equal(t, "SetOrgCACertificates", call.Function)
	require.Len(t, call.Args, 1)
	var certs model.CACertificates
	require.NoError(t, json.Unmarshal([]byte(call.Args[0]), &certs))
	require.Equal(t, []string{caPEM}, certs.Roots)
	require.Empty(t, certs.Intermediates)
}

func TestReadyRetriesUntilEveryPeerCanEndorse(t *testing.T) {
	tries := map[string]int{}
	notYet := errors.New("no combination of peers can be derived which satisfy the endorsement policy")
	probe := func(name string, failures int) readyProbe {
		return readyProbe{name: name, try: func(context.Context) error {
			tries[name]++
			if tries[name] <= failures {
				return notYet
			}
			return nil
		}}
	}
	var out bytes.Buffer
	require.NoError(t, waitReady(context.Background(), []readyProbe{probe("peer0", 2), probe("peer1", 0)}, time.Millisecond, &out))
	require.Equal(t, map[string]int{"peer0": 3, "peer1": 1}, tries)
	require.Contains(t, out.String(), "peer0: ready")
	require.Contains(t, out.String(), "peer1: ready")

	// A peer that never gets there: the error names it and says why, the next is not tried.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := waitReady(ctx, []readyProbe{probe("peer2", 1<<30), probe("peer3", 0)}, time.Millisecond, &out)
	require.ErrorIs(t, err, notYet)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.ErrorContains(t, err, "peer2")
	require.Zero(t, tries["peer3"])
}

func TestReadyNeedsAConnectionFile(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"ready", "-dir", t.TempDir(), "-timeout", "1s"}, &out, &errOut)
	require.ErrorContains(t, err, "careledger-connection.json")
}
