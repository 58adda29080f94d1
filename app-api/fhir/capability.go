package fhir

import (
	"net/http"
	"time"
)

// CapabilityStatement is the FHIR R4 CapabilityStatement of this server; only the elements
// it fills are modelled.
type CapabilityStatement struct {
	ResourceType   string           `json:"resourceType"`
	Status         string           `json:"status"`
	Date           string           `json:"date"`
	Publisher      string           `json:"publisher"`
	Kind           string           `json:"kind"`
	Instantiates   []string         `json:"instantiates,omitempty"`
	Software       capSoftware      `json:"software"`
	FHIRVersion    string           `json:"fhirVersion"`
	Format         []string         `json:"format"`
	Rest           []capRest        `json:"rest"`
	Implementation *capImplementing `json:"implementation,omitempty"`
}

type capSoftware struct {
	Name string `json:"name"`
}

type capImplementing struct {
	Description string `json:"description"`
}

type capRest struct {
	Mode          string           `json:"mode"`
	Documentation string           `json:"documentation"`
	Security      capSecurity      `json:"security"`
	Resource      []capResource    `json:"resource"`
	Interaction   []capInteraction `json:"interaction"`
}

type capSecurity struct {
	Service     []CodeableConcept `json:"service"`
	Description string            `json:"description"`
}

type capResource struct {
	Type        string           `json:"type"`
	Interaction []capInteraction `json:"interaction"`
	Versioning  string           `json:"versioning,omitempty"`
	ReadHistory bool             `json:"readHistory,omitempty"`
	SearchParam []capSearchParam `json:"searchParam,omitempty"`
	Operation   []capOperation   `json:"operation,omitempty"`
}

type capInteraction struct {
	Code          string `json:"code"`
	Documentation string `json:"documentation,omitempty"`
}

type capSearchParam struct {
	Name          string `json:"name"`
	Type          string `json:"type"`
	Documentation string `json:"documentation,omitempty"`
}

type capOperation struct {
	Name       string `json:"name"`
	Definition string `json:"definition"`
}

// mhdActors are the IHE MHD actor capability statements this server implements: it receives
// ITI-65 and answers ITI-67 and ITI-68.
var mhdActors = []string{
	"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentRecipient",
	"https://profiles.ihe.net/ITI/MHD/CapabilityStatement/IHE.MHD.DocumentResponder",
}

// capabilities builds the CapabilityStatement from resourceTypes.
func capabilities(now time.Time) CapabilityStatement {
	cs := CapabilityStatement{
		ResourceType: "CapabilityStatement", Status: "active", Date: now.UTC().Format(time.RFC3339),
		Publisher: "CareLedger", Kind: "instance", Instantiates: mhdActors,
		Software:    capSoftware{Name: "CareLedger"},
		FHIRVersion: "4.0.1", Format: []string{"application/fhir+json", "json"},
		Implementation: &capImplementing{Description: "CareLedger: patient-controlled health records; every read decided by the ledger and audited"},
	}
	rest := capRest{
		Mode: "server",
		Documentation: "Ids are CareLedger record IDs, versionIds ledger version numbers; a Patient's id is the patient's pseudonym. " +
			"Searches return only what the ledger releases to the caller and carry no total; page with the next link.",
		Security: capSecurity{
			Service:     []CodeableConcept{{Coding: []Coding{{System: "http://terminology.hl7.org/CodeSystem/restful-security-service", Code: "Certificates"}}}},
			Description: "Mutual TLS with a certificate issued by a consortium organisation's CA; the certificate is the caller's ledger identity.",
		},
		Interaction: []capInteraction{{Code: "transaction", Documentation: "a transaction Bundle of one patient's records (POST entries), stored all or nothing; IHE MHD ITI-65"}},
	}
	for _, t := range resourceTypes {
		res := capResource{Type: t.name}
		if t.read {
			res.Interaction = append(res.Interaction, capInteraction{Code: "read"})
			if t.categories != nil {
				res.Interaction = append(res.Interaction, capInteraction{Code: "vread"}, capInteraction{Code: "history-instance"})
				res.Versioning, res.ReadHistory = "versioned", true
			}
		}
		if t.updatable() {
			res.Interaction = append(res.Interaction, capInteraction{Code: "update", Documentation: "appends the record's next ledger version; If-Match W/\"n\" is honoured; no create by update"})
		}
		if t.search {
			res.Interaction = append(res.Interaction, capInteraction{Code: "search-type"})
			for _, p := range t.params {
				res.SearchParam = append(res.SearchParam, capSearchParam{Name: p.name, Type: string(p.kind), Documentation: p.doc})
			}
			res.SearchParam = append(res.SearchParam, capSearchParam{Name: "_count", Type: "number", Documentation: "page size, 1 to 200 (default 50)"})
		}
		if t.create {
			res.Interaction = append(res.Interaction, capInteraction{Code: "create", Documentation: "answers 202 with a proposal for the patient to sign (offline signing), not a stored resource"})
		}
		if t.name == "Patient" {
			res.Operation = []capOperation{{Name: "everything", Definition: "http://hl7.org/fhir/OperationDefinition/Patient-everything"}}
		}
		rest.Resource = append(rest.Resource, res)
	}
	cs.Rest = []capRest{rest}
	return cs
}

// metadata serves the CapabilityStatement; it needs no certificate, as FHIR clients read it
// before they authenticate.
func (h *handler) metadata(w http.ResponseWriter, r *http.Request) {
	if responseType(r) == "" {
		h.fail(w, r, errNotAcceptable)
		return
	}
	writeResource(w, r, http.StatusOK, capabilities(h.now()))
}
