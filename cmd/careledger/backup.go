package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/careledger/careledger/internal/backup"
	"github.com/careledger/careledger/network"
	"github.com/spf13/cobra"
)

func newBackupCmd(g *globals) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "backup",
		Short: "Write an archive of the data directory, while CareLedger runs or not",
		Long: `backup writes one archive (tar, zstd) of --data-dir: the embedded ledger's block log up
to its last synced block, the encrypted record store, the sealed local key store, the wallets,
the audit queue and the node's configuration, with a manifest (format versions, ledger height
and last block hash, SHA-256 of every file). It may run while careledger up runs: the ledger is
read without a lock, the audit queue is copied by the running process through its admin socket,
and no write waits for the backup.

Never in the archive: the local key store's passphrase (keystore.passphrase; keep it, or
CARELEDGER_KEYSTORE_PASSPHRASE, apart from the archives) and any key held by Vault or a PKCS#11
token. With S3, ciphertexts are in the bucket, not in the archive: back the bucket up with
S3's own tools (versioning, replication).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out is required")
			}
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return err
			}
			m, err := backup.Write(cmd.Context(), f, backup.Options{
				DataDir: g.dataDir, TempDir: filepath.Dir(out), AuditSnapshot: auditFromRunning(g.dataDir),
			})
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(out)
				return err
			}
			st, _ := os.Stat(out)
			fmt.Fprintf(cmd.OutOrStdout(), "backup written: %s (%d bytes, %d files); ledger height %d, last block %s; online %v; keys: %s\n",
				out, st.Size(), len(m.Files), m.Ledger.Height, m.Ledger.LastBlockHash, m.Online, describeCustodian(m.KeyCustodian))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "", "archive to write (must not exist)")
	return cmd
}

func describeCustodian(c string) string {
	if c == "" || c == backup.CustodianLocal {
		return "local key store, sealed; its passphrase is not in the archive"
	}
	return c + " (no key in the archive; back it up with its own tools)"
}

func newRestoreCmd(g *globals) *cobra.Command {
	var archive, catchUp string
	cmd := &cobra.Command{
		Use:   "restore",
		Short: "Restore an archive into a new data directory, applying every erasure on the ledger",
		Long: `restore unpacks an archive written by careledger backup into --data-dir, which must not
exist, and checks it: every file against the manifest, the ledger (rebuilt index, hash chain,
signatures, endorsement policies, as careledger ledger verify) and every ciphertext against the
hash the ledger registered. With --catch-up-from DIR it first appends the blocks the ledger in DIR
(a newer data directory, e.g. the consortium's) holds beyond the backup. Then every erasure the
ledger records is applied again: the patient's key is shredded and their ciphertexts deleted.
Only then is the directory put in place; careledger up refuses a directory whose restore did
not finish. Give careledger up the key store's passphrase in CARELEDGER_KEYSTORE_PASSPHRASE
(or copy keystore.passphrase back from where you keep it).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if archive == "" {
				return errors.New("--archive is required")
			}
			f, err := os.Open(archive)
			if err != nil {
				return err
			}
			defer f.Close()
			rep, err := backup.Restore(cmd.Context(), f, backup.RestoreOptions{
				DataDir: g.dataDir, CatchUpFrom: catchUp, Logger: g.logger(), VerifyLedger: verifyNodeDir,
			})
			if err != nil {
				return err
			}
			printRestoreReport(cmd.OutOrStdout(), g.dataDir, rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&archive, "archive", "", "archive written by careledger backup")
	cmd.Flags().StringVar(&catchUp, "catch-up-from", "", "data directory of a node whose ledger is newer than the archive; its later blocks are appended")
	return cmd
}

// verifyNodeDir is `careledger ledger verify` on a node directory.
func verifyNodeDir(ctx context.Context, dir string) error {
	c, err := loadConsortium(dir)
	if err != nil {
		return err
	}
	if _, err := network.Verify(ctx, network.Config{Dir: dir, Consortium: c}); err != nil {
		return fmt.Errorf("ledger verification failed: %w", err)
	}
	return nil
}

func printRestoreReport(w io.Writer, dir string, rep *backup.Report) {
	m := rep.Manifest
	fmt.Fprintf(w, "restored %s from a backup of %s (CareLedger %s): %d files, all matching the manifest\n", dir, m.CreatedAt.Format("2006-01-02 15:04:05Z"), m.CareLedger, len(m.Files))
	fmt.Fprintf(w, "  ledger      height %d (backup %d, %d blocks caught up); verified\n", rep.Height, m.Ledger.Height, rep.CaughtUp)
	fmt.Fprintf(w, "  erasures    %d patients erased on the ledger; %d keys shredded and %d ciphertexts deleted again\n", len(rep.Erased), rep.ShreddedKeys, rep.DeletedBlobs)
	fmt.Fprintf(w, "  records     %d ciphertexts match the ledger's hashes; %d unreferenced, %d missing\n", rep.Blobs-len(rep.Unreferenced), len(rep.Unreferenced), len(rep.Missing))
	if len(rep.Missing) > 0 {
		fmt.Fprintf(w, "              missing: %s\n", strings.Join(rep.Missing[:min(len(rep.Missing), 5)], ", "))
	}
	fmt.Fprintf(w, "  keys        %s\n", describeCustodian(m.KeyCustodian))
}
