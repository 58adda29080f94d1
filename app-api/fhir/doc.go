// Package fhir serves CareLedger's records as a FHIR R4 REST interface under /fhir, with the
// IHE MHD document transactions, for clinic systems that speak FHIR rather than CareLedger's
// own /v1 API. It runs on the API's listener with the same TLS client certificates, and every
// release of content goes through the policy enforcement point (gateway.Service): the ledger
// decides, the ciphertext's hash is checked against it, and the access is durably audited
// before anything is sent. The package adds no permission of its own; it only narrows.
//
// # Ids and versions
//
// A CareLedger record is one FHIR resource (or one document, served as a Binary), and its
// ledger versions are the resource's versions:
//
//   - the FHIR id of a resource is its record ID (records created through /fhir get a UUID,
//     which is a valid FHIR id; a record uploaded through /v1 with an ID outside FHIR's id
//     grammar is still served under that ID);
//   - meta.versionId is the ledger version number (1, 2, ...), meta.lastUpdated the time the
//     ledger registered that version, and the ETag is W/"versionId";
//   - the FHIR id of a Patient is the patient's pseudonym, never a name or a hospital number:
//     Patient/{pseudonym} is the patient's Patient record (the one record whose resource is a
//     Patient), and every subject or patient reference CareLedger serves points there;
//   - a Consent's id is its grant ID, an AuditEvent's id its access entry ID;
//   - a document (a PDF, an image) is a Binary: GET Binary/{id} returns its bytes with their
//     media type, or, asked for FHIR JSON, a Binary resource.
//
// References inside an uploaded Bundle (fullUrl, urn:uuid, Type/id) are rewritten to the ids
// CareLedger assigns, as a FHIR server does for a transaction.
//
// # What reads cost
//
// Record content is encrypted and the ledger knows only a coarse category per record, so a
// search decrypts the caller's readable records of the categories the resource type can be
// filed under and filters them here. Each of those reads is a release in the patient's audit
// trail, whether or not it matched: the server did decrypt it for the caller. A `category`
// that names a ledger category (vital-signs, laboratory) narrows what is read. Results never
// include a record the ledger did not release to the caller, and a searchset carries no
// total, so nothing is counted that the caller may not see.
package fhir
