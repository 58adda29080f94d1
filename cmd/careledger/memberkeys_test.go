package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

// memberKey is a member's private key as the test knows it, to look for in a directory.
type memberKey struct {
	label string
	key   *ecdsa.PrivateKey
}

// memberKeysOf unlocks the members' identities in the wallet and exports their keys outside
// the data directory, so the scan knows what to look for.
func memberKeysOf(t *testing.T, w *wallet.Wallet, pass []byte, labels ...string) []memberKey {
	t.Helper()
	var out []memberKey
	for _, label := range labels {
		id, err := w.Get(label, pass)
		require.NoError(t, err, label)
		dir := filepath.Join(t.TempDir(), "msp")
		require.NoError(t, wallet.ExportMSP(id, dir))
		keys, err := filepath.Glob(filepath.Join(dir, "keystore", "*_sk"))
		require.NoError(t, err)
		require.Len(t, keys, 1)
		found := parseKeysIn(t, keys[0])
		require.Len(t, found, 1)
		out = append(out, memberKey{label: label, key: found[0]})
	}
	return out
}

// parseKeysIn returns every EC private key in the file: PEM blocks of any type, and DER
// PKCS#8 or SEC 1 structures at any offset (raw, or inside other formats).
func parseKeysIn(t *testing.T, path string) []*ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []*ecdsa.PrivateKey
	try := func(der []byte) {
		if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
			if ec, ok := k.(*ecdsa.PrivateKey); ok {
				out = append(out, ec)
			}
		} else if ec, err := x509.ParseECPrivateKey(der); err == nil {
			out = append(out, ec)
		}
	}
	for rest := b; ; {
		i := bytes.Index(rest, []byte("-----BEGIN "))
		if i < 0 {
			break
		}
		blk, r := pem.Decode(rest[i:])
		if blk == nil {
			rest = rest[i+1:]
			continue
		}
		try(blk.Bytes)
		rest = r
	}
	for i := range b {
		if b[i] != 0x30 { // an ASN.1 SEQUENCE, as both key encodings start
			continue
		}
		var raw asn1.RawValue
		if rest, err := asn1.Unmarshal(b[i:], &raw); err == nil {
			try(b[i : len(b)-len(rest)])
		}
	}
	return out
}

// scanForMemberKeys lists the files under root that hold one of the members' private keys:
// as PEM or DER (PKCS#8 or SEC 1), or as the raw 32-byte scalar (big- or little-endian, hex,
// base64), which is the only scalar that matches the member's public key.
func scanForMemberKeys(t *testing.T, root string, members []memberKey) []string {
	t.Helper()
	var found []string
	require.NoError(t, filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		require.NoError(t, err)
		if d.IsDir() || !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		parsed := parseKeysIn(t, p)
		for _, m := range members {
			hit := slices.ContainsFunc(parsed, func(k *ecdsa.PrivateKey) bool { return k.PublicKey.Equal(&m.key.PublicKey) })
			d := m.key.D.FillBytes(make([]byte, 32))
			le := slices.Clone(d)
			slices.Reverse(le)
			for _, needle := range [][]byte{d, le, []byte(hex.EncodeToString(d)), []byte(strings.ToUpper(hex.EncodeToString(d))),
				[]byte(base64.StdEncoding.EncodeToString(d)), []byte(base64.RawURLEncoding.EncodeToString(d))} {
				hit = hit || bytes.Contains(b, needle)
			}
			if hit {
				rel, _ := filepath.Rel(root, p)
				found = append(found, m.label+" in "+rel)
			}
		}
		return nil
	}))
	return found
}

