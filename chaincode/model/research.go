package model

import "time"

// ResearchConsent is a patient's broad consent to research use of their records.
type ResearchConsent struct {
	Patient   string     `json:"patient"`
	OptIn     bool       `json:"optIn"`
	Purposes  []string   `json:"purposes,omitempty" metadata:",optional"`
	Until     *time.Time `json:"until,omitempty" metadata:",optional"`
	UpdatedAt time.Time  `json:"updatedAt"`
	TxID      string     `json:"txId"`
}

// ActiveFor reports whether the consent covers purpose at time t.
func (c *ResearchConsent) ActiveFor(purpose string, t time.Time) bool {
	if !c.OptIn || (c.Until != nil && !t.Before(*c.Until)) {
		return false
	}
	for _, p := range c.Purposes {
		if p == purpose {
			return true
		}
	}
	return false
}

// ResearchConsentRequest is the argument of SetResearchConsent.
type ResearchConsentRequest struct {
	Patient  string     `json:"patient,omitempty"`
	OptIn    bool       `json:"optIn"`
	Purposes []string   `json:"purposes,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
}

// ConsentingPatient is one pseudonym whose consent covers the purpose asked for, with the
// transaction that last set the consent, so a cohort can commit to the exact snapshot it used.
type ConsentingPatient struct {
	Patient string `json:"patient"`
	TxID    string `json:"txId"`
}

// ConsentPage is one page of consenting pseudonyms.
type ConsentPage struct {
	Patients []ConsentingPatient `json:"patients"`
	Bookmark string              `json:"bookmark,omitempty" metadata:",optional"`
}

// PrivacyParameters are the parameters of the privacy model a cohort was checked against.
// Zero means "not used".
type PrivacyParameters struct {
	K                int     `json:"k,omitempty" metadata:",optional"`
	L                float64 `json:"l,omitempty" metadata:",optional"`
	LVariant         string  `json:"lVariant,omitempty" metadata:",optional"`
	C                float64 `json:"c,omitempty" metadata:",optional"`
	T                float64 `json:"t,omitempty" metadata:",optional"`
	Epsilon          float64 `json:"epsilon,omitempty" metadata:",optional"`
	Delta            float64 `json:"delta,omitempty" metadata:",optional"`
	MaxRisk          float64 `json:"maxRisk,omitempty" metadata:",optional"`
	SuppressionLimit float64 `json:"suppressionLimit"`
}

// CohortPublication is the argument of PublishCohort.
type CohortPublication struct {
	ID                  string            `json:"id"`
	DatasetHash         string            `json:"datasetHash"`
	ReportHash          string            `json:"reportHash,omitempty" metadata:",optional"`
	RowCount            int               `json:"rowCount"`
	SuppressedRows      int               `json:"suppressedRows"`
	Purpose             string            `json:"purpose"`
	Models              []string          `json:"models"`
	Parameters          PrivacyParameters `json:"parameters"`
	QuasiIdentifiers    []string          `json:"quasiIdentifiers"`
	ConsentSnapshotHash string            `json:"consentSnapshotHash"`
	// QueryHash names the extract definition the cohort was built from (which patients,
	// which variables), as feasibility answers name theirs; empty for a cohort of the fixed
	// demographic columns.
	QueryHash string `json:"queryHash,omitempty" metadata:",optional"`
	Locator   string `json:"locator,omitempty" metadata:",optional"`
}

// Cohort is a published anonymised cohort as recorded on the ledger.
type Cohort struct {
	Publication CohortPublication `json:"publication"`
	Publisher   Party             `json:"publisher"`
	PublishedAt time.Time         `json:"publishedAt"`
	TxID        string            `json:"txId"`
}

// CohortPage is one page of cohort publications.
type CohortPage struct {
	Cohorts  []Cohort `json:"cohorts"`
	Bookmark string   `json:"bookmark,omitempty" metadata:",optional"`
}

// Erasure records that a patient asked for their data to be erased. The key that protects the
// patient's records is destroyed off-chain; the ledger keeps only hashes and this marker, and
// refuses every later access and write for the patient.
type Erasure struct {
	Patient     string    `json:"patient"`
	RequestedAt time.Time `json:"requestedAt"`
	TxID        string    `json:"txId"`
}

// RolePolicy says which organisations may issue which roles. When no policy is set every
// organisation's CA may issue every role; once set, a certificate whose role its MSP may not
// issue is treated as having no role at all.
type RolePolicy struct {
	Rules []RoleRule `json:"rules"`
}

// RoleRule lists the MSPs allowed to issue one role.
type RoleRule struct {
	Role Role     `json:"role"`
	MSPs []string `json:"msps"`
}
