package network_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

func TestImportOrganizations(t *testing.T) {
	samples := t.TempDir()
	c := network.Consortium{Channel: "mychannel", Chaincode: "basic", Orgs: []network.Org{
		{MSPID: "Org2MSP", Domain: "org2.example.com", Peer: true},
		{MSPID: "Org1MSP", Domain: "org1.example.com", Peer: true},
		{MSPID: "Org3MSP", Domain: "org3.example.com"},
	}}
	require.NoError(t, network.GenerateMaterial(samples, c))
	tree := filepath.Join(samples, "organizations")
	// fabric-samples' test-network names the MSP in a connection profile beside the material.
	require.NoError(t, os.WriteFile(filepath.Join(tree, "peerOrganizations", "org3.example.com", "connection-org3.json"),
		[]byte(`{"name":"test-network-org3","organizations":{"Org3":{"mspid":"LabMSP"}}}`), 0o644))

	dir := t.TempDir()
	orgs, err := network.ImportOrganizations(dir, tree)
	require.NoError(t, err)
	require.Equal(t, []network.Org{
		{MSPID: "Org1MSP", Domain: "org1.example.com", Peer: true},
		{MSPID: "Org2MSP", Domain: "org2.example.com", Peer: true},
		{MSPID: "LabMSP", Domain: "org3.example.com"},
	}, orgs, "peer organisations first, the operator first of them")
	key, err := os.Stat(filepath.Join(dir, "organizations", "peerOrganizations", "org1.example.com", "peers", "peer0.org1.example.com", "msp", "keystore", "priv_sk"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), key.Mode().Perm(), "private keys stay the owner's")

	// The imported organisations serve as the node's consortium.
	c.Orgs = orgs
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}, Consortium: c})
	require.NoError(t, err)
	require.Equal(t, "peer0.org1.example.com", n.ServerName())
	require.Equal(t, "AND('Org1MSP.peer','Org2MSP.peer')", n.Config().Consortium.EndorsementPolicy)
	require.NoError(t, n.Close())

	_, err = network.ImportOrganizations(dir, tree)
	require.NoError(t, err, "importing the same tree again changes nothing")

	other := t.TempDir()
	require.NoError(t, network.GenerateMaterial(other, c))
	_, err = network.ImportOrganizations(dir, filepath.Join(other, "organizations"))
	require.ErrorIs(t, err, network.ErrInvalidConfig, "another network's organisations under the same domains")

	require.NoError(t, os.Remove(filepath.Join(other, "organizations", "peerOrganizations", "org1.example.com", "ca", "priv_sk")))
	_, err = network.ImportOrganizations(t.TempDir(), filepath.Join(other, "organizations"))
	require.ErrorContains(t, err, "not in cryptogen's layout")
}
