package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet/recordkey"
)

// Composite-key prefixes of the CareLedger chaincode's world state that restore reads; they
// mirror chaincode/contract/keys.go (kindErasure, kindRecord, kindVersion).
const (
	erasurePrefix = "\x00cl.erased\x00"
	recordPrefix  = "\x00cl.rec\x00"
	versionPrefix = "\x00cl.ver\x00"
)

// RestoreOptions say where to restore and what to check.
type RestoreOptions struct {
	// DataDir is the data directory to create; it must not exist. The restore is built in
	// DataDir + ".restoring" and renamed into place only once everything below succeeded.
	DataDir string
	// CatchUpFrom, when set, is the data directory of a node whose ledger is newer than the
	// archive (the consortium's): its later blocks are appended before anything is checked, so
	// erasures recorded after the backup are applied too.
	CatchUpFrom string
	// Chaincode is the CareLedger chaincode's name on the channel; default "careledger".
	Chaincode string
	// VerifyLedger checks the restored ledger as `careledger ledger verify` does; nodeDir is the
	// restored node's directory.
	VerifyLedger func(ctx context.Context, nodeDir string) error
	Logger       *slog.Logger
}

// Report says what a restore found and did.
type Report struct {
	Manifest *Manifest
	// Height is the restored ledger's height, CaughtUp the blocks appended from CatchUpFrom.
	Height, CaughtUp uint64
	// Erased lists the patients the ledger records as erased; each had its key shredded (local
	// key store) and its ciphertexts deleted again.
	Erased []string
	// ShreddedKeys counts the KEK files removed, DeletedBlobs the ciphertexts and wrapped keys.
	ShreddedKeys, DeletedBlobs int
	// Blobs counts the ciphertexts checked against the ledger's hashes.
	Blobs int
	// Unreferenced are ciphertexts no ledger entry names (uploads whose transaction was not in
	// the snapshot); Missing are ledger versions of patients not erased without a ciphertext.
	Unreferenced, Missing []string
	// Took is how long each phase took: unpacking and checking files, catching up and
	// rebuilding the index, verifying the ledger, erasures and ciphertext checks.
	Took struct{ Extract, Index, Verify, Records time.Duration }
}

