package fhir

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	r4 "github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/google/uuid"
)

// MaxBundleBytes bounds an uploaded Bundle: its entries, documents included, are stored in
// one request.
const MaxBundleBytes = 16 << 20

// split is an uploaded Bundle made ready to store: the patient it is about and one record per
// entry, with references between entries rewritten to the ids CareLedger assigns.
type split struct {
	owner   string
	types   []string
	ids     []string // FHIR ids (a Patient's is the pseudonym)
	records []gateway.BatchItem
}

// IsBundle reports whether FHIR JSON content is a Bundle that an upload splits into records
// (a collection or a transaction); other Bundles, such as a FHIR document, are one record.
func IsBundle(data []byte) bool {
	var b struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
	}
	return json.Unmarshal(data, &b) == nil && b.ResourceType == "Bundle" && (b.Type == "collection" || b.Type == "transaction")
}

// StoreBundle stores a collection or transaction Bundle of one patient's records, each entry
// its own record, all or nothing (one RegisterRecords transaction). owner is the patient's
// pseudonym; "" takes it from the Bundle (a Patient/{pseudonym} reference, or the Patient
// entry's identifier with system urn:careledger:pseudonym). Errors name the element at
// fault (Bundle.entry[2].resource.Observation.status) and match gateway.ErrInvalidContent;
// nothing is stored when one is returned.
func StoreBundle(ctx context.Context, svc *gateway.Service, as *ledger.Client, owner string, data []byte) ([]model.Record, error) {
	sp, err := splitBundle(data, owner, false)
	if err != nil {
		return nil, err
	}
	return store(ctx, svc, as, sp)
}

func store(ctx context.Context, svc *gateway.Service, as *ledger.Client, sp *split) ([]model.Record, error) {
	recs, err := svc.UploadBatch(ctx, as, sp.owner, sp.records)
	for _, it := range sp.records {
		clear(it.Data)
	}
	var be *gateway.BatchError
	if errors.As(err, &be) && errors.Is(err, gateway.ErrInvalidContent) {
		return nil, atEntry(be.Index, sp.types[be.Index], be.Err)
	}
	return recs, err
}

