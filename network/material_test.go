package network_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/network/networktest"
	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/attrmgr"
	"github.com/stretchr/testify/require"
)

func TestGenerateMaterialLayout(t *testing.T) {
	dir := t.TempDir()
	cons := network.DefaultConsortium()
	require.NoError(t, network.GenerateMaterial(dir, cons))

	patients := filepath.Join(dir, "organizations", "peerOrganizations", "patients.careledger.local")
	for _, p := range []string{
		"ca/ca.patients.careledger.local-cert.pem", "ca/priv_sk",
		"tlsca/tlsca.patients.careledger.local-cert.pem",
		"msp/cacerts/ca.patients.careledger.local-cert.pem", "msp/tlscacerts/tlsca.patients.careledger.local-cert.pem", "msp/config.yaml",
		"peers/peer0.patients.careledger.local/msp/signcerts/peer0.patients.careledger.local-cert.pem",
		"peers/peer0.patients.careledger.local/msp/keystore/priv_sk",
		"peers/peer0.patients.careledger.local/tls/ca.crt",
		"peers/peer0.patients.careledger.local/tls/server.crt",
		"users/Admin@patients.careledger.local/msp/signcerts/Admin@patients.careledger.local-cert.pem",
		"users/Admin@patients.careledger.local/msp/keystore/priv_sk",
		"users/gateway@patients.careledger.local/tls/client.crt",
		"users/anonymizer@patients.careledger.local/msp/keystore/priv_sk",
	} {
		require.FileExists(t, filepath.Join(patients, p))
	}
	info, err := os.Stat(filepath.Join(patients, "users/Admin@patients.careledger.local/msp/keystore/priv_sk"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "private keys are private")

	info, err = os.Stat(filepath.Join(patients, "users/Admin@patients.careledger.local/msp/keystore"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), "only the service user may list the material")

	pharma := filepath.Join(dir, "organizations", "peerOrganizations", "pharma.careledger.local")
	require.NoDirExists(t, filepath.Join(pharma, "peers"), "client-only organisations run no peer")
	require.NoDirExists(t, filepath.Join(pharma, "users", "manufacturer1@pharma.careledger.local"), "members enrol by CSR, the CA writes none")
	require.NoDirExists(t, filepath.Join(patients, "users", "patient1@patients.careledger.local"), "members enrol by CSR, the CA writes none")
	require.NoError(t, networktest.Members(dir, cons))

	tests := []struct {
		msp, user, role, ou string
	}{
		{network.PatientsMSP, "Admin", network.RoleAdmin, "admin"},
		// A peer organisation's gateway is one of its peers to channel policies.
		{network.PatientsMSP, "gateway", network.RoleGateway, "peer"},
		{network.PatientsMSP, "patient1", network.RolePatient, "client"},
		{network.PatientsMSP, "anonymizer", network.RoleAnonymizer, "client"},
		{network.ClinicMSP, "clinician1", network.RoleClinician, "client"},
		{network.ClinicMSP, "gateway", network.RoleGateway, "peer"},
		{network.PharmaMSP, "gateway", network.RoleGateway, "client"}, // runs no peer to be one of
		{network.PharmaMSP, "manufacturer1", network.RoleManufacturer, "client"},
	}
	for _, tt := range tests {
		t.Run(tt.msp+"/"+tt.user, func(t *testing.T) {
			org, _ := cons.Org(tt.msp)
			u, err := network.LoadUser(dir, org, tt.user)
			require.NoError(t, err)
			require.Equal(t, tt.role, u.Role)
			attrs, err := attrmgr.New().GetAttributesFromCert(u.Cert)
			require.NoError(t, err)
			role, ok, err := attrs.Value("role")
			require.NoError(t, err)
			require.True(t, ok)
			require.Equal(t, tt.role, role)
			eid, _, _ := attrs.Value("hf.EnrollmentID")
			require.Equal(t, u.EnrollmentID, eid)
			require.Equal(t, eid, u.Cert.Subject.CommonName)
			require.Equal(t, []string{tt.ou}, u.Cert.Subject.OrganizationalUnit)
			typ, _, _ := attrs.Value("hf.Type")
			require.Equal(t, tt.ou, typ)
			if tt.role == network.RolePatient {
				require.Regexp(t, `^[0-9a-f]{32}$`, eid, "patients are pseudonymous")
			}
		})
	}

	// A second run keeps the existing material.
	before, err := os.ReadFile(filepath.Join(patients, "ca/priv_sk"))
	require.NoError(t, err)
	require.NoError(t, network.GenerateMaterial(dir, cons))
	after, err := os.ReadFile(filepath.Join(patients, "ca/priv_sk"))
	require.NoError(t, err)
	require.Equal(t, before, after)
}

func TestIssueUser(t *testing.T) {
	n := startNode(t, t.TempDir())
	org, _ := n.Config().Consortium.Org(network.ClinicMSP)
	u, err := network.IssueUser(n.Config().Dir, org, network.UserSpec{Name: "clinician2", Role: network.RoleClinician, EnrollmentID: "dr-who"})
	require.NoError(t, err)
	require.Equal(t, "dr-who", u.EnrollmentID)
	require.NotNil(t, u.Key, "the key stays with the caller")
	require.NoDirExists(t, filepath.Join(u.Dir, "msp", "keystore"), "and is never written")
	require.NoFileExists(t, filepath.Join(u.Dir, "tls", "client.key"))

	_, err = network.IssueUser(n.Config().Dir, org, network.UserSpec{Name: "clinician2", Role: network.RoleClinician})
	require.ErrorContains(t, err, "already exists")
	for _, bad := range []network.UserSpec{{Name: "", Role: "x"}, {Name: "a/b", Role: "x"}, {Name: "a@b", Role: "x"}, {Name: "ok"}} {
		_, err := network.IssueUser(n.Config().Dir, org, bad)
		require.ErrorIs(t, err, network.ErrInvalidConfig, "%+v", bad)
	}

	p, err := network.IssueUser(n.Config().Dir, org, network.UserSpec{Name: "walkin", Role: network.RolePatient, EnrollmentID: "Jane Doe"})
	require.NoError(t, err)
	require.NotContains(t, p.EnrollmentID, "Jane", "a patient's name never becomes the enrollment ID")

	c := connect(t, n, u).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
	out, err := c.EvaluateTransaction("whoami")
	require.NoError(t, err)
	var who map[string]string
	require.NoError(t, json.Unmarshal(out, &who))
	require.Equal(t, "dr-who", who["enrollmentID"])
	require.Equal(t, network.RoleClinician, who["role"])
}

// TestExternalCAAccepted configures an organisation with the root of an outside CA, as for a
// Fabric CA, and checks that identities it issues (with Fabric CA's attribute extension) work.
func TestExternalCAAccepted(t *testing.T) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "fabric-ca-server"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	caCert, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	attrs, err := json.Marshal(map[string]map[string]string{"attrs": {"role": "patient", "hf.EnrollmentID": "f00d", "hf.Type": "client"}})
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(8), Subject: pkix.Name{CommonName: "f00d", OrganizationalUnit: []string{"client"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtraExtensions: []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}, Value: attrs}}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)

	cons := network.DefaultConsortium()
	cons.Orgs[0].CACertsPEM = [][]byte{pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	n, err := network.New(network.Config{Consortium: cons, Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })

	user := &network.User{MSPID: network.PatientsMSP, Name: "f00d", Cert: cert, Key: key}
	c := connect(t, n, user).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)
	_, err = c.SubmitTransaction("put", "from-fabric-ca", "ok")
	require.NoError(t, err)
	out, err := c.EvaluateTransaction("whoami")
	require.NoError(t, err)
	require.JSONEq(t, `{"msp":"PatientsMSP","role":"patient","enrollmentID":"f00d"}`, string(out))

	// The same identity claiming another MSP is refused.
	user.MSPID = network.ClinicMSP
	_, err = connect(t, n, user).GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode).EvaluateTransaction("whoami")
	require.ErrorContains(t, err, "does not chain to a CA of ClinicMSP")
}

