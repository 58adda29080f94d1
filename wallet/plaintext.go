package wallet

import (
	"encoding/pem"
	"fmt"

	"github.com/careledger/careledger/wallet/internal/atrest"
)

// ImportKeyPair assembles an identity from a PEM certificate and its PEM private key (PKCS#8
// or SEC 1, as Fabric tools write them, e.g. a tls/client.crt and client.key pair), with the
// optional PEM chain of the CAs that issued it. Store it with Put, then remove the plaintext
// key with RemovePlaintextKey.
func ImportKeyPair(mspID string, certPEM, keyPEM, caChainPEM []byte) (*Identity, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, fmt.Errorf("import key pair: %w: no PEM private key", ErrInvalidIdentity)
	}
	key, err := parsePrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("import key pair: %w", err)
	}
	id, err := NewIdentity(mspID, certPEM, key, caChainPEM)
	if err != nil {
		return nil, fmt.Errorf("import key pair: %w", err)
	}
	return id, nil
}

// RemovePlaintextKey deletes a private key file that a Fabric tool or an earlier CareLedger
// wrote in clear: it overwrites the content, syncs, unlinks the file and syncs its directory.
// On SSDs and on journaling or copy-on-write file systems the old blocks may survive the
// overwrite, so this is a best effort; the real protection is that new keys are never written
// in clear.
func RemovePlaintextKey(path string) error {
	if err := atrest.RemoveFile(path); err != nil {
		return fmt.Errorf("remove plaintext key: %w", err)
	}
	return nil
}
