package wallet_test

import (
	"crypto"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/careledger/careledger/wallet"
	"github.com/stretchr/testify/require"
)

func TestWalletRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wallet")
	w, err := wallet.Open(dir, cheap)
	require.NoError(t, err)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())

	alice := newTestIdentity(t, wallet.RolePatient, "p-1")
	bob := newTestIdentity(t, wallet.RoleClinician, "dr-bob")
	require.NoError(t, w.Put("alice", alice, []byte("alice pw")))
	require.NoError(t, w.Put("bob@clinic", bob, []byte("bob pw")))

	labels, err := w.List()
	require.NoError(t, err)
	require.Equal(t, []string{"alice", "bob@clinic"}, labels)

	st, err = os.Stat(filepath.Join(dir, "alice.id.json"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())

	got, err := w.Get("alice", []byte("alice pw"))
	require.NoError(t, err)
	require.Equal(t, alice.CertificatePEM(), got.CertificatePEM())
	require.Equal(t, alice.CAChainPEM(), got.CAChainPEM())
	require.Equal(t, wallet.RolePatient, got.Role())
	require.True(t, alice.Signer().Public().(interface{ Equal(crypto.PublicKey) bool }).Equal(got.Signer().Public()))

	msp, cert, err := w.Certificate("bob@clinic")
	require.NoError(t, err)
	require.Equal(t, "PatientsMSP", msp)
	require.Equal(t, bob.Certificate().Raw, cert.Raw)

	// Replacing keeps exactly one file and the new content.
	require.NoError(t, w.Put("alice", bob, []byte("new pw")))
	got, err = w.Get("alice", []byte("new pw"))
	require.NoError(t, err)
	require.Equal(t, bob.CertificatePEM(), got.CertificatePEM())
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 2, "no temporary files left behind")

	require.NoError(t, w.Remove("alice"))
	_, err = w.Get("alice", []byte("new pw"))
	require.ErrorIs(t, err, wallet.ErrNotFound)
	require.ErrorIs(t, w.Remove("alice"), wallet.ErrNotFound)
}

func TestWalletFileHoldsNoKeyInClear(t *testing.T) {
	w, err := wallet.Open(t.TempDir(), cheap)
	require.NoError(t, err)
	id := newTestIdentity(t, wallet.RolePatient, "p-2")
	require.NoError(t, w.Put("p", id, []byte("pw")))
	f, err := w.File("p")
	require.NoError(t, err)
	require.Equal(t, "argon2id", f.KDF.Algorithm)
	require.Equal(t, "AES-256-GCM", f.Cipher)
	require.Equal(t, 1, f.Version)
	require.NotContains(t, f.Certificate, "PRIVATE")
}

func TestWalletErrors(t *testing.T) {
	dir := t.TempDir()
	w, err := wallet.Open(dir, cheap)
	require.NoError(t, err)
	id := newTestIdentity(t, wallet.RolePatient, "p-3")
	require.NoError(t, w.Put("p", id, []byte("right")))
	path := filepath.Join(dir, "p.id.json")
	good, err := os.ReadFile(path)
	require.NoError(t, err)

	rewrite := func(t *testing.T, edit func(map[string]any)) []byte {
		var m map[string]any
		require.NoError(t, json.Unmarshal(good, &m))
		edit(m)
		out, err := json.Marshal(m)
		require.NoError(t, err)
		return out
	}
	other := newTestIdentity(t, wallet.RolePatient, "p-4")

	tests := []struct {
		name       string
		file       []byte // nil keeps the good file
		label      string
		passphrase string
		wantErr    error
	}{
		{"wrong passphrase", nil, "p", "wrong", wallet.ErrWrongPassphrase},
		{"empty passphrase", nil, "p", "", wallet.ErrWrongPassphrase},
		{"unknown label", nil, "nobody", "right", wallet.ErrNotFound},
		{"label with path", nil, "../p", "right", wallet.ErrInvalidLabel},
		{"empty label", nil, "", "right", wallet.ErrInvalidLabel},
		{"truncated", good[:len(good)/2], "p", "right", wallet.ErrCorrupt},
		{"empty file", []byte{}, "p", "right", wallet.ErrCorrupt},
		{"not json", []byte("hello"), "p", "right", wallet.ErrCorrupt},
		{"trailing data", append(append([]byte(nil), good...), []byte("{}")...), "p", "right", wallet.ErrCorrupt},
		{"flipped ciphertext", rewrite(t, func(m map[string]any) {
			b := []byte(m["sealedKey"].(string))
			b[3] ^= 'A' ^ 'B'
			if b[3] == '+' || b[3] == '/' || b[3] == '=' {
				b[3] = 'Q'
			}
			m["sealedKey"] = string(b)
		}), "p", "right", wallet.ErrCorrupt},
		{"swapped certificate", rewrite(t, func(m map[string]any) { m["certificate"] = string(other.CertificatePEM()) }), "p", "right", wallet.ErrCorrupt},
		{"weakened kdf", rewrite(t, func(m map[string]any) { m["kdf"].(map[string]any)["time"] = 2 }), "p", "right", wallet.ErrWrongPassphrase},
		{"absurd kdf memory", rewrite(t, func(m map[string]any) { m["kdf"].(map[string]any)["memoryKiB"] = 1 << 31 }), "p", "right", wallet.ErrCorrupt},
		{"unknown cipher", rewrite(t, func(m map[string]any) { m["cipher"] = "ROT13" }), "p", "right", wallet.ErrCorrupt},
		{"future version", rewrite(t, func(m map[string]any) { m["version"] = 2 }), "p", "right", wallet.ErrCorrupt},
		{"unknown field", rewrite(t, func(m map[string]any) { m["extra"] = 1 }), "p", "right", wallet.ErrCorrupt},
		{"other label inside", rewrite(t, func(m map[string]any) { m["label"] = "q" }), "p", "right", wallet.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			content := good
			if tt.file != nil {
				content = tt.file
			}
			require.NoError(t, os.WriteFile(path, content, 0o600))
			before := sha256.Sum256(content)

			_, err := w.Get(tt.label, []byte(tt.passphrase))
			require.ErrorIs(t, err, tt.wantErr)

			after, err := os.ReadFile(path)
			require.NoError(t, err)
			require.Equal(t, before, sha256.Sum256(after), "a failed read must not touch the file")
		})
	}
}

func TestPutRejectsBadInputAndKeepsOldFile(t *testing.T) {
	dir := t.TempDir()
	w, err := wallet.Open(dir, cheap)
	require.NoError(t, err)
	id := newTestIdentity(t, wallet.RolePatient, "p-5")
	require.NoError(t, w.Put("p", id, []byte("pw")))
	before, err := os.ReadFile(filepath.Join(dir, "p.id.json"))
	require.NoError(t, err)

	require.ErrorIs(t, w.Put("p", nil, []byte("pw")), wallet.ErrInvalidIdentity)
	require.Error(t, w.Put("p", id, nil))
	require.ErrorIs(t, w.Put("a/b", id, []byte("pw")), wallet.ErrInvalidLabel)
	require.ErrorIs(t, w.Put("..", id, []byte("pw")), wallet.ErrInvalidLabel)

	after, err := os.ReadFile(filepath.Join(dir, "p.id.json"))
	require.NoError(t, err)
	require.Equal(t, before, after)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1)
}

func TestOpenRejectsBadCost(t *testing.T) {
	_, err := wallet.Open(t.TempDir(), wallet.WithKDFCost(wallet.KDFCost{}))
	require.Error(t, err)
}
