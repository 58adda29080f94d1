package offline_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/offline"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

func newIdentity(t testing.TB) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "patient"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// sdkMessages builds a proposal with the fabric-gateway SDK, offline (no signer, a connection
// that is never used), as the API server does.
func sdkMessages(t testing.TB, cert *x509.Certificate) (*client.Proposal, []byte) {
	t.Helper()
	id, err := identity.NewX509Identity("PatientsMSP", cert)
	require.NoError(t, err)
	conn, err := grpc.NewClient("passthrough:///unused", grpc.WithTransportCredentials(insecure.NewCredentials()))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	gw, err := client.Connect(id, client.WithClientConnection(conn))
	require.NoError(t, err)
	p, err := gw.GetNetwork("careledger").GetContract("careledger").NewProposal("Grant", client.WithArguments(`{"id":"g1"}`))
	require.NoError(t, err)
	b, err := p.Bytes()
	require.NoError(t, err)
	return p, b
}

func TestParseProposalMatchesTheSDK(t *testing.T) {
	cert, _ := newIdentity(t)
	p, b := sdkMessages(t, cert)
	got, err := offline.ParseProposal(b)
	require.NoError(t, err)
	require.Equal(t, p.TransactionID(), got.TxID)
	require.Equal(t, p.Digest(), got.Digest, "the digest a device computes is the SDK's")
	require.Equal(t, "careledger", got.Channel)
	require.Equal(t, "careledger", got.Chaincode)
	require.Equal(t, "Grant", got.Function)
	require.Equal(t, []string{`{"id":"g1"}`}, got.Args)
	require.Empty(t, got.Transient)
	require.True(t, got.Creator.Is("PatientsMSP", cert))
	other, _ := newIdentity(t)
	require.False(t, got.Creator.Is("PatientsMSP", other))
	require.False(t, got.Creator.Is("ClinicMSP", cert))
}

func TestParseRefusesOtherMessages(t *testing.T) {
	cert, _ := newIdentity(t)
	_, b := sdkMessages(t, cert)
	for name, in := range map[string][]byte{"empty": nil, "garbage": []byte("not protobuf"), "truncated": b[:len(b)/2]} {
		_, err := offline.ParseProposal(in)
		require.ErrorIs(t, err, offline.ErrMalformed, name)
		_, err = offline.ParseTransaction(in)
		require.ErrorIs(t, err, offline.ErrMalformed, name)
		_, err = offline.ParseCommit(in)
		require.ErrorIs(t, err, offline.ErrMalformed, name)
	}
	// A proposal is not a transaction.
	_, err := offline.ParseTransaction(b)
	require.ErrorIs(t, err, offline.ErrMalformed)
}

// highS is a signer that returns the high-S twin of every signature, as some HSMs do.
type highS struct{ key *ecdsa.PrivateKey }

func (h highS) Public() crypto.PublicKey { return &h.key.PublicKey }
func (h highS) Sign(r io.Reader, digest []byte, _ crypto.SignerOpts) ([]byte, error) {
	sig, err := h.key.Sign(r, digest, crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var s struct{ R, S *big.Int }
	if _, err := asn1.Unmarshal(sig, &s); err != nil {
		return nil, err
	}
	n := h.key.Curve.Params().N
	if s.S.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		s.S.Sub(n, s.S)
	}
	return asn1.Marshal(s)
}

func TestSignAndVerify(t *testing.T) {
	cert, key := newIdentity(t)
	digest := sha256.Sum256([]byte("proposal"))
	for name, signer := range map[string]crypto.Signer{"key": key, "high-S signer": highS{key}} {
		t.Run(name, func(t *testing.T) {
			for range 20 {
				sig, err := offline.Sign(signer, digest[:])
				require.NoError(t, err)
				require.NoError(t, offline.Verify(cert, digest[:], sig))
			}
		})
	}
	// Signatures made the SDK's way verify too.
	sdkSign, err := identity.NewPrivateKeySign(key)
	require.NoError(t, err)
	sig, err := sdkSign(digest[:])
	require.NoError(t, err)
	require.NoError(t, offline.Verify(cert, digest[:], sig))

	raw, err := highS{key}.Sign(rand.Reader, digest[:], crypto.SHA256)
	require.NoError(t, err)
	require.ErrorIs(t, offline.Verify(cert, digest[:], raw), offline.ErrBadSignature, "high-S is refused")
	other, otherKey := newIdentity(t)
	sig, err = offline.Sign(otherKey, digest[:])
	require.NoError(t, err)
	require.ErrorIs(t, offline.Verify(cert, digest[:], sig), offline.ErrBadSignature)
	require.NoError(t, offline.Verify(other, digest[:], sig))
	require.ErrorIs(t, offline.Verify(cert, digest[:], []byte("junk")), offline.ErrBadSignature)
}

func FuzzParseProposal(f *testing.F) {
	cert, _ := newIdentity(f)
	_, b := sdkMessages(f, cert)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := offline.ParseProposal(in)
		if err != nil {
			require.ErrorIs(t, err, offline.ErrMalformed)
			return
		}
		require.Len(t, p.Digest, sha256.Size)
		require.NotEmpty(t, p.Function)
	})
}

func FuzzParseTransaction(f *testing.F) {
	f.Add([]byte{0x0a, 0x01, 'x'})
	f.Add([]byte{0x12, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := offline.ParseTransaction(in); err != nil {
			require.ErrorIs(t, err, offline.ErrMalformed)
		}
	})
}

func FuzzParseCommit(f *testing.F) {
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := offline.ParseCommit(in); err != nil {
			require.ErrorIs(t, err, offline.ErrMalformed)
		}
	})
}

func FuzzVerify(f *testing.F) {
	cert, key := newIdentity(f)
	digest := sha256.Sum256([]byte("x"))
	sig, err := offline.Sign(key, digest[:])
	require.NoError(f, err)
	f.Add(digest[:], sig)
	f.Fuzz(func(t *testing.T, d, s []byte) {
		_ = offline.Verify(cert, d, s) // must not panic
	})
}