// TestNoMemberKeyInTheDataDirectory runs the user stories, enrolling members with `admin
// enrol` as well as the demo set-up does, then parses every file of the data directory (ledger,
// node material, record and key stores, wallet) for the members' private keys in any clear
// encoding and finds none: members' keys exist only encrypted in the wallet.
func TestNoMemberKeyInTheDataDirectory(t *testing.T) {
	c := startCLIStack(t)
	c.must("admin", "enrol", "--role", "patient", "--label", "alice")
	c.must("admin", "enrol", "--role", "clinician", "--label", "dr-who")
	var doctor model.Caller
	c.jsonOf(&doctor, "clinician", "whoami")
	note := filepath.Join(t.TempDir(), "note.txt")
	require.NoError(t, os.WriteFile(note, []byte("a letter"), 0o600))
	c.must("patient", "upload", "--file", note, "--type", "text/plain", "--category", "document")
	c.must("patient", "grant", "--to", doctor.ID, "--category", "document", "--days", "7")
	c.must("clinician", "history", mustWhoAmI(t, c, "patient").ID)
	c.must("patient", "whoami", "--as", "alice")
	c.must("manufacturer", "cohorts")

	w, err := wallet.Open(filepath.Join(c.dataDir, "wallet"))
	require.NoError(t, err)
	members := memberKeysOf(t, w, []byte("wallet pass"), "patient", "clinician", "manufacturer", "alice", "dr-who")
	require.Empty(t, scanForMemberKeys(t, c.dataDir, members))

	// Positive control: the scan finds a key in every encoding it claims to.
	planted := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(members[0].key)
	require.NoError(t, err)
	sec1, err := x509.MarshalECPrivateKey(members[1].key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(planted, "pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(planted, "der"), append([]byte("junk"), sec1...), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(planted, "raw"), append([]byte("xx"), members[2].key.D.FillBytes(make([]byte, 32))...), 0o600))
	require.ElementsMatch(t, []string{"patient in pem", "clinician in der", "manufacturer in raw"}, scanForMemberKeys(t, planted, members))
}

func mustWhoAmI(t *testing.T, c *cli, role string, args ...string) model.Caller {
	t.Helper()
	var who model.Caller
	c.jsonOf(&who, append([]string{role, "whoami"}, args...)...)
	return who
}

// TestDataDirectoryCannotSignAsAMember is the probe of issue 17: someone holding every file
// of the data directory, but no wallet passphrase, tries every private key found there to sign a
// Grant as another patient, and to read a record as another clinician (over the API's mutual
// TLS as that clinician, and on the ledger as that clinician). Every attempt fails.
func TestDataDirectoryCannotSignAsAMember(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := testStackConfig(dir)
	s, err := startStack(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.serveAPI("127.0.0.1:0"))
	pass := cfg.WalletPassword
	patientID, err := s.wallet.Get("patient", pass)
	require.NoError(t, err)
	clinicianID, err := s.wallet.Get("clinician", pass)
	require.NoError(t, err)

	// What the data directory offers: every private key in any file, and the members'
	// certificates, which are public.
	var keys []*ecdsa.PrivateKey
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			keys = append(keys, parseKeysIn(t, p)...)
		}
		return err
	}))
	require.NotEmpty(t, keys, "the node's own keys are there")
	for _, k := range keys {
		require.False(t, k.PublicKey.Equal(patientID.Certificate().PublicKey), "the patient's key is not in the data directory")
		require.False(t, k.PublicKey.Equal(clinicianID.Certificate().PublicKey), "the clinician's key is not in the data directory")
	}

	grant := model.GrantRequest{ID: "probe", Grantee: model.Grantee{ID: clinicianID.LedgerID()}, Actions: []string{"read"}, Categories: []string{"document"}, Purpose: "TREAT"}
	for i, k := range keys {
		sign, err := identity.NewPrivateKeySign(k)
		require.NoError(t, err)
		asPatient, err := s.clientFor(patientID.MSPID(), patientID.CertificatePEM(), sign)
		require.NoError(t, err)
		_, err = asPatient.Grant(ctx, grant)
		require.Error(t, err, "key %d signed a Grant as the patient", i)

		asClinician, err := s.clientFor(clinicianID.MSPID(), clinicianID.CertificatePEM(), sign)
		require.NoError(t, err)
		_, err = asClinician.WhoAmI(ctx)
		require.Error(t, err, "key %d acted on the ledger as the clinician", i)

		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		_, err = tls.X509KeyPair(clinicianID.CertificatePEM(), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
		require.Error(t, err, "key %d makes a TLS client certificate of the clinician", i)
	}
	// The gateway key is in the node's material, but a gateway makes no consent decision.
	_, err = s.gateways[patientID.MSPID()].For(patientID.CertificatePEM()).Grant(ctx, grant)
	require.ErrorIs(t, err, &model.Error{Code: model.CodeForbidden})

	// Control: the patient's own key, from the wallet with the passphrase, does sign.
	own, err := s.clientFor(patientID.MSPID(), patientID.CertificatePEM(), patientID.Sign)
	require.NoError(t, err)
	_, err = own.Grant(ctx, grant)
	require.NoError(t, err)
}

