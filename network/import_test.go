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

	// Without its CA's key the node cannot issue a peer that the tree lacks.
	org1 := filepath.Join(other, "organizations", "peerOrganizations", "org1.example.com")
	require.NoError(t, os.Remove(filepath.Join(org1, "ca", "priv_sk")))
	require.NoError(t, os.RemoveAll(filepath.Join(org1, "peers", "peer0.org1.example.com")))
	_, err = network.ImportOrganizations(t.TempDir(), filepath.Join(other, "organizations"))
	require.ErrorContains(t, err, "no CA key")
}

// TestImportFabricCALayout: fabric-samples' network.sh up -ca enrols every identity with
// Fabric CA, which names certificates cert.pem and keys <ski>_sk and keeps the CAs' keys
// outside organizations/; the node serves such a tree too.
func TestImportFabricCALayout(t *testing.T) {
	samples := t.TempDir()
	c := network.Consortium{Channel: "mychannel", Chaincode: "basic", Orgs: []network.Org{
		{MSPID: "Org1MSP", Domain: "org1.example.com", Peer: true},
		{MSPID: "Org2MSP", Domain: "org2.example.com", Peer: true},
	}}
	require.NoError(t, network.GenerateMaterial(samples, c))
	tree := filepath.Join(samples, "organizations")
	var err error
	require.NoError(t, filepath.WalkDir(tree, func(p string, d os.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && (d.Name() == "ca" || d.Name() == "tlsca"):
			// The CAs live in organizations/fabric-ca/, not here.
			if err := os.RemoveAll(p); err != nil {
				return err
			}
			return filepath.SkipDir
		case filepath.Base(filepath.Dir(p)) == "signcerts":
			return os.Rename(p, filepath.Join(filepath.Dir(p), "cert.pem"))
		case d.Name() == "priv_sk" && filepath.Base(filepath.Dir(p)) == "keystore":
			return os.Rename(p, filepath.Join(filepath.Dir(p), "3f2a9c0b_sk"))
		}
		return nil
	}))

	dir := t.TempDir()
	c.Orgs, err = network.ImportOrganizations(dir, tree)
	require.NoError(t, err)
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}, Consortium: c})
	require.NoError(t, err)
	require.NoError(t, n.Start(t.Context()))
	t.Cleanup(func() { _ = n.Close() })
	user, err := network.LoadUser(dir, c.Orgs[1], "Admin")
	require.NoError(t, err)
	_, err = connect(t, n, user).GetNetwork("mychannel").GetContract("basic").SubmitTransaction("put", "k", "v")
	require.NoError(t, err, "both organisations' peers endorse")
}
