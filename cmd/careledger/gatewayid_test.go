package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

// TestUpReissuesAClientGatewayAndFollowsEvents starts `up` on a data directory made before
// streams were guarded, whose gateways are clients: the node re-issues them as peers, says so
// once, and the operator's gateway follows chaincode events again.
func TestUpReissuesAClientGatewayAndFollowsEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	netDir := filepath.Join(dir, "network")
	for _, o := range network.DefaultConsortium().Orgs {
		if o.Peer {
			downgradeGateway(t, netDir, o)
		}
	}
	checkpoint := filepath.Join(dir, "events.checkpoint")
	before, err := os.ReadFile(checkpoint)
	require.NoError(t, err)

	logs := &lockedBuffer{}
	cfg := testStackConfig(dir)
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	s, err = startStack(ctx, cfg)
	require.NoError(t, err)
	defer s.Close()
	require.Equal(t, 2, strings.Count(logs.String(), "re-issued the gateway identity"), "once per peer organisation")

	patient, err := s.wallet.Get(string(model.RolePatient), cfg.WalletPassword)
	require.NoError(t, err)
	c, err := s.clientFor(network.PatientsMSP, patient.CertificatePEM(), patient.Sign)
	require.NoError(t, err)
	_, err = c.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		after, err := os.ReadFile(checkpoint)
		return err == nil && !bytes.Equal(before, after)
	}, 10*time.Second, 50*time.Millisecond, "the operator's gateway handles the consent event")
}

// downgradeGateway re-issues organisation o's gateway certificate as a client, with the same
// key and attributes, as CareLedger issued it before streams were guarded.
func downgradeGateway(t *testing.T, netDir string, o network.Org) {
	t.Helper()
	od := network.OrgDir(netDir, o)
	readPEM := func(path string) []byte {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		return b
	}
	caCert, err := identity.CertificateFromPEM(readPEM(filepath.Join(od, "ca", "ca."+o.Domain+"-cert.pem")))
	require.NoError(t, err)
	caKey, err := identity.PrivateKeyFromPEM(readPEM(filepath.Join(od, "ca", "priv_sk")))
	require.NoError(t, err)
	certPath := filepath.Join(od, "users", "gateway@"+o.Domain, "msp", "signcerts", "gateway@"+o.Domain+"-cert.pem")
	cert, err := identity.CertificateFromPEM(readPEM(certPath))
	require.NoError(t, err)
	require.Equal(t, []string{"peer"}, cert.Subject.OrganizationalUnit)
	tmpl := *cert
	tmpl.RawSubject = nil
	tmpl.Subject.OrganizationalUnit = []string{"client"}
	tmpl.ExtraExtensions = nil
	for _, ext := range cert.Extensions {
		if ext.Id.String() == "1.2.3.4.5.6.7.8.1" { // the Fabric CA attributes, hf.Type included
			ext.Value = bytes.Replace(ext.Value, []byte(`"hf.Type":"peer"`), []byte(`"hf.Type":"client"`), 1)
			tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, caCert, cert.PublicKey, caKey)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
}

// lockedBuffer collects log lines written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