// oldMember is a member as the release before enrolment by CSR left it in the node's
// material: the certificate, msp/keystore/priv_sk and a TLS client pair, keys in clear (0600).
func oldMember(t *testing.T, netDir string, org network.Org, name, role string) []memberKey {
	t.Helper()
	u, err := network.IssueUser(netDir, org, network.UserSpec{Name: name, Role: role})
	require.NoError(t, err)
	writeKey := func(path string, k *ecdsa.PrivateKey) {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		require.NoError(t, err)
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600))
	}
	writeKey(filepath.Join(u.Dir, "msp", "keystore", "priv_sk"), u.Key)

	tlsca := filepath.Join(network.OrgDir(netDir, org), "tlsca")
	caCertPEM, err := os.ReadFile(filepath.Join(tlsca, "tlsca."+org.Domain+"-cert.pem"))
	require.NoError(t, err)
	blk, _ := pem.Decode(caCertPEM)
	caCert, err := x509.ParseCertificate(blk.Bytes)
	require.NoError(t, err)
	caKeys := parseKeysIn(t, filepath.Join(tlsca, "priv_sk"))
	require.Len(t, caKeys, 1)
	tlsKey, err := wallet.GenerateKey()
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: u.Cert.SerialNumber, Subject: u.Cert.Subject, NotBefore: u.Cert.NotBefore, NotAfter: u.Cert.NotAfter,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &tlsKey.PublicKey, caKeys[0])
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(u.Dir, "tls", "client.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	writeKey(filepath.Join(u.Dir, "tls", "client.key"), tlsKey)
	return []memberKey{{label: name, key: u.Key}, {label: name + " tls", key: tlsKey}}
}

// TestUpMovesPlaintextMemberKeysIntoTheWallet starts on a data directory laid out as the
// previous release wrote it: demo members and an enrolled member with their keys in clear in
// the node's material, the demo ones also in the wallet. up moves what the wallet lacks into
// it, encrypted with the wallet passphrase, deletes every plaintext member key, says so in the
// log once, and the members go on as before.
func TestUpMovesPlaintextMemberKeysIntoTheWallet(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	netDir := filepath.Join(dir, "network")
	cc, err := contract.NewChaincode()
	require.NoError(t, err)
	old, err := network.New(network.Config{Dir: netDir, Chaincode: cc})
	require.NoError(t, err)
	cons := old.Config().Consortium
	require.NoError(t, old.Close())
	patients, _ := cons.Org(network.PatientsMSP)
	clinic, _ := cons.Org(network.ClinicMSP)
	pharma, _ := cons.Org(network.PharmaMSP)
	var members []memberKey
	members = append(members, oldMember(t, netDir, patients, "patient1", network.RolePatient)...)
	members = append(members, oldMember(t, netDir, clinic, "clinician1", network.RoleClinician)...)
	members = append(members, oldMember(t, netDir, pharma, "manufacturer1", network.RoleManufacturer)...)
	members = append(members, oldMember(t, netDir, patients, "bob", network.RolePatient)...)

	cfg := testStackConfig(dir)
	w, err := wallet.Open(filepath.Join(dir, "wallet"), wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 8 * 1024, Threads: 1}))
	require.NoError(t, err)
	for label, user := range map[string]struct {
		org  network.Org
		name string
	}{"patient": {patients, "patient1"}, "clinician": {clinic, "clinician1"}, "manufacturer": {pharma, "manufacturer1"},
		"admin": {patients, "Admin"}, "anonymizer": {patients, "anonymizer"}} {
		id, err := wallet.ImportMSP(filepath.Join(network.OrgDir(netDir, user.org), "users", user.name+"@"+user.org.Domain, "msp"), user.org.MSPID)
		require.NoError(t, err)
		require.NoError(t, w.Put(label, id, cfg.WalletPassword))
	}
	before, err := w.Get("patient", cfg.WalletPassword)
	require.NoError(t, err)
	require.Len(t, scanForMemberKeys(t, dir, members), len(members), "positive control: the old layout has every member key in clear")

	var logs bytes.Buffer
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	s, err := startStack(ctx, cfg)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(logs.String(), "moved the member keys"), logs.String())
	require.Contains(t, logs.String(), "keys=8")
	require.Empty(t, scanForMemberKeys(t, dir, members))
	require.FileExists(t, filepath.Join(network.OrgDir(netDir, patients), "users", "Admin@"+patients.Domain, "msp", "keystore", "priv_sk"),
		"the node's service identities keep their keys")

	labels, err := s.wallet.List()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{"patient", "patient-tls", "clinician", "clinician-tls", "manufacturer", "manufacturer-tls",
		"bob", "bob-tls", "admin", "anonymizer"}, labels)
	bob, err := s.wallet.Get("bob", cfg.WalletPassword)
	require.NoError(t, err)
	require.True(t, bob.Certificate().PublicKey.(*ecdsa.PublicKey).Equal(&members[6].key.PublicKey))
	after, err := s.wallet.Get("patient", cfg.WalletPassword)
	require.NoError(t, err)
	who, err := s.gateways[network.PatientsMSP].For(after.CertificatePEM()).WhoAmI(ctx)
	require.NoError(t, err)
	require.Equal(t, before.LedgerID(), who.ID, "the patient goes on under the same pseudonym")
	require.NoError(t, s.Close())

	logs.Reset()
	s, err = startStack(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()
	require.NotContains(t, logs.String(), "moved the member keys", "said once")
}
