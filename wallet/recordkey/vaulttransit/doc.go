// Package vaulttransit keeps CareLedger's per-patient key-encryption keys in HashiCorp
// Vault's transit secrets engine: one transit key per patient, data keys generated and
// wrapped by Vault (datakey), unwrapped (decrypt) and re-wrapped after rotation (rewrap)
// without the KEK ever leaving Vault. Destroying a patient's key deletes the transit key,
// after which nobody, Vault operators included, can unwrap that patient's data keys.
//
// Vault has no tombstones, so erasure leaves a marker: an unused transit key named
// "<key>.erased". The marker makes the erasure visible to every process (no new key is ever
// created for an erased patient) and needs no permission beyond the transit mount. The Vault
// policy for the CareLedger gateway needs create, read, update and delete on <mount>/keys/*
// (which covers rotate, config and trim), and update on <mount>/datakey/plaintext/*,
// <mount>/decrypt/* and <mount>/rewrap/*; a token is checked with auth/token/lookup-self,
// which Vault's default policy allows.
package vaulttransit
