package fhir

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	r4 "github.com/careledger/careledger/gateway/fhir"
)

// served is one record version as a FHIR resource: its JSON, ready to send, and what
// searches look at.
type served struct {
	Type    string
	ID      string
	Version model.Version
	Record  model.Record
	JSON    json.RawMessage
	// fields is the resource's top-level elements, for search matching.
	fields map[string]json.RawMessage
	// document is set for a Binary served from a document record.
	document *gateway.Content
}

// MarshalJSON sends the resource as it is.
func (s *served) MarshalJSON() ([]byte, error) { return s.JSON, nil }

// lastUpdated is an instant in FHIR's form.
func lastUpdated(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }

// serve turns a release into the FHIR resource it is: CareLedger's id (the pseudonym for a
// Patient), meta.versionId and meta.lastUpdated from the ledger, and the patient reference
// pointing at Patient/{pseudonym}. A document becomes a Binary.
func serve(rel *gateway.Release) (*served, error) {
	s := &served{ID: rel.Record.ID, Version: rel.Version, Record: rel.Record}
	fields := map[string]json.RawMessage{}
	if rel.MediaType != r4.MediaType {
		s.Type = "Binary"
		// The caller clears the release's plaintext; the document outlives it.
		s.document = &gateway.Content{MediaType: rel.MediaType, Data: bytes.Clone(rel.Data)}
		fields["contentType"], _ = json.Marshal(rel.MediaType)
		fields["data"], _ = json.Marshal(base64.StdEncoding.EncodeToString(rel.Data))
	} else {
		dec := json.NewDecoder(bytes.NewReader(rel.Data))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			return nil, errors.Join(gateway.ErrIntegrity, errors.New("stored FHIR content is not a JSON object"))
		}
		_ = json.Unmarshal(fields["resourceType"], &s.Type)
	}
	if s.Type == "Patient" {
		s.ID = rel.Record.Owner
	}
	meta := map[string]json.RawMessage{}
	_ = json.Unmarshal(fields["meta"], &meta)
	meta["versionId"], _ = json.Marshal(strconv.Itoa(rel.Version.Number))
	meta["lastUpdated"], _ = json.Marshal(lastUpdated(rel.Version.CreatedAt))
	fields["meta"], _ = json.Marshal(meta)
	fields["id"], _ = json.Marshal(s.ID)
	for _, elem := range []string{"subject", "patient"} {
		if raw, ok := fields[elem]; ok {
			fields[elem] = pointAtPatient(raw, rel.Record.Owner)
		}
	}
	delete(fields, "resourceType")
	s.fields = fields
	s.JSON = object(s.Type, fields)
	return s, nil
}

// pointAtPatient rewrites a subject or patient Reference to Patient/{owner}: the record's
// owner on the ledger is who it is about, whatever the sender called the patient.
func pointAtPatient(raw json.RawMessage, owner string) json.RawMessage {
	var ref map[string]json.RawMessage
	if json.Unmarshal(raw, &ref) != nil {
		return raw
	}
	var target string
	_ = json.Unmarshal(ref["reference"], &target)
	if target != "" && !strings.HasPrefix(target, "urn:") && !isPatientRef(target) {
		return raw // a Group or a Device, not the patient
	}
	ref["reference"], _ = json.Marshal("Patient/" + owner)
	out, _ := json.Marshal(ref)
	return out
}

func isPatientRef(ref string) bool {
	ref, _, _ = strings.Cut(ref, "/_history/")
	parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
	return len(parts) >= 2 && parts[len(parts)-2] == "Patient"
}

// object writes a resource with resourceType first and the other elements in name order.
func object(resourceType string, fields map[string]json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	b.WriteString(`{"resourceType":`)
	rt, _ := json.Marshal(resourceType)
	b.Write(rt)
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		b.WriteByte(',')
		kb, _ := json.Marshal(k)
		b.Write(kb)
		b.WriteByte(':')
		b.Write(fields[k])
	}
	b.WriteByte('}')
	return b.Bytes()
}