func TestConsortiumValidate(t *testing.T) {
	valid := network.DefaultConsortium()
	require.NoError(t, valid.Validate())
	require.Equal(t, "OR('PatientsMSP.peer', 'PatientsMSP.admin', 'ClinicMSP.peer', 'ClinicMSP.admin')",
		valid.Policies[network.PolicyStreamReaders], "nobody of the client-only PharmaMSP may stream the ledger")
	for _, res := range network.Resources {
		require.Equal(t, network.PolicyStreamReaders, valid.ACLs[res])
	}
	// A consortium without policies gets the defaults, computed from its own organisations.
	bare := network.Consortium{Orgs: []network.Org{{MSPID: "LabMSP", Domain: "lab.example", Peer: true}}, Channel: "c", Chaincode: "cc"}
	require.NoError(t, bare.Validate())
	tests := map[string]func(c *network.Consortium){
		"bad channel":      func(c *network.Consortium) { c.Channel = "Bad_Channel" },
		"bad chaincode":    func(c *network.Consortium) { c.Chaincode = "" },
		"no orgs":          func(c *network.Consortium) { c.Orgs = nil },
		"duplicate msp":    func(c *network.Consortium) { c.Orgs[1].MSPID = c.Orgs[0].MSPID },
		"duplicate domain": func(c *network.Consortium) { c.Orgs[1].Domain = c.Orgs[0].Domain },
		"bad domain":       func(c *network.Consortium) { c.Orgs[0].Domain = "../etc" },
		"bad msp id":       func(c *network.Consortium) { c.Orgs[0].MSPID = "a b" },
		"no peer org": func(c *network.Consortium) {
			for i := range c.Orgs {
				c.Orgs[i].Peer = false
			}
		},
		"unparsable policy":       func(c *network.Consortium) { c.Policies[network.PolicyStreamReaders] = "OR('PatientsMSP.peer'" },
		"policy names a stranger": func(c *network.Consortium) { c.Policies["X"] = "OR('OtherMSP.peer')" },
		"bad policy name":         func(c *network.Consortium) { c.Policies["a/b"] = "OR('PatientsMSP.peer')" },
		"ACL for unknown resource": func(c *network.Consortium) {
			c.ACLs["qscc/GetBlockByNumber"] = network.PolicyStreamReaders
		},
		"ACL names undefined policy": func(c *network.Consortium) { c.ACLs[network.ResourceBlock] = "Readers" },
		"resource without ACL":       func(c *network.Consortium) { delete(c.ACLs, network.ResourceCommitStatus) },
		"no ACLs at all":             func(c *network.Consortium) { c.ACLs = map[string]string{} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			c := network.DefaultConsortium()
			mutate(&c)
			require.ErrorIs(t, c.Validate(), network.ErrInvalidConfig)
			require.ErrorIs(t, network.GenerateMaterial(t.TempDir(), c), network.ErrInvalidConfig)
		})
	}
	_, err := network.New(network.Config{Dir: t.TempDir()})
	require.ErrorIs(t, err, network.ErrInvalidConfig, "a chaincode is required")
}

func TestPlainGRPCAndExtraTLSHosts(t *testing.T) {
	dir := t.TempDir()
	n, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}, InsecureNoTLS: true})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	res, err := network.Bench(context.Background(), testWriter{t}, n.BenchTarget(loadUser(t, n, network.ClinicMSP, "clinician1")), benchOptions(1, 100*time.Millisecond))
	require.NoError(t, err)
	require.Positive(t, res.Committed)
	require.NoError(t, n.Close())

	// Restarting with a host name the TLS certificate lacks reissues it, keeping the identity.
	n2, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}, TLSHosts: []string{"ledger.example.org", "10.1.2.3"}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n2.Close() })
	op := network.DefaultConsortium().Operator()
	raw, err := os.ReadFile(filepath.Join(network.OrgDir(dir, op), "peers", network.PeerName(op), "tls", "server.crt"))
	require.NoError(t, err)
	blk, _ := pem.Decode(raw)
	cert, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	require.NoError(t, cert.VerifyHostname("ledger.example.org"))
	require.NoError(t, cert.VerifyHostname("10.1.2.3"))
	require.NoError(t, cert.VerifyHostname("localhost"))
}
