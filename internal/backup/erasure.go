package backup

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet/recordkey"
)

// LedgerErasures lists every patient the stopped ledger of the node in nodeDir records as
// erased. A node directory without a ledger has none.
func LedgerErasures(ctx context.Context, nodeDir, chaincode string) ([]string, error) {
	if _, err := os.Stat(filepath.Join(network.LedgerDir(nodeDir), "ledger.db")); os.IsNotExist(err) {
		return nil, nil
	}
	var out []string
	err := network.ScanState(ctx, nodeDir, chaincode, erasurePrefix, func(_ string, v []byte) error {
		var e model.Erasure
		if err := json.Unmarshal(v, &e); err != nil || e.Patient == "" {
			return fmt.Errorf("%w: an erasure on the ledger is unreadable", ErrIntegrity)
		}
		out = append(out, e.Patient)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read erasures: %w", err)
	}
	return out, nil
}

// ApplyErasures destroys each patient's key with the key service and deletes their
// ciphertexts and wrapped keys, as the gateway's CompleteErasure does. It is idempotent; run
// on every start, it shreds again a key that came back with a key custodian restored from its
// own older backup. It returns how many blobs it deleted.
func ApplyErasures(ctx context.Context, keys recordkey.KeyService, blobs blob.Store, patients []string) (int, error) {
	deleted := 0
	for _, p := range patients {
		if err := keys.DestroyKey(ctx, p); err != nil {
			return deleted, fmt.Errorf("apply erasure: %w", err)
		}
		n, err := deleteBlobs(ctx, blobs, p)
		deleted += n
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}

func deleteBlobs(ctx context.Context, blobs blob.Store, patient string) (int, error) {
	deleted := 0
	for _, prefix := range []string{"records/" + patient + "/", "keys/" + patient + "/"} {
		found, err := blobs.List(ctx, prefix)
		if err != nil {
			return deleted, fmt.Errorf("apply erasure: %w", err)
		}
		for _, k := range found {
			if err := blobs.Delete(ctx, k); err != nil {
				return deleted, fmt.Errorf("apply erasure: %w", err)
			}
			deleted++
		}
	}
	return deleted, nil
}
