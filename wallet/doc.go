// Package wallet holds CareLedger identities: X.509 certificates issued by a Fabric CA with
// their private keys, kept in an encrypted file wallet and usable for signing only through
// crypto.Signer or the fabric-gateway identity.Sign function, never as raw key bytes.
//
// Sub-packages hold the rest of what protects a person's data: fabricca talks to a Fabric CA
// to register, enrol, re-enrol and revoke identities; recordkey does the envelope encryption
// of records with per-patient key-encryption keys, which recordkey/vaulttransit keeps in
// HashiCorp Vault and recordkey/pkcs11 on a PKCS#11 token (a hardware security module).
package wallet
