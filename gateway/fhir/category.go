package fhir

import "github.com/careledger/careledger/chaincode/model"

// The ledger's coarse categories (chaincode/model.Categories) are what grants name, so a
// resource's category decides who may read it. Following the MII core data set modules:
// Person → demographics, Diagnose → diagnosis, Prozedur → procedure, Laborbefund →
// lab, Medikation → medication, and so on.

// categoryDemographics is where a Patient resource is filed: apart from everything clinical,
// so that a patient can share their results without their name and address, or the reverse.
// Records stored before the ledger knew "demographics" stay filed under "note".
const categoryDemographics = model.CategoryDemographics

// categoryConsent is where a Consent resource is filed. Records stored before the ledger knew
// "consent" stay filed under "document".
const categoryConsent = model.CategoryConsent

// resourceCategories maps resource types to ledger categories; types not listed are notes.
// Observation and DiagnosticReport are refined by their own category in categoryOf.
var resourceCategories = map[string]string{
	"Patient":                    categoryDemographics,
	"Condition":                  "diagnosis",
	"ClinicalImpression":         "diagnosis",
	"RiskAssessment":             "diagnosis",
	"FamilyMemberHistory":        "diagnosis",
	"Procedure":                  "procedure",
	"Observation":                "lab",
	"DiagnosticReport":           "lab",
	"Specimen":                   "lab",
	"MedicationStatement":        "medication",
	"MedicationAdministration":   "medication",
	"MedicationRequest":          "medication",
	"MedicationDispense":         "medication",
	"Medication":                 "medication",
	"ImagingStudy":               "imaging",
	"Media":                      "imaging",
	"QuestionnaireResponse":      "questionnaire",
	"Questionnaire":              "questionnaire",
	"AllergyIntolerance":         "allergy",
	"Immunization":               "immunization",
	"ImmunizationRecommendation": "immunization",
	"CarePlan":                   "care-plan",
	"Goal":                       "care-plan",
	"CareTeam":                   "care-plan",
	"ServiceRequest":             "care-plan",
	"NutritionOrder":             "care-plan",
	"DocumentReference":          "document",
	"Binary":                     "document",
	"Composition":                "document",
	"Bundle":                     "document",
	"Consent":                    categoryConsent,
}

// categoryOf returns the ledger category for a resource of type rt whose category
// CodeableConcepts hold the given codes.
func categoryOf(rt string, codes []string) string {
	switch rt {
	case "Observation":
		// Observation.category codes from observation-category.
		for _, code := range codes {
			switch code {
			case "vital-signs":
				return "vital-signs"
			case "imaging":
				return "imaging"
			case "survey":
				return "questionnaire"
			}
		}
	case "DiagnosticReport":
		// DiagnosticReport.category codes from HL7 v2 table 0074 (diagnostic service sections).
		for _, code := range codes {
			switch code {
			case "RAD", "CT", "NMR", "NMS", "RUS", "VUS", "OUS", "CUS", "XRC", "RX", "IMG":
				return "imaging"
			}
		}
	}
	if c, ok := resourceCategories[rt]; ok {
		return c
	}
	return "note"
}
