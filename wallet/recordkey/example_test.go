package recordkey_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/careledger/careledger/wallet/recordkey"
)

// Envelope encryption of one record version, key rotation and crypto-shredding with the
// local key store.
func ExampleSealer() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "keystore")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Real deployments keep the default KDF cost; the low one keeps the example fast.
	keys, err := recordkey.OpenLocal(dir, []byte("operator passphrase"), recordkey.WithLocalKDFCost(1, 64, 1))
	if err != nil {
		log.Fatal(err)
	}
	defer keys.Close()
	sealer, err := recordkey.NewSealer(keys)
	if err != nil {
		log.Fatal(err)
	}

	patient := "3f2a9c1d5e7b4a60b8c2d4e6f8a0b1c3" // a ledger pseudonym
	aad := []byte("record 42, version 1")
	rec, err := sealer.Seal(ctx, patient, []byte("aftercare note"), aad)
	if err != nil {
		log.Fatal(err)
	}

	// Rotation: re-wrap the data key; the ciphertext (and its hash on the ledger) stays.
	if _, err := keys.RotateKey(ctx, patient); err != nil {
		log.Fatal(err)
	}
	wrapped, version, err := keys.RewrapDataKey(ctx, patient, rec.WrappedKey)
	if err != nil {
		log.Fatal(err)
	}
	plain, err := sealer.Open(ctx, patient, wrapped, rec.Ciphertext, aad)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("key version %d opens: %s\n", version, plain)

	// Erasure: destroy the patient's key; nothing of theirs opens again.
	if err := keys.DestroyKey(ctx, patient); err != nil {
		log.Fatal(err)
	}
	_, err = sealer.Open(ctx, patient, wrapped, rec.Ciphertext, aad)
	fmt.Println("after erasure:", errors.Is(err, recordkey.ErrKeyDestroyed))
	// Output:
	// key version 2 opens: aftercare note
	// after erasure: true
}
