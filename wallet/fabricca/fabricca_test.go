package fabricca_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"regexp"
	"strings"
	"testing"

	"github.com/careledger/careledger/wallet"
	"github.com/careledger/careledger/wallet/fabricca"
	"github.com/careledger/careledger/wallet/fabricca/fabricatest"
	"github.com/stretchr/testify/require"
)

// TestAgainstFabricCA runs the whole identity life cycle against a real fabric-ca-server.
// One server is shared by the subtests, which run in order, because start-up dominates.
func TestAgainstFabricCA(t *testing.T) {
	srv := fabricatest.Start(t)
	ctx := context.Background()
	ca, err := fabricca.New(srv.URL, "PatientsMSP", fabricca.WithTLSRoots(srv.TLSRoots))
	require.NoError(t, err)

	var admin, patient *wallet.Identity
	var patientID, patientSecret string

	t.Run("info", func(t *testing.T) {
		info, err := ca.Info(ctx)
		require.NoError(t, err)
		require.Equal(t, "1.5.15", info.Version)
		require.Equal(t, strings.TrimSpace(string(srv.CACertPEM)), strings.TrimSpace(string(info.ChainPEM)))
	})

	t.Run("enroll bootstrap admin", func(t *testing.T) {
		admin, err = ca.Enroll(ctx, fabricatest.AdminID, fabricatest.AdminSecret, fabricca.EnrollOptions{})
		require.NoError(t, err)
		require.Equal(t, "admin", admin.EnrollmentID())
		require.Equal(t, "PatientsMSP", admin.MSPID())
	})

	t.Run("register and enroll a patient under a pseudonym", func(t *testing.T) {
		patientID, patientSecret, err = ca.RegisterPatient(ctx, admin, fabricca.Registration{})
		require.NoError(t, err)
		require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{32}$`), patientID)
		require.NotEmpty(t, patientSecret)

		patient, err = ca.Enroll(ctx, patientID, patientSecret, fabricca.EnrollOptions{})
		require.NoError(t, err)
		require.Equal(t, wallet.RolePatient, patient.Role())
		require.Equal(t, patientID, patient.EnrollmentID())
		require.Equal(t, patientID, patient.Certificate().Subject.CommonName)
		typ, _ := patient.Attribute("hf.Type")
		require.Equal(t, "client", typ)
		aff, ok := patient.Attribute("hf.Affiliation")
		require.True(t, ok)
		require.Empty(t, aff)
		sum := sha256.Sum256([]byte("careledger/id/v1\x00PatientsMSP\x00" + patientID))
		require.Equal(t, sum[:16], mustHex(t, patient.LedgerID()))
		require.Equal(t, srv.CACertPEM, patient.CAChainPEM())

		other, _, err := ca.RegisterPatient(ctx, admin, fabricca.Registration{})
		require.NoError(t, err)
		require.NotEqual(t, patientID, other)
	})

	t.Run("register every role", func(t *testing.T) {
		for _, role := range fabricca.Roles {
			t.Run(role, func(t *testing.T) {
				id := "user-" + role
				if role == wallet.RolePatient {
					id = "patient-with-chosen-id-is-allowed-for-tests"
				}
				secret, err := ca.Register(ctx, admin, fabricca.Registration{ID: id, Role: role, Secret: "s3cret-" + role})
				require.NoError(t, err)
				require.Equal(t, "s3cret-"+role, secret)
				got, err := ca.Enroll(ctx, id, secret, fabricca.EnrollOptions{})
				require.NoError(t, err)
				require.Equal(t, role, got.Role())
				// A gateway is a peer of its organisation to channel policies.
				want := "client"
				if role == wallet.RoleGateway {
					want = "peer"
				}
				typ, _ := got.Attribute("hf.Type")
				require.Equal(t, want, typ)
				require.Contains(t, got.Certificate().Subject.OrganizationalUnit, want)
			})
		}
		// A client-only organisation's gateway is registered as a client explicitly.
		secret, err := ca.Register(ctx, admin, fabricca.Registration{ID: "client-only-gateway", Role: wallet.RoleGateway, Type: "client"})
		require.NoError(t, err)
		got, err := ca.Enroll(ctx, "client-only-gateway", secret, fabricca.EnrollOptions{})
		require.NoError(t, err)
		require.Contains(t, got.Certificate().Subject.OrganizationalUnit, "client")
		require.NotContains(t, got.Certificate().Subject.OrganizationalUnit, "peer")
	})

	t.Run("bad requests", func(t *testing.T) {
		tests := []struct {
			name    string
			call    func() error
			wantErr error
		}{
			{"unknown role", func() error {
				_, err := ca.Register(ctx, admin, fabricca.Registration{ID: "x", Role: "superuser"})
				return err
			}, fabricca.ErrInvalidRequest},
			{"role smuggled as attribute", func() error {
				_, err := ca.Register(ctx, admin, fabricca.Registration{ID: "x", Role: "patient",
					Attributes: []fabricca.Attribute{{Name: "role", Value: "admin", ECert: true}}})
				return err
			}, fabricca.ErrInvalidRequest},
			{"patient with chosen id", func() error {
				_, _, err := ca.RegisterPatient(ctx, admin, fabricca.Registration{ID: "alice"})
				return err
			}, fabricca.ErrInvalidRequest},
			{"wrong secret", func() error {
				_, err := ca.Enroll(ctx, patientID, "wrong", fabricca.EnrollOptions{})
				return err
			}, fabricca.ErrUnauthorized},
			{"unknown identity", func() error {
				_, err := ca.Enroll(ctx, "nobody", "pw", fabricca.EnrollOptions{})
				return err
			}, fabricca.ErrUnauthorized},
			{"patient is no registrar", func() error {
				_, err := ca.Register(ctx, patient, fabricca.Registration{ID: "y", Role: "clinician"})
				return err
			}, fabricca.ErrForbidden},
			{"token signed with another key", func() error {
				_, err := ca.Register(ctx, impostor{cert: admin.CertificatePEM(), signer: patient.Signer()},
					fabricca.Registration{ID: "z", Role: "clinician"})
				return err
			}, fabricca.ErrUnauthorized},
			{"revoke without target", func() error {
				_, err := ca.Revoke(ctx, admin, fabricca.Revocation{Serial: "01"})
				return err
			}, fabricca.ErrInvalidRequest},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := tt.call()
				require.ErrorIs(t, err, tt.wantErr)
			})
		}
	})

	t.Run("reenroll, then revoke the old certificate", func(t *testing.T) {
		renewed, err := ca.Reenroll(ctx, patient, fabricca.EnrollOptions{})
		require.NoError(t, err)
		require.Equal(t, patientID, renewed.EnrollmentID())
		require.Equal(t, wallet.RolePatient, renewed.Role())
		require.NotEqual(t, patient.Certificate().SerialNumber, renewed.Certificate().SerialNumber)
		require.False(t, patient.Certificate().PublicKey.(*ecdsa.PublicKey).Equal(renewed.Certificate().PublicKey),
			"re-enrolment must rotate the key")
		require.Equal(t, patient.LedgerID(), renewed.LedgerID(), "the ledger pseudonym survives re-enrolment")

		res, err := ca.Revoke(ctx, admin, withGenCRL(fabricca.CertificateRevocation(patient.Certificate(), "superseded")))
		require.NoError(t, err)
		require.Len(t, res.Revoked, 1)
		crl := parseCRL(t, res.CRLPEM)
		require.Len(t, crl.RevokedCertificateEntries, 1)
		require.Equal(t, 0, crl.RevokedCertificateEntries[0].SerialNumber.Cmp(patient.Certificate().SerialNumber))

		_, err = ca.Reenroll(ctx, patient, fabricca.EnrollOptions{})
		require.ErrorIs(t, err, fabricca.ErrUnauthorized, "a revoked certificate cannot re-enrol")
		_, err = ca.Reenroll(ctx, renewed, fabricca.EnrollOptions{})
		require.NoError(t, err, "the renewed certificate still works")
		patient = renewed
	})

	t.Run("revoke the identity", func(t *testing.T) {
		res, err := ca.Revoke(ctx, admin, fabricca.Revocation{ID: patientID, Reason: "cessationofoperation"})
		require.NoError(t, err)
		require.NotEmpty(t, res.Revoked)
		_, err = ca.Reenroll(ctx, patient, fabricca.EnrollOptions{})
		require.ErrorIs(t, err, fabricca.ErrUnauthorized)
		_, err = ca.Enroll(ctx, patientID, patientSecret, fabricca.EnrollOptions{})
		require.ErrorIs(t, err, fabricca.ErrUnauthorized)
	})

	t.Run("enrolled identity survives the wallet", func(t *testing.T) {
		w, err := wallet.Open(t.TempDir(), wallet.WithKDFCost(wallet.KDFCost{Time: 1, MemoryKiB: 64, Threads: 1}))
		require.NoError(t, err)
		require.NoError(t, w.Put("admin", admin, []byte("pw")))
		back, err := w.Get("admin", []byte("pw"))
		require.NoError(t, err)
		// The reloaded key still authenticates to the CA.
		_, err = ca.Register(ctx, back, fabricca.Registration{ID: "from-wallet", Role: wallet.RoleClinician})
		require.NoError(t, err)
	})

	t.Run("reenroll refuses an identity of another organisation", func(t *testing.T) {
		other, err := fabricca.New(srv.URL, "ClinicMSP", fabricca.WithTLSRoots(srv.TLSRoots))
		require.NoError(t, err)
		_, err = other.Reenroll(ctx, admin, fabricca.EnrollOptions{})
		require.ErrorIs(t, err, fabricca.ErrInvalidRequest)
	})
}

func TestUntrustedTLSIsRejected(t *testing.T) {
	srv := fabricatest.Start(t)
	ca, err := fabricca.New(srv.URL, "PatientsMSP", fabricca.WithTLSRoots(x509.NewCertPool()))
	require.NoError(t, err)
	_, err = ca.Info(context.Background())
	var uerr x509.UnknownAuthorityError
	require.ErrorAs(t, err, &uerr)
}

// impostor presents one identity's certificate but signs with another's key.
type impostor struct {
	cert   []byte
	signer crypto.Signer
}

func (i impostor) CertificatePEM() []byte { return i.cert }
func (i impostor) Signer() crypto.Signer  { return i.signer }

func withGenCRL(r fabricca.Revocation) fabricca.Revocation { r.GenCRL = true; return r }

func parseCRL(t *testing.T, crlPEM []byte) *x509.RevocationList {
	t.Helper()
	block, _ := pem.Decode(crlPEM)
	require.NotNil(t, block, "CRL is PEM")
	crl, err := x509.ParseRevocationList(block.Bytes)
	require.NoError(t, err)
	return crl
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	require.Equal(t, strings.ToLower(s), s)
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}
