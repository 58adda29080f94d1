//go:build cgo

package pkcs11_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11/pkcs11test"
	"github.com/careledger/careledger/wallet/recordkey/recordkeytest"
)

func open(t *testing.T, cfg pkcs11.Config) *pkcs11.KeyService {
	t.Helper()
	ks, err := pkcs11.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, ks.Close()) })
	return ks
}

// TestSoftHSMConformance runs the shared KeyService suite against a real SoftHSM2 token,
// then looks at the token itself.
func TestSoftHSMConformance(t *testing.T) {
	hsm := pkcs11test.New(t)
	// SoftHSM2 finds tokens when the module is initialised, so make every token first.
	cfg, second := hsm.Token(t), hsm.Token(t)
	ks := open(t, cfg)
	ctx := context.Background()
	recordkeytest.Run(t, ks)

	t.Run("KEKs stay on the token and are named by a hash", func(t *testing.T) {
		p := recordkeytest.NewPatientID(t)
		_, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		objs, err := ks.Objects(ctx)
		require.NoError(t, err)
		require.NotEmpty(t, objs)
		for _, o := range objs {
			if !strings.HasPrefix(o.Label, "careledger-kek-") {
				continue // erasure markers have no value to hide
			}
			require.False(t, o.ValueReadable, "the token gave out the value of %s", o.Label)
			require.NotContains(t, o.Label, p)
			require.NotContains(t, hex.EncodeToString([]byte(o.ID)), p)
		}
	})

	t.Run("destroyed key is gone from the token", func(t *testing.T) {
		p := recordkeytest.NewPatientID(t)
		_, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		_, err = ks.RotateKey(ctx, p)
		require.NoError(t, err)
		n, err := ks.KEKObjects(ctx, p)
		require.NoError(t, err)
		require.Equal(t, 2, n)
		require.NoError(t, ks.DestroyKey(ctx, p))
		n, err = ks.KEKObjects(ctx, p)
		require.NoError(t, err)
		require.Zero(t, n, "every KEK version must be destroyed")
	})

	t.Run("retired versions are destroyed", func(t *testing.T) {
		p := recordkeytest.NewPatientID(t)
		_, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		for range 2 {
			_, err = ks.RotateKey(ctx, p)
			require.NoError(t, err)
		}
		require.NoError(t, ks.RetireKeyVersions(ctx, p, 3))
		n, err := ks.KEKObjects(ctx, p)
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})

	t.Run("keys survive reopening", func(t *testing.T) {
		// Another key service on the same token finds the KEKs and the erasures.
		first := open(t, second)
		p, erased := recordkeytest.NewPatientID(t), recordkeytest.NewPatientID(t)
		dk, err := first.NewDataKey(ctx, p)
		require.NoError(t, err)
		require.NoError(t, first.DestroyKey(ctx, erased))
		require.NoError(t, first.Close())

		again := open(t, second)
		got, err := again.UnwrapDataKey(ctx, p, dk.Wrapped)
		require.NoError(t, err)
		require.Equal(t, dk.Plaintext, got)
		_, err = again.NewDataKey(ctx, erased)
		require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
	})

	t.Run("an erasure by another key service on the token", func(t *testing.T) {
		here, there := open(t, second), open(t, second)
		p := recordkeytest.NewPatientID(t)
		dk, err := here.NewDataKey(ctx, p)
		require.NoError(t, err)
		require.NoError(t, there.DestroyKey(ctx, p))
		// here still caches the destroyed key's handle; the token's refusal makes it look again.
		_, err = here.UnwrapDataKey(ctx, p, dk.Wrapped)
		require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
		_, err = here.NewDataKey(ctx, p)
		require.ErrorIs(t, err, recordkey.ErrKeyDestroyed)
	})

	t.Run("a small session pool serves many callers", func(t *testing.T) {
		small := second
		small.MaxSessions = 2
		ks := open(t, small)
		patients := []string{recordkeytest.NewPatientID(t), recordkeytest.NewPatientID(t)}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for i := range 16 {
			wg.Go(func() {
				p := patients[i%2]
				for range 20 {
					dk, err := ks.NewDataKey(ctx, p)
					if err != nil {
						errs <- err
						return
					}
					got, err := ks.UnwrapDataKey(ctx, p, dk.Wrapped)
					if err != nil || !bytes.Equal(got, dk.Plaintext) {
						errs <- fmt.Errorf("unwrap: %v", err)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})

	t.Run("PIN is redacted", func(t *testing.T) {
		cfg := pkcs11.Config{Module: "/m.so", TokenLabel: "t", PIN: "s3cret-pin"}
		for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%#v", cfg), fmt.Sprint(ks), cfg.LogValue().String()} {
			require.NotContains(t, s, "s3cret-pin")
		}
	})
}

func TestBadInput(t *testing.T) {
	hsm := pkcs11test.New(t)
	good := hsm.Token(t)
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		edit func(*pkcs11.Config)
		want error
	}{
		{"bad module path", func(c *pkcs11.Config) { c.Module = "/nonexistent/libpkcs11.so" }, pkcs11.ErrModule},
		{"not a PKCS#11 module", func(c *pkcs11.Config) { c.Module = "/etc/hostname" }, pkcs11.ErrModule},
		{"no module", func(c *pkcs11.Config) { c.Module = "" }, pkcs11.ErrModule},
		{"unknown token label", func(c *pkcs11.Config) { c.TokenLabel = "no-such-token" }, pkcs11.ErrTokenNotFound},
		{"wrong PIN", func(c *pkcs11.Config) { c.PIN = "wrong" + c.PIN }, pkcs11.ErrLogin},
		{"no PIN", func(c *pkcs11.Config) { c.PIN = "" }, pkcs11.ErrLogin},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good
			tc.edit(&cfg)
			ks, err := pkcs11.New(ctx, cfg)
			require.ErrorIs(t, err, tc.want)
			require.Nil(t, ks)
			require.NotContains(t, err.Error(), good.PIN)
		})
	}

	ks := open(t, good)
	t.Run("a key under a KEK's label that is not a KEK", func(t *testing.T) {
		for _, extractable := range []bool{false, true} {
			p := recordkeytest.NewPatientID(t)
			require.NoError(t, ks.PlantKey(ctx, p, extractable))
			_, err := ks.NewDataKey(ctx, p)
			require.ErrorIs(t, err, pkcs11.ErrNotKEK, "extractable=%v", extractable)
		}
	})
	t.Run("wrapped key names a version the patient does not have", func(t *testing.T) {
		p := recordkeytest.NewPatientID(t)
		dk, err := ks.NewDataKey(ctx, p)
		require.NoError(t, err)
		for _, v := range []byte{0, 2, 0xff} {
			w := []byte(strings.Clone(string(dk.Wrapped)))
			w[7] = v
			_, err = ks.UnwrapDataKey(ctx, p, w)
			require.ErrorIs(t, err, recordkey.ErrCorrupt, "version %d", v)
		}
	})
}
