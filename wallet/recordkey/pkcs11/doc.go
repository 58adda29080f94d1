// Package pkcs11 keeps CareLedger's per-patient key-encryption keys (KEKs) on a PKCS#11
// token: a hardware security module, or SoftHSM2 in tests. It implements
// recordkey.KeyService like the local key store and Vault Transit and passes the same
// conformance suite (recordkeytest).
//
// Each KEK version is an AES-256 secret key generated on the token (C_GenerateKey) as a
// token object with CKA_SENSITIVE set and CKA_EXTRACTABLE cleared, usable only to encrypt and
// decrypt: its value never leaves the token, and the token refuses to export it even to a
// caller with the PIN. Before a key object is used its attributes are checked, including
// CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE, so a key someone imported or made
// extractable under a KEK's label is refused (ErrNotKEK) rather than used.
//
// Data keys are generated in this process (the record content is encrypted here) and
// wrapped on the token with C_Encrypt under CKM_AES_GCM, with the patient ID and KEK version
// as additional authenticated data. GCM is used rather than CKM_AES_KEY_WRAP_PAD because
// the key wrap mechanisms (C_WrapKey, C_UnwrapKey) only wrap key objects that live on the
// token: every data key would have to be imported as an object, wrapped, destroyed, and on
// unwrap created as an extractable object to read its value back, three or four calls where
// GCM needs one, and with a window in which the token holds extractable copies. GCM also
// authenticates the patient ID and version, which key wrap cannot bind. The 96-bit IV is
// random per wrap (the token's IV is read back for modules that choose their own), well
// within GCM's limit of 2^32 random IVs per key for one patient's KEK version.
//
// Objects on the token are named by a tag, the first 16 bytes of SHA-256 over a domain
// separator and the patient ID, never by the patient ID itself, so a token listing or an
// HSM audit log does not show pseudonyms. The tag is not secret: whoever has the ledger's
// pseudonyms can compute it, which links a key to a pseudonym but to no person.
//
//	KEK version v   CKO_SECRET_KEY, CKA_LABEL "careledger-kek-<tag hex>",
//	                CKA_ID <tag> || v (4 bytes, big-endian)
//	erasure marker  CKO_DATA, CKA_LABEL "careledger-erased-<tag hex>"
//
// Rotation generates version latest+1; older versions keep unwrapping until
// RetireKeyVersions destroys them (C_DestroyObject). DestroyKey writes the erasure marker
// first (so a failure half-way still leaves the patient erased and no new KEK is ever made
// for them), destroys every version, then searches the token again and fails unless none is
// left.
//
// Sessions come from a pool, so a KeyService is safe for concurrent use; the user PIN logs
// the application in once per token (PKCS#11 login state is shared by all sessions). Key
// handles and erasures are cached; when the token refuses a cached handle (another key
// service destroyed or retired the key) the token is read again once, so an erasure made
// elsewhere is honoured. Whether a token tells one process about objects another process
// destroyed is up to the module, so, like the local key store, a token's CareLedger keys
// should be used by one process at a time.
//
// Loading a PKCS#11 module needs cgo (github.com/miekg/pkcs11). A build without cgo still
// compiles, so CareLedger builds on a machine without a C compiler; there New fails with
// ErrModule and says why.
package pkcs11
