package model

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
)

// Role is the `role` attribute that the organisation's Fabric CA puts in a certificate.
type Role string

// The roles CareLedger knows. RoleGateway is an organisation's policy enforcement point: a
// service identity that may act on behalf of its own organisation's members for reads, record
// writes and audit entries, but never for a patient's consent decisions.
const (
	RolePatient      Role = "patient"
	RoleClinician    Role = "clinician"
	RoleManufacturer Role = "manufacturer"
	RoleAnonymizer   Role = "anonymizer"
	RoleAdmin        Role = "admin"
	RoleGateway      Role = "gateway"
)

// Roles lists every role in a fixed order.
var Roles = []Role{RolePatient, RoleClinician, RoleManufacturer, RoleAnonymizer, RoleAdmin, RoleGateway}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) }

// Categories is the fixed vocabulary of coarse record categories. A category says what kind of
// document a record is, never what it says. "demographics" holds the patient's own details
// (a FHIR Patient: name, birth date, sex, address), so a grant of it shares who the patient
// is; "consent" holds consent documents (a FHIR Consent). New categories go at the end:
// grants name categories, never positions, but forms list them in this order.
var Categories = []string{
	"lab", "imaging", "medication", "diagnosis", "note", "questionnaire", "document",
	"procedure", "vital-signs", "allergy", "immunization", "care-plan", CategoryDemographics, CategoryConsent,
}

// Categories the clients name in code.
const (
	// CategoryDemographics holds the patient's own details; views read a patient's name
	// from it.
	CategoryDemographics = "demographics"
	// CategoryConsent holds consent documents.
	CategoryConsent = "consent"
)

// Actions that a grant can permit on records.
const (
	ActionRead   = "read"
	ActionAppend = "append"
)

// MaxArgumentBytes is the largest JSON argument the chaincode accepts, so that clients can size
// batches (an audit batch of reports carrying certificates reaches it long before 500 reports).
const MaxArgumentBytes = 64 << 10

// Actions lists every grantable action.
var Actions = []string{ActionRead, ActionAppend}

// Purposes of use for grants and access entries: HL7 v3 PurposeOfUse codes, so grants export
// directly as FHIR Consent provisions.
var Purposes = []string{
	"TREAT",    // treatment
	"ETREAT",   // emergency treatment (break-glass)
	"CAREMGT",  // care management and coordination, aftercare
	"PATRQT",   // requested by the patient (e.g. a second opinion)
	"HRESCH",   // healthcare research
	"CLINTRCH", // clinical trial research
	"PUBHLTH",  // public health
}

// ResearchPurposes is the vocabulary of research-consent purposes a patient can opt in to.
var ResearchPurposes = []string{
	"academic-research", "drug-development", "drug-safety", "medical-device",
	"public-health", "ai-training",
}

// EmergencyReasons is the vocabulary of break-glass reasons. Free text is not allowed because it
// would end up on the ledger.
var EmergencyReasons = []string{
	"patient-unconscious", "life-threatening", "patient-unable-to-consent",
	"urgent-medication-check", "other-emergency",
}

// Privacy models a cohort publication may name.
var PrivacyModels = []string{
	"k-anonymity", "l-diversity", "t-closeness", "risk-threshold", "differential-privacy",
}

var (
	idPattern        = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
	pseudonymPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)
	hashPattern      = regexp.MustCompile(`^[0-9a-f]{64}$`)
	mspPattern       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	locatorPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9:/._-]{0,255}$`)
	attrNamePattern  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)
	mediaTypePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9.+-]{0,63}/[a-z0-9][a-z0-9.+-]{0,63}$`)
)

// ValidID reports whether s may be used as a record, grant, access, emergency or cohort ID:
// 1 to 128 characters of letters, digits, '.', '_' and '-', starting with a letter or digit.
// Clients should use random IDs (UUIDs); an ID must never encode personal data.
func ValidID(s string) bool { return idPattern.MatchString(s) }

// ValidPseudonym reports whether s has the form of a ledger pseudonym (32 lowercase hex digits).
func ValidPseudonym(s string) bool { return pseudonymPattern.MatchString(s) }

// ValidHash reports whether s is a lowercase hex SHA-256 digest.
func ValidHash(s string) bool { return hashPattern.MatchString(s) }

// ValidMSPID reports whether s has the form of a Fabric MSP ID.
func ValidMSPID(s string) bool { return mspPattern.MatchString(s) }

// ValidLocator reports whether s is an acceptable opaque storage locator.
func ValidLocator(s string) bool { return locatorPattern.MatchString(s) }

// ValidAttributeName reports whether s may name a dataset attribute such as a quasi-identifier.
func ValidAttributeName(s string) bool { return attrNamePattern.MatchString(s) }

// ValidMediaType reports whether s is a plain type/subtype media type without parameters.
func ValidMediaType(s string) bool { return mediaTypePattern.MatchString(s) }

// PseudonymFor derives the ledger pseudonym of an identity from its MSP ID and enrollment ID.
// It is stable across certificate renewal (re-enrolment keeps the enrollment ID) and reveals
// neither: it is the first 16 bytes of SHA-256 over a domain-separated encoding, in hex.
func PseudonymFor(mspID, enrollmentID string) string {
	h := sha256.New()
	h.Write([]byte("careledger/id/v1\x00"))
	h.Write([]byte(mspID))
	h.Write([]byte{0})
	h.Write([]byte(enrollmentID))
	return hex.EncodeToString(h.Sum(nil)[:16])
}
