// Package fhir checks record content before it is encrypted and stored: FHIR R4 JSON resources
// (application/fhir+json) and documents with a media type. It also suggests the coarse ledger
// category for a resource, so clients need not map FHIR types themselves.
package fhir

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"

	"github.com/careledger/careledger/chaincode/model"
)

// MediaType is the FHIR JSON media type.
const MediaType = "application/fhir+json"

// MaxResourceBytes bounds a FHIR resource; larger content belongs in a document.
const MaxResourceBytes = 4 << 20

// ErrInvalid is wrapped by every validation failure; the message names what was wrong.
var ErrInvalid = errors.New("invalid record content")

// Resource is what validation learned about a FHIR resource.
type Resource struct {
	Type string
	ID   string
	// Category is the ledger category this resource belongs in.
	Category string
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9\-.]{1,64}$`)

// Validate parses a FHIR R4 JSON resource: one JSON object, nothing after it, with a
// `resourceType` naming an R4 resource and, if present, an `id` of FHIR's id form.
func Validate(data []byte) (*Resource, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: empty FHIR resource", ErrInvalid)
	}
	if len(data) > MaxResourceBytes {
		return nil, fmt.Errorf("%w: FHIR resource larger than %d bytes", ErrInvalid, MaxResourceBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var head struct {
		ResourceType *string         `json:"resourceType"`
		ID           *string         `json:"id"`
		Category     json.RawMessage `json:"category"`
	}
	if err := dec.Decode(&head); err != nil {
		var syntax *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syntax):
			return nil, fmt.Errorf("%w: malformed JSON at byte %d", ErrInvalid, syntax.Offset)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("%w: malformed JSON: unexpected end", ErrInvalid)
		case errors.As(err, &typ) && typ.Field != "":
			return nil, fmt.Errorf("%w: field %s has the wrong type", ErrInvalid, typ.Field)
		default:
			return nil, fmt.Errorf("%w: a FHIR resource is a JSON object", ErrInvalid)
		}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: data after the FHIR resource", ErrInvalid)
	}
	if head.ResourceType == nil || *head.ResourceType == "" {
		return nil, fmt.Errorf("%w: field resourceType is missing", ErrInvalid)
	}
	rt := *head.ResourceType
	if !slices.Contains(r4Resources, rt) {
		return nil, fmt.Errorf("%w: field resourceType: %q is not a FHIR R4 resource type", ErrInvalid, rt)
	}
	res := &Resource{Type: rt, Category: categoryOf(rt, head.Category)}
	if head.ID != nil {
		if !idPattern.MatchString(*head.ID) {
			return nil, fmt.Errorf("%w: field id is not a FHIR id", ErrInvalid)
		}
		res.ID = *head.ID
	}
	return res, nil
}

// ValidateDocument checks a document upload: non-empty content with a plain media type.
func ValidateDocument(mediaType string, data []byte) error {
	if !model.ValidMediaType(mediaType) {
		return fmt.Errorf("%w: media type %q is not of the form type/subtype", ErrInvalid, mediaType)
	}
	if len(data) == 0 {
		return fmt.Errorf("%w: empty document", ErrInvalid)
	}
	return nil
}

// categoryOf maps a resource to the ledger's coarse category.
func categoryOf(resourceType string, category json.RawMessage) string {
	switch resourceType {
	case "Observation":
		// Observation.category is a list of CodeableConcepts from observation-category.
		var cats []struct {
			Coding []struct {
				Code string `json:"code"`
			} `json:"coding"`
		}
		_ = json.Unmarshal(category, &cats)
		for _, c := range cats {
			for _, code := range c.Coding {
				switch code.Code {
				case "vital-signs":
					return "vital-signs"
				case "imaging":
					return "imaging"
				case "survey":
					return "questionnaire"
				}
			}
		}
		return "lab"
	case "DiagnosticReport", "Specimen":
		return "lab"
	case "Condition", "ClinicalImpression", "RiskAssessment", "FamilyMemberHistory":
		return "diagnosis"
	case "MedicationStatement", "MedicationRequest", "MedicationAdministration", "MedicationDispense", "Medication":
		return "medication"
	case "ImagingStudy", "Media":
		return "imaging"
	case "QuestionnaireResponse", "Questionnaire":
		return "questionnaire"
	case "AllergyIntolerance":
		return "allergy"
	case "Immunization", "ImmunizationRecommendation":
		return "immunization"
	case "CarePlan", "Goal", "CareTeam", "ServiceRequest", "NutritionOrder":
		return "care-plan"
	case "Procedure":
		return "procedure"
	case "DocumentReference", "Binary", "Composition", "Bundle":
		return "document"
	default:
		return "note"
	}
}

// r4Resources is the list of FHIR R4 (4.0.1) resource types.
var r4Resources = []string{
	"Account", "ActivityDefinition", "AdverseEvent", "AllergyIntolerance", "Appointment",
	"AppointmentResponse", "AuditEvent", "Basic", "Binary", "BiologicallyDerivedProduct",
	"BodyStructure", "Bundle", "CapabilityStatement", "CarePlan", "CareTeam", "CatalogEntry",
	"ChargeItem", "ChargeItemDefinition", "Claim", "ClaimResponse", "ClinicalImpression",
	"CodeSystem", "Communication", "CommunicationRequest", "CompartmentDefinition", "Composition",
	"ConceptMap", "Condition", "Consent", "Contract", "Coverage", "CoverageEligibilityRequest",
	"CoverageEligibilityResponse", "DetectedIssue", "Device", "DeviceDefinition", "DeviceMetric",
	"DeviceRequest", "DeviceUseStatement", "DiagnosticReport", "DocumentManifest",
	"DocumentReference", "EffectEvidenceSynthesis", "Encounter", "Endpoint", "EnrollmentRequest",
	"EnrollmentResponse", "EpisodeOfCare", "EventDefinition", "Evidence", "EvidenceVariable",
	"ExampleScenario", "ExplanationOfBenefit", "FamilyMemberHistory", "Flag", "Goal",
	"GraphDefinition", "Group", "GuidanceResponse", "HealthcareService", "ImagingStudy",
	"Immunization", "ImmunizationEvaluation", "ImmunizationRecommendation", "ImplementationGuide",
	"InsurancePlan", "Invoice", "Library", "Linkage", "List", "Location", "Measure", "MeasureReport",
	"Media", "Medication", "MedicationAdministration", "MedicationDispense", "MedicationKnowledge",
	"MedicationRequest", "MedicationStatement", "MedicinalProduct", "MedicinalProductAuthorization",
	"MedicinalProductContraindication", "MedicinalProductIndication", "MedicinalProductIngredient",
	"MedicinalProductInteraction", "MedicinalProductManufactured", "MedicinalProductPackaged",
	"MedicinalProductPharmaceutical", "MedicinalProductUndesirableEffect", "MessageDefinition",
	"MessageHeader", "MolecularSequence", "NamingSystem", "NutritionOrder", "Observation",
	"ObservationDefinition", "OperationDefinition", "OperationOutcome", "Organization",
	"OrganizationAffiliation", "Parameters", "Patient", "PaymentNotice", "PaymentReconciliation",
	"Person", "PlanDefinition", "Practitioner", "PractitionerRole", "Procedure", "Provenance",
	"Questionnaire", "QuestionnaireResponse", "RelatedPerson", "RequestGroup", "ResearchDefinition",
	"ResearchElementDefinition", "ResearchStudy", "ResearchSubject", "RiskAssessment",
	"RiskEvidenceSynthesis", "Schedule", "SearchParameter", "ServiceRequest", "Slot", "Specimen",
	"SpecimenDefinition", "StructureDefinition", "StructureMap", "Subscription", "Substance",
	"SubstanceNucleicAcid", "SubstancePolymer", "SubstanceProtein", "SubstanceReferenceInformation",
	"SubstanceSourceMaterial", "SubstanceSpecification", "SupplyDelivery", "SupplyRequest", "Task",
	"TerminologyCapabilities", "TestReport", "TestScript", "ValueSet", "VerificationResult",
	"VisionPrescription",
}
