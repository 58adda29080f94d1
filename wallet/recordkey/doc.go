// Package recordkey encrypts health records with envelope encryption: every record version
// gets a fresh 256-bit data key, the content is sealed with AES-256-GCM under it, and the
// data key is wrapped by a key-encryption key (KEK) held per patient by a KeyService.
//
// Three KeyService implementations exist: Local (this package), which keeps KEKs in an
// encrypted key store on disk; vaulttransit, which keeps them in HashiCorp Vault's transit
// engine; and pkcs11, which keeps them as non-extractable keys on a PKCS#11 token (an HSM).
// All rotate KEKs by re-wrapping data keys, leaving ciphertexts and so their hashes on the
// ledger untouched, then retire the old KEK versions; and all crypto-shred: once a patient's
// KEK is destroyed none of their data keys, and so none of their records, can be decrypted
// again by anyone. Package recordkeytest holds the conformance suite they all pass.
//
// The sealed record format is streamable: content is cut into segments, each sealed on its
// own with a nonce that encodes its position and whether it is the last, so large records
// are encrypted and decrypted in constant memory and truncation, reordering or splicing is
// detected.
package recordkey
