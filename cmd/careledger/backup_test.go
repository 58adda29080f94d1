package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/internal/backup"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/stretchr/testify/require"
)

// patientOf issues a new patient of PatientsMSP under the user name (the key stays in memory,
// as for every member) and returns a ledger client signing as it, its pseudonym and the user.
func patientOf(t *testing.T, s *stack, dir, name string) (*ledger.Client, string, *network.User) {
	t.Helper()
	org := s.node.Config().Consortium.Orgs[0]
	u, err := network.IssueUser(filepath.Join(dir, "network"), org, network.UserSpec{Name: name, Role: string(model.RolePatient)})
	require.NoError(t, err)
	return clientOfUser(t, s, u), model.PseudonymFor(u.MSPID, u.EnrollmentID), u
}

// clientOfUser returns a ledger client of stack s signing as u.
func clientOfUser(t *testing.T, s *stack, u *network.User) *ledger.Client {
	t.Helper()
	sign, err := identity.NewPrivateKeySign(u.Key)
	require.NoError(t, err)
	c, err := s.clientFor(u.MSPID, u.CertPEM, sign)
	require.NoError(t, err)
	return c
}

// TestErasureSurvivesRestore backs up a running stack, erases a patient, and restores the
// backup onto a fresh directory whose ledger is caught up from the live one: the erased
// patient's records can be neither read through the gateway nor decrypted with anything in the
// restored directory, while another patient's records come back intact.
func TestErasureSurvivesRestore(t *testing.T) {
	ctx := context.Background()
	live := t.TempDir()
	s, err := startStack(ctx, testStackConfig(live))
	require.NoError(t, err)
	erased, erasedID, erasedUser := patientOf(t, s, live, "erased-patient")
	kept, keptID, keptUser := patientOf(t, s, live, "kept-patient")
	secret := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"ERASE-ME-7731"}}`)
	gone, err := s.svc.Upload(ctx, erased, gateway.Upload{Owner: erasedID, Content: gateway.Content{MediaType: fhir.MediaType, Data: secret}})
	require.NoError(t, err)
	stay, err := s.svc.Upload(ctx, kept, gateway.Upload{Owner: keptID, Content: gateway.Content{MediaType: fhir.MediaType, Data: fhirOfSize(2 << 10)}})
	require.NoError(t, err)
	// Another block, so the online snapshot (which leaves out the newest record) holds both uploads.
	_, err = s.svc.Upload(ctx, kept, gateway.Upload{Owner: keptID, Content: gateway.Content{MediaType: fhir.MediaType, Data: fhirOfSize(1 << 10)}})
	require.NoError(t, err)

	archive := filepath.Join(t.TempDir(), "backup.tar.zst")
	f, err := os.Create(archive)
	require.NoError(t, err)
	m, err := backup.Write(ctx, f, backup.Options{DataDir: live, TempDir: t.TempDir(), AuditSnapshot: auditFromRunning(live)})
	require.NoError(t, err)
	require.NoError(t, f.Close())
	require.True(t, m.Online, "the node was running")
	for _, e := range m.Files {
		require.NotEqual(t, "keystore.passphrase", filepath.Base(e.Path))
	}
	require.Contains(t, paths(m), "audit.db", "the audit queue came through the admin socket")

	require.NoError(t, s.svc.Erase(ctx, erased))
	require.NoError(t, s.Close())

	restored := filepath.Join(t.TempDir(), "restored")
	in, err := os.Open(archive)
	require.NoError(t, err)
	defer in.Close()
	rep, err := backup.Restore(ctx, in, backup.RestoreOptions{DataDir: restored, CatchUpFrom: live, VerifyLedger: verifyNodeDir})
	require.NoError(t, err)
	require.Positive(t, rep.CaughtUp, "the erasure's block came from the live ledger")
	require.Equal(t, []string{erasedID}, rep.Erased)
	require.Equal(t, 1, rep.ShreddedKeys)
	require.Equal(t, 2, rep.DeletedBlobs, "ciphertext and key envelope")
	require.Empty(t, rep.Missing)

	// Nothing in the restored directory decrypts the erased patient's record: the key store has
	// only a tombstone, and no file holds the plaintext or the ciphertext.
	require.NoFileExists(t, filepath.Join(restored, "keys", "keys", erasedID+".kek"))
	require.FileExists(t, filepath.Join(restored, "keys", "keys", erasedID+".erased"))
	ks, err := recordkey.OpenLocal(filepath.Join(restored, "keys"), []byte("test"))
	require.NoError(t, err)
	_, err = ks.UnwrapDataKey(ctx, erasedID, envelopeFromArchive(t, archive, erasedID, gone.ID))
	require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
	require.NoError(t, ks.Close())
	err = filepath.WalkDir(restored, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		require.False(t, bytes.Contains(b, []byte("ERASE-ME-7731")), p)
		require.NotContains(t, p, gone.LatestHash, "no file of the erased record is left")
		return nil
	})
	require.NoError(t, err)

	// The restored directory runs; the gateway refuses the erased patient's record and serves
	// the other patient's.
	s2, err := startStack(ctx, testStackConfig(restored))
	require.NoError(t, err)
	defer s2.Close()
	erased2 := clientOfUser(t, s2, erasedUser)
	kept2 := clientOfUser(t, s2, keptUser)
	_, err = s2.svc.Read(ctx, erased2, gone.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrErased)
	rel, err := s2.svc.Read(ctx, kept2, stay.ID, 0, "")
	require.NoError(t, err)
	require.Equal(t, fhirOfSize(2<<10), rel.Data)
}

func paths(m *backup.Manifest) []string {
	var out []string
	for _, f := range m.Files {
		out = append(out, f.Path)
	}
	return out
}

// envelopeFromArchive returns the wrapped data key of the erased record, as the archive (an
// old copy an attacker might hold) has it.
func envelopeFromArchive(t *testing.T, archive, patient, recordID string) []byte {
	t.Helper()
	f, err := os.Open(archive)
	require.NoError(t, err)
	defer f.Close()
	dir := filepath.Join(t.TempDir(), "x")
	_, err = backup.Extract(context.Background(), f, dir)
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, "records", "objects", "keys", patient, recordID, "1.blob"))
	require.NoError(t, err)
	var env struct {
		WrappedKey []byte `json:"wrappedKey"`
	}
	require.NoError(t, json.Unmarshal(b, &env))
	require.NotEmpty(t, env.WrappedKey)
	return env.WrappedKey
}

// TestUpRefusesUnfinishedRestoreAndNewerFormat: nothing starts on a directory whose restore
// did not finish, or that a newer CareLedger wrote.
func TestUpRefusesUnfinishedRestoreAndNewerFormat(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, backup.RestoringMarker), nil, 0o600))
	_, err := startStack(ctx, testStackConfig(dir))
	require.ErrorContains(t, err, "restore that did not finish")

	dir = t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "format.json"), []byte(`{"version":99}`), 0o600))
	_, err = startStack(ctx, testStackConfig(dir))
	require.ErrorContains(t, err, "written by a newer CareLedger")
	_, err = os.Stat(filepath.Join(dir, "network"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing was opened or created")
}

// TestStartShredsAKeyThatCameBack: the key custodian was restored from a copy older than an
// erasure (here: the local key file put back). up applies every erasure on the ledger again
// before it serves anything, so the key is gone again.
func TestStartShredsAKeyThatCameBack(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	p, pid, _ := patientOf(t, s, dir, "shred-patient")
	_, err = s.svc.Upload(ctx, p, gateway.Upload{Owner: pid, Content: gateway.Content{MediaType: fhir.MediaType, Data: fhirOfSize(1 << 10)}})
	require.NoError(t, err)
	kek := filepath.Join(dir, "keys", "keys", pid+".kek")
	old, err := os.ReadFile(kek)
	require.NoError(t, err)
	require.NoError(t, s.svc.Erase(ctx, p))
	require.NoError(t, s.Close())

	require.NoError(t, os.WriteFile(kek, old, 0o600))
	require.NoError(t, os.Remove(filepath.Join(dir, "keys", "keys", pid+".erased")))
	s, err = startStack(ctx, testStackConfig(dir))
	require.NoError(t, err)
	defer s.Close()
	require.NoFileExists(t, kek)
	require.FileExists(t, filepath.Join(dir, "keys", "keys", pid+".erased"))
}
