package recordkey

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

var benchSizes = []struct {
	name string
	n    int
}{{"4KiB", 4 << 10}, {"64KiB", 64 << 10}, {"8MiB", 8 << 20}}

// BenchmarkRecordKeys reports, in one run, the hardware limits (raw AES-256-GCM and SHA-256)
// next to the record format (encrypt/decrypt with a given data key), full envelope
// operations against the local key store (seal/open) and wrap/unwrap, so the ratio to the
// hardware is visible: go test -bench RecordKeys ./wallet/recordkey/
func BenchmarkRecordKeys(b *testing.B) {
	ctx := context.Background()
	ks, err := OpenLocal(b.TempDir(), []byte("bench"), WithLocalKDFCost(1, 64, 1))
	if err != nil {
		b.Fatal(err)
	}
	defer ks.Close()
	sealer, err := NewSealer(ks)
	if err != nil {
		b.Fatal(err)
	}
	const patient = "bench"
	key := make([]byte, DataKeySize)
	rand.Read(key)
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCM(block)
	nonce := make([]byte, 12)

	for _, sz := range benchSizes {
		pt := make([]byte, sz.n)
		rand.Read(pt)
		sealed, err := sealWithKey(nil, key, defaultSegSize, pt, nil)
		if err != nil {
			b.Fatal(err)
		}
		rec, err := sealer.Seal(ctx, patient, pt, nil)
		if err != nil {
			b.Fatal(err)
		}
		run := func(op string, f func() error) {
			b.Run(op+"/"+sz.name, func(b *testing.B) {
				b.SetBytes(int64(sz.n))
				for b.Loop() {
					if err := f(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		// Outputs reuse their buffers like the raw AES-GCM case, so allocation does not skew
		// the comparison.
		raw := make([]byte, 0, sz.n+16)
		encBuf := make([]byte, 0, SealedSize(int64(sz.n), defaultSegSize))
		decBuf := make([]byte, 0, sz.n)
		run("raw-aes-256-gcm", func() error { raw = gcm.Seal(raw[:0], nonce, pt, nil); return nil })
		run("raw-sha-256", func() error { _ = sha256.Sum256(pt); return nil })
		run("encrypt", func() (err error) { encBuf, err = sealWithKey(encBuf[:0], key, defaultSegSize, pt, nil); return err })
		run("decrypt", func() (err error) { decBuf, err = openWithKey(decBuf[:0], key, sealed, nil); return err })
		run("seal", func() error {
			r, err := sealer.SealAppend(ctx, encBuf[:0], patient, pt, nil)
			if err == nil {
				encBuf = r.Ciphertext
			}
			return err
		})
		run("open", func() (err error) {
			decBuf, err = sealer.OpenAppend(ctx, decBuf[:0], patient, rec.WrappedKey, rec.Ciphertext, nil)
			return err
		})
	}
	dk, err := ks.NewDataKey(ctx, patient)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("wrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := ks.NewDataKey(ctx, patient); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unwrap", func(b *testing.B) {
		for b.Loop() {
			if _, err := ks.UnwrapDataKey(ctx, patient, dk.Wrapped); err != nil {
				b.Fatal(err)
			}
		}
	})
}
