package connprofile_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/test-network/connprofile"
)

func TestLoadResolvesPathsAgainstTheFilesFolder(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(filepath.Join("testdata", "minimal.json"))
	require.NoError(t, err)
	path := filepath.Join(dir, "careledger-connection.json")
	require.NoError(t, os.WriteFile(path, data, 0o644))

	p, err := connprofile.Load(path)
	require.NoError(t, err)
	require.Equal(t, "careledger", p.Channel)
	org, ok := p.Org("PatientsMSP")
	require.True(t, ok)
	require.Equal(t, filepath.Join(dir, "organizations/peerOrganizations/patients.careledger.test/msp/tlscacerts/ca.pem"), org.TLSCACert)
	require.Equal(t, filepath.Join(dir, "ca/ca-patients/ca-cert.pem"), org.CA.TLSCACert)
	admin, ok := p.Identity("PatientsMSP", "admin")
	require.True(t, ok)
	require.True(t, filepath.IsAbs(admin.Cert) && filepath.IsAbs(admin.Key) && filepath.IsAbs(admin.MSPDir))
	require.Equal(t, "patients-admin", admin.EnrollmentID)
	_, ok = p.Identity("PharmaMSP", "manufacturer")
	require.False(t, ok)
}

func TestGatewayPeer(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "minimal.json"))
	require.NoError(t, err)
	p, err := connprofile.Parse(data)
	require.NoError(t, err)

	peer, org, ok := p.GatewayPeer("PatientsMSP")
	require.True(t, ok)
	require.Equal(t, "127.0.0.1:7051", peer.Endpoint)
	require.Equal(t, "PatientsMSP", org.MSPID)

	// Manufacturers run no peer: they go through a peer organisation's peer.
	peer, org, ok = p.GatewayPeer("PharmaMSP")
	require.True(t, ok)
	require.Equal(t, "peer0.patients.careledger.test", peer.TLSServerName)
	require.Equal(t, "PatientsMSP", org.MSPID)
}

func TestParseRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "minimal.json"))
	require.NoError(t, err)
	tests := []struct {
		name, old, new, want string
	}{
		{"version", `"version": 1`, `"version": 2`, "version 2"},
		{"channel", `"channel": "careledger"`, `"channel": "Care Ledger"`, "channel"},
		{"msp id mismatch", `"mspId": "PatientsMSP"`, `"mspId": "ClinicMSP"`, "has mspId"},
		{"endpoint without port", `"endpoint": "127.0.0.1:7051"`, `"endpoint": "127.0.0.1"`, "want host:port"},
		{"endpoint bad port", `"endpoint": "127.0.0.1:7051"`, `"endpoint": "127.0.0.1:70510"`, "bad port"},
		{"server name", `"tlsServerName": "peer0.patients.careledger.test"`, `"tlsServerName": ""`, "tlsServerName"},
		{"ca over http", `"url": "https://127.0.0.1:7054"`, `"url": "http://127.0.0.1:7054"`, "https"},
		{"unknown role", `"admin": [`, `"operator": [`, "unknown role"},
		{"identity without key", `"key": "organizations/peerOrganizations/patients.careledger.test/users/Admin@patients.careledger.test/msp/keystore/0a_sk"`, `"key": ""`, "missing path"},
		{"identity without enrollment ID", `"enrollmentId": "patients-admin"`, `"enrollmentId": ""`, "enrollmentId"},
		{"unknown field", `"chaincode": "careledger",`, `"chaincode": "careledger", "chaincodes": [],`, "unknown field"},
		{"trailing data", "}\n}\n", "}\n}\n{}", "after the JSON"},
		{"no peers anywhere", `{"name": "peer0.patients.careledger.test", "endpoint": "127.0.0.1:7051", "tlsServerName": "peer0.patients.careledger.test"}`, ``, "no organization has a peer"},
		{"not json", `{`, `[`, "invalid connection file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := strings.Replace(string(good), tt.old, tt.new, 1)
			require.NotEqual(t, string(good), bad, "test case does not change the input")
			_, err := connprofile.Parse([]byte(bad))
			require.ErrorIs(t, err, connprofile.ErrInvalid)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "minimal.json"))
	require.NoError(t, err)
	p, err := connprofile.Parse(data)
	require.NoError(t, err)
	out, err := p.Marshal()
	require.NoError(t, err)
	again, err := connprofile.Parse(out)
	require.NoError(t, err)
	require.Equal(t, p, again)

	p.Version = 0
	_, err = p.Marshal()
	require.ErrorIs(t, err, connprofile.ErrInvalid, "an invalid profile is never written")
}

// FuzzParse feeds arbitrary bytes to the parser of a file CareLedger reads from disk: it
// must never panic, and whatever it accepts must survive a round trip.
func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "minimal.json"))
	require.NoError(f, err)
	f.Add(seed)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"channel":"c","chaincode":"c","organizations":{"A":null}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := connprofile.Parse(data)
		if err != nil {
			require.ErrorIs(t, err, connprofile.ErrInvalid)
			return
		}
		out, err := p.Marshal()
		require.NoError(t, err)
		_, err = connprofile.Parse(out)
		require.NoError(t, err)
	})
}
