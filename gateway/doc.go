// Package gateway is the application side of CareLedger that every user-facing surface goes
// through: the policy enforcement point. It encrypts record content under a fresh data key,
// stores the ciphertext off-chain and registers its hash on the ledger; it releases content
// only after the ledger, asked as the caller, says the caller may have it, the ciphertext's hash
// matches the ledger and the access is durably queued for the patient's audit trail; and it
// erases a patient by crypto-shredding their key and deleting their ciphertexts.
//
// Callers are represented by a *ledger.Client signing as them, or a gateway identity acting for
// them (ledger.Client.For): the ledger decides in both cases, the gateway adds nothing that
// could widen what the ledger allows. A granted read costs one ledger evaluation
// (AuthorizeRead: the decision and the version in one answer); a version whose stored content
// is missing is ErrContentMissing, told apart from content that does not match the ledger
// (ErrIntegrity). A read may carry the member's own signed access assertion
// (WithAssertion): it is checked before anything is decrypted and forwarded with the audit
// report, so that the patient's trail shows the read as member-signed rather than resting on
// the gateway's word (gateway-asserted).
package gateway
