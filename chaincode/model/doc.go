// Package model defines the documents that the CareLedger chaincode stores on the ledger and
// exchanges with its clients: records and their hash-chained versions, consent grants, access
// decisions, audit entries, research consent and cohort publications, together with the fixed
// vocabularies and the stable error codes.
//
// Nothing in this package may ever carry personal data: identities appear only as pseudonyms
// (see [PseudonymFor]), record content only as the SHA-256 of its ciphertext, and every free
// field is restricted to a fixed vocabulary or a narrow pattern so that no name, birth date,
// address or diagnosis text can be written to the ledger through it.
//
// The package has no Fabric dependency, so the gateway and the API can share these types.
package model
