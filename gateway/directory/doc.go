// Package directory is an organisation's clinician directory: who a clinician pseudonym is
// (display name, profession, department) and the human name of each organisation, kept off the
// ledger by each organisation through its gateway, in a durable store in the data directory.
//
// The ledger knows people only by pseudonym; the directory lets a patient see "Dr Anna Weber,
// internist, Cardiology, Klinikum Musterstadt" where the ledger says b9f6bb5d…. It holds
// clinicians only, and is built so that it cannot become a way to find or name patients:
//
//   - Who may write: a clinician their own entry, and their organisation's admin the entries of
//     that organisation's members, named by enrollment ID (the pseudonym is derived from it, so
//     an admin cannot attach a name to another organisation's member). Only organisations
//     configured as employing clinicians (Org.Clinicians) have entries, so no entry can ever
//     carry a patient's pseudonym.
//   - Who may read: patients, clinicians and admins, one entry at a time by its exact
//     pseudonym, which a patient learns from an invitation, a grant or their audit trail.
//     There is no listing or search: a lookup answers only "who is this clinician", never
//     "which pseudonyms exist". A pseudonym that is not in the directory, a patient's included,
//     is answered exactly like an unknown one.
//   - Manufacturers, the anonymiser and gateway identities may not read it: they have no
//     reason to know who treats whom, and a manufacturer could otherwise link a clinician to
//     the patients of a published cohort's grants.
//
// A clinician's pseudonym is derived from MSP ID and enrollment ID; where enrollment IDs are
// guessable staff numbers, someone who may read the directory can find clinicians' names by
// guessing. Those names are what a clinic shows on its own web site; patients' enrollment IDs
// are random, and patients have no entries.
package directory