// Restore restores an archive into o.DataDir. It checks every file against the manifest,
// catches the ledger up, rebuilds the ledger index from the block log, verifies the ledger,
// applies every erasure the ledger records (keys shredded, ciphertexts deleted) and checks every
// remaining ciphertext against the ledger's hash of it. Only then is the directory moved into
// place: a failed or interrupted restore leaves nothing that `careledger up` would start on.
// A ciphertext whose hash is wrong fails the restore (ErrIntegrity).
func Restore(ctx context.Context, r io.Reader, o RestoreOptions) (_ *Report, err error) {
	if o.Chaincode == "" {
		o.Chaincode = "careledger"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(o.DataDir); !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("restore: %s exists; restore into a new directory", o.DataDir)
	}
	work := o.DataDir + ".restoring"
	if err := os.RemoveAll(work); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	defer func() {
		if err != nil {
			// Nothing half-restored stays behind; the archive is still there to try again.
			os.RemoveAll(work)
		}
	}()
	start := time.Now()
	m, err := Extract(ctx, r, work)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	extracted := time.Since(start)
	for c, v := range m.Components {
		if have, ok := componentVersions[c]; ok && v > have {
			return nil, fmt.Errorf("restore: %w: component %s has format %d, this CareLedger knows %d", ErrFormat, c, v, have)
		}
	}
	if err := os.WriteFile(filepath.Join(work, RestoringMarker), []byte("restore in progress\n"), 0o600); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	rep := &Report{Manifest: m}
	rep.Took.Extract = extracted
	lap := func(d *time.Duration) {
		*d = time.Since(start) - extracted - rep.Took.Index - rep.Took.Verify - rep.Took.Records
	}
	node := filepath.Join(work, nodeDir)
	own, err := network.SnapshotBlockLog(ctx, node, io.Discard)
	if err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if own.Height != m.Ledger.Height || hex.EncodeToString(own.LastHash) != m.Ledger.LastBlockHash {
		return nil, fmt.Errorf("restore: %w: the block log ends at height %d, the manifest says %d", ErrIntegrity, own.Height, m.Ledger.Height)
	}
	if o.CatchUpFrom != "" {
		if rep.CaughtUp, err = network.CatchUp(ctx, node, filepath.Join(o.CatchUpFrom, nodeDir)); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	if rep.Height, err = network.RebuildIndex(node, o.Logger); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	lap(&rep.Took.Index)
	if o.VerifyLedger != nil {
		if err := o.VerifyLedger(ctx, node); err != nil {
			return nil, fmt.Errorf("restore: %w", err)
		}
	}
	lap(&rep.Took.Verify)
	if err := reapplyErasures(ctx, work, o.Chaincode, m.KeyCustodian, rep); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	err = checkBlobs(ctx, work, o.Chaincode, rep)
	lap(&rep.Took.Records)
	if err != nil {
		return rep, fmt.Errorf("restore: %w", err)
	}
	if err := os.Remove(filepath.Join(work, RestoringMarker)); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	if err := os.Rename(work, o.DataDir); err != nil {
		return nil, fmt.Errorf("restore: %w", err)
	}
	return rep, nil
}

// reapplyErasures applies every erasure on the ledger to the restored directory: the local key
// store loses the patient's KEK (tombstone left) and the record store the patient's ciphertexts
// and wrapped keys. With Vault or a PKCS#11 token the key was destroyed there, outside the
// backup, when the live system completed the erasure.
func reapplyErasures(ctx context.Context, dir, chaincode, custodian string, rep *Report) error {
	var err error
	if rep.Erased, err = LedgerErasures(ctx, filepath.Join(dir, nodeDir), chaincode); err != nil {
		return err
	}
	keys := filepath.Join(dir, keysDir)
	blobs, err := blob.NewDisk(filepath.Join(dir, recordsDir))
	if err != nil {
		return err
	}
	for _, p := range rep.Erased {
		if custodian == CustodianLocal || custodian == "" {
			if _, err := os.Stat(filepath.Join(keys, "keys", p+".kek")); err == nil {
				rep.ShreddedKeys++
			}
			if _, err := os.Stat(keys); err == nil {
				if err := recordkey.ShredLocal(keys, p); err != nil {
					return err
				}
			}
		}
		n, err := deleteBlobs(ctx, blobs, p)
		rep.DeletedBlobs += n
		if err != nil {
			return err
		}
	}
	return nil
}

// checkBlobs checks every ciphertext against the ledger: its name is the SHA-256 the ledger
// registered for one of its owner's record versions, and its bytes hash to it.
func checkBlobs(ctx context.Context, dir, chaincode string, rep *Report) error {
	node := filepath.Join(dir, nodeDir)
	owners := map[string]string{} // record ID -> owner
	err := network.ScanState(ctx, node, chaincode, recordPrefix, func(_ string, v []byte) error {
		var rec model.Record
		if json.Unmarshal(v, &rec) == nil {
			owners[rec.ID] = rec.Owner
		}
		return nil
	})
	if err != nil {
		return err
	}
	want := map[string]bool{} // "owner/hash" of every version on the ledger
	err = network.ScanState(ctx, node, chaincode, versionPrefix, func(_ string, v []byte) error {
		var ver model.Version
		if json.Unmarshal(v, &ver) == nil {
			want[owners[ver.RecordID]+"/"+ver.Hash] = false
		}
		return nil
	})
	if err != nil {
		return err
	}
	erased := map[string]bool{}
	for _, p := range rep.Erased {
		erased[p] = true
	}
	store, err := blob.NewDisk(filepath.Join(dir, recordsDir))
	if err != nil {
		return err
	}
	found, err := store.List(ctx, "records/")
	if err != nil {
		return err
	}
	var bad []error
	for _, k := range found {
		rest := strings.TrimPrefix(k, "records/")
		owner, hash, _ := strings.Cut(rest, "/")
		rep.Blobs++
		if err := checkBlob(ctx, store, k, hash); err != nil {
			bad = append(bad, err)
			continue
		}
		if _, ok := want[rest]; !ok || erased[owner] {
			rep.Unreferenced = append(rep.Unreferenced, k)
			continue
		}
		want[rest] = true
	}
	for k, seen := range want {
		owner, _, _ := strings.Cut(k, "/")
		if !seen && !erased[owner] {
			rep.Missing = append(rep.Missing, "records/"+k)
		}
	}
	return errors.Join(bad...)
}

func checkBlob(ctx context.Context, store *blob.Disk, key, hash string) error {
	data, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); !bytes.Equal([]byte(got), []byte(hash)) {
		return fmt.Errorf("%w: ciphertext %s hashes to %s", ErrIntegrity, key, got)
	}
	return nil
}
