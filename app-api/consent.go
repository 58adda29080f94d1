package api

import (
	"time"

	"github.com/careledger/careledger/app-api/fhir"
	"github.com/careledger/careledger/chaincode/model"
)

// The FHIR R4 Consent export of grants lives in app-api/fhir, which serves it under /fhir;
// these names keep /v1's export and its Go API as they were.
type (
	Coding           = fhir.Coding
	CodeableConcept  = fhir.CodeableConcept
	Identifier       = fhir.Identifier
	Reference        = fhir.Reference
	Period           = fhir.Period
	ConsentActor     = fhir.ConsentActor
	ConsentData      = fhir.ConsentData
	ConsentProvision = fhir.ConsentProvision
	Consent          = fhir.Consent
)

// Identifier systems for CareLedger's own identifiers.
const (
	SystemPseudonym = fhir.SystemPseudonym
	SystemMSP       = fhir.SystemMSP
	SystemGrant     = fhir.SystemGrant
	SystemRecord    = fhir.SystemRecord
	SystemCategory  = fhir.SystemCategory
)

// ConsentFromGrant exports a grant as a FHIR R4 Consent resource.
func ConsentFromGrant(g model.Grant) Consent { return fhir.ConsentFromGrant(g) }

// BundleEntry is one entry of a Bundle.
type BundleEntry struct {
	FullURL  string  `json:"fullUrl"`
	Resource Consent `json:"resource"`
}

// Bundle is a FHIR R4 Bundle of Consent resources.
type Bundle struct {
	ResourceType string        `json:"resourceType"`
	Type         string        `json:"type"`
	Timestamp    string        `json:"timestamp"`
	Entry        []BundleEntry `json:"entry"`
}

// ConsentBundle exports grants as a FHIR R4 collection Bundle of Consent resources.
func ConsentBundle(grants []model.Grant) Bundle {
	b := Bundle{ResourceType: "Bundle", Type: "collection", Timestamp: time.Now().UTC().Format(time.RFC3339), Entry: []BundleEntry{}}
	for _, g := range grants {
		b.Entry = append(b.Entry, BundleEntry{FullURL: SystemGrant + ":" + g.ID, Resource: ConsentFromGrant(g)})
	}
	return b
}
