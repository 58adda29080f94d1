// Package backup writes and restores CareLedger data directories: one streamed archive (tar,
// zstd-compressed) holding an online snapshot of the embedded ledger's block log, the encrypted
// record store, the sealed local key store, the wallets, the audit queue and the node's
// configuration, closed by a manifest of format versions, ledger height and per-file SHA-256.
//
// Restore checks the archive against its manifest, rebuilds the ledger index from the block log,
// can catch the ledger up from a newer block log, verifies the ledger and every ciphertext
// against the hashes the ledger holds, and applies again every erasure the ledger records
// before the directory can be started: a backup never brings an erased patient back.
//
// What is never in an archive: the local key store's passphrase (keystore.passphrase), the
// ledger's bbolt index (rebuilt from the block log), lock files, sockets and the upload spool.
package backup
