// Package api is CareLedger's HTTP API for patient apps, clinician systems and manufacturer
// portals: versioned JSON resources under /v1, record content as FHIR R4 JSON or documents with
// their media type, grants exportable as FHIR Consent resources, and the offline-signing flow
// through which a patient's consent decisions are signed on the patient's own device.
//
// Callers authenticate with a TLS client certificate issued by a consortium CA: the certificate
// is their Fabric identity. Every request is then made on the ledger as that caller, through
// the policy enforcement point of the caller's own organisation (gateway.Service and a gateway
// identity acting for the member), so authorisation stays the ledger's decision and the API
// adds nothing that could widen it. Errors reach clients as JSON with a stable code, mapped to
// HTTP status in one function (see errors.go).
//
// The package takes every dependency in Config and never reads the environment or flags;
// cmd/careledger wires it.
package api