// transaction serves POST /fhir with a transaction Bundle (IHE MHD ITI-65, Provide Document
// Bundle, is one: a SubmissionSet List, DocumentReferences and their Binaries).
func (h *handler) transaction(w http.ResponseWriter, r *http.Request) {
	err := noParams(r)
	var data []byte
	if err == nil {
		data, err = readBody(w, r, MaxBundleBytes)
	}
	m := memberFrom(r.Context())
	var sp *split
	if err == nil {
		owner := ""
		if m.Role == model.RolePatient {
			owner = m.Pseudonym
		}
		sp, err = splitBundle(data, owner, true)
	}
	var recs []model.Record
	if err == nil {
		recs, err = store(r.Context(), h.cfg.Service, m.Ledger, sp)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	b := newBundle("transaction-response", h.now())
	for i, rec := range recs {
		b.Entry = append(b.Entry, Entry{Response: &EntryResponse{
			Status:       "201 Created",
			Location:     sp.types[i] + "/" + sp.ids[i] + "/_history/1",
			Etag:         `W/"1"`,
			LastModified: lastUpdated(rec.CreatedAt),
		}})
	}
	writeResource(w, r, http.StatusOK, b)
}

// atEntry names entry i in a validation error about its resource.
func atEntry(i int, typ string, err error) error {
	prefix := fmt.Sprintf("Bundle.entry[%d].resource", i)
	var out []error
	for _, is := range validationIssues(err) {
		path := prefix
		if len(is.Expression) > 0 {
			path += "." + is.Expression[0]
		} else if typ != "" {
			path += "." + typ
		}
		msg := is.Diagnostics
		if len(is.Expression) > 0 {
			msg = strings.TrimPrefix(msg, is.Expression[0]+": ")
		}
		out = append(out, &r4.ValidationError{Path: path, Message: msg})
	}
	return errors.Join(append([]error{gateway.ErrInvalidContent}, out...)...)
}

// splitBundle validates an uploaded Bundle with gateway/fhir's ParseBundle, the one set of
// Bundle rules (entry resources, requests, fullUrls, one patient), and splits it into
// records. transactionOnly refuses collections (POST /fhir takes transactions; /v1/records
// takes both).
func splitBundle(data []byte, owner string, transactionOnly bool) (*split, error) {
	var head struct {
		ResourceType string `json:"resourceType"`
		Type         string `json:"type"`
	}
	if json.Unmarshal(data, &head) != nil || head.ResourceType != "Bundle" {
		return nil, unprocessable("Bundle", "the body must be a FHIR Bundle")
	}
	if head.Type != "transaction" && transactionOnly {
		return nil, unprocessable("Bundle.type", "%s is not accepted here: send a transaction Bundle", strconv.Quote(head.Type))
	}
	in, err := r4.ParseBundle(data)
	if err != nil {
		return nil, errors.Join(gateway.ErrInvalidContent, err)
	}
	if len(in.Entries) > gateway.MaxBatch {
		return nil, unprocessable("Bundle.entry", "has %d entries; at most %d are stored in one request", len(in.Entries), gateway.MaxBatch)
	}
	patientEntry := -1
	for i, e := range in.Entries {
		if e.Request != nil && e.Request.Method != "POST" {
			// ParseBundle also takes PUT; here a transaction only creates records.
			return nil, unprocessable(fmt.Sprintf("Bundle.entry[%d].request.method", i), "%s is not supported: a transaction here creates records (POST)", strconv.Quote(e.Request.Method))
		}
		if e.Resource.Type == "Patient" {
			patientEntry = i
		}
	}
	sp := &split{owner: owner}
	if err := sp.settleOwner(in, patientEntry); err != nil {
		return nil, err
	}
	// Every entry gets its id; references to entries, and every name the Bundle gives its
	// patient, are rewritten to them.
	refs := map[string]string{"Patient/" + sp.owner: "Patient/" + sp.owner}
	if in.Patient != "" {
		refs[in.Patient] = "Patient/" + sp.owner
		refs[normalizeRef(in.Patient)] = "Patient/" + sp.owner
	}
	sp.types, sp.ids = make([]string, len(in.Entries)), make([]string, len(in.Entries))
	recordIDs := make([]string, len(in.Entries))
	for i, e := range in.Entries {
		recordIDs[i] = uuid.NewString()
		sp.types[i], sp.ids[i] = e.Resource.Type, recordIDs[i]
		if i == patientEntry {
			sp.ids[i] = sp.owner
		}
		to := sp.types[i] + "/" + sp.ids[i]
		if e.FullURL != "" {
			refs[e.FullURL] = to
		}
		if e.Resource.ID != "" {
			refs[e.Resource.Type+"/"+e.Resource.ID] = to
		}
	}
	for i, e := range in.Entries {
		item, err := record(e.Data, e.Resource, sp.ids[i], refs)
		if err != nil {
			return nil, atEntry(i, e.Resource.Type, err)
		}
		item.RecordID = recordIDs[i]
		sp.records = append(sp.records, item)
	}
	return sp, nil
}

// settleOwner settles whose records the Bundle holds: the calling patient, else the
// pseudonym the Bundle names (the Patient entry's id or its identifier with system
// urn:careledger:pseudonym, or the Patient/{pseudonym} reference all entries share).
// ParseBundle has checked that every entry is about one patient; here that patient must be
// the owner, and a pseudonym the Bundle names must be the owner's.
func (sp *split) settleOwner(in *r4.Bundle, patientEntry int) error {
	named := ""
	if model.ValidPseudonym(in.PatientID) {
		named = in.PatientID
	}
	if patientEntry >= 0 {
		if id := pseudonymIdentifier(in.Entries[patientEntry].Data); id != "" {
			if named != "" && named != id {
				return unprocessable(fmt.Sprintf("Bundle.entry[%d].resource.Patient.identifier", patientEntry), "names another patient than the Patient's id")
			}
			named = id
		}
	}
	switch {
	case sp.owner == "":
		sp.owner = named
	case named != "" && named != sp.owner:
		return unprocessable(patientElement(in, patientEntry), "refers to another patient: a Bundle holds one patient's records, and these are stored for you")
	}
	if sp.owner == "" {
		return unprocessable("Bundle.entry", "does not say whose records these are: refer to the patient as Patient/{pseudonym}, or give the Patient entry an identifier with system %s", SystemPseudonym)
	}
	return nil
}

// patientElement names the element that names the Bundle's patient: the Patient entry, or
// the first entry's subject.
func patientElement(in *r4.Bundle, patientEntry int) string {
	if patientEntry >= 0 {
		return fmt.Sprintf("Bundle.entry[%d].resource.Patient", patientEntry)
	}
	for i, e := range in.Entries {
		if e.Resource.Subject == "" {
			continue
		}
		var elems map[string]json.RawMessage
		_ = json.Unmarshal(e.Data, &elems)
		elem := "subject"
		if _, ok := elems[elem]; !ok {
			elem = "patient"
		}
		return fmt.Sprintf("Bundle.entry[%d].resource.%s.%s", i, e.Resource.Type, elem)
	}
	return "Bundle.entry"
}

// normalizeRef reduces an absolute reference to its Type/id tail; urn: references stay.
func normalizeRef(ref string) string {
	if strings.HasPrefix(ref, "urn:") {
		return ref
	}
	ref, _, _ = strings.Cut(ref, "/_history/")
	parts := strings.Split(strings.TrimSuffix(ref, "/"), "/")
	if len(parts) >= 2 {
		return parts[len(parts)-2] + "/" + parts[len(parts)-1]
	}
	return ref
}

// pseudonymIdentifier returns a Patient's CareLedger pseudonym identifier, if it has one.
func pseudonymIdentifier(data []byte) string {
	var p struct {
		Identifier []Identifier `json:"identifier"`
	}
	_ = json.Unmarshal(data, &p)
	for _, id := range p.Identifier {
		if id.System == SystemPseudonym && model.ValidPseudonym(id.Value) {
			return id.Value
		}
	}
	return ""
}

// record turns one entry into the record to store: a Binary becomes the document it carries,
// anything else its FHIR JSON with id and references rewritten.
func record(data []byte, res *r4.Resource, id string, refs map[string]string) (gateway.BatchItem, error) {
	if res.Type == "Binary" {
		var b struct {
			ContentType string `json:"contentType"`
			Data        string `json:"data"`
		}
		_ = json.Unmarshal(data, &b)
		doc, err := base64.StdEncoding.DecodeString(b.Data)
		switch {
		case err != nil:
			return gateway.BatchItem{}, &r4.ValidationError{Path: "Binary.data", Message: "is not base64"}
		case len(doc) == 0:
			return gateway.BatchItem{}, &r4.ValidationError{Path: "Binary.data", Message: "is required: the document to store"}
		case !model.ValidMediaType(strings.ToLower(b.ContentType)):
			return gateway.BatchItem{}, &r4.ValidationError{Path: "Binary.contentType", Message: "must be a plain type/subtype"}
		}
		return gateway.BatchItem{Category: "document", Content: gateway.Content{MediaType: strings.ToLower(b.ContentType), Data: doc}}, nil
	}
	var v map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return gateway.BatchItem{}, &r4.ValidationError{Path: res.Type, Message: "is not a JSON object"}
	}
	rewrite(v, refs)
	v["id"] = id
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return gateway.BatchItem{}, err
	}
	return gateway.BatchItem{Content: gateway.Content{MediaType: r4.MediaType, Data: bytes.TrimSpace(out.Bytes())}}, nil
}

// rewrite replaces every reference (and attachment url) that names an entry of the Bundle
// with the id CareLedger gave it.
func rewrite(v any, refs map[string]string) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			if s, ok := val.(string); ok && (k == "reference" || k == "url") {
				if to, ok := refs[s]; ok {
					x[k] = to
				} else if to, ok := refs[normalizeRef(s)]; ok && k == "reference" {
					x[k] = to
				}
				continue
			}
			rewrite(val, refs)
		}
	case []any:
		for _, val := range x {
			rewrite(val, refs)
		}
	}
}
