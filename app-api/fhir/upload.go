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

// bundleIn is what an upload reads of a Bundle before validating its entries one by one.
type bundleIn struct {
	ResourceType string `json:"resourceType"`
	Type         string `json:"type"`
	Entry        []struct {
		FullURL  string          `json:"fullUrl"`
		Resource json.RawMessage `json:"resource"`
		Request  *struct {
			Method string `json:"method"`
			URL    string `json:"url"`
		} `json:"request"`
	} `json:"entry"`
}

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

// splitBundle validates an uploaded Bundle and splits it into records. transactionOnly
// refuses collections (POST /fhir takes transactions; /v1/records takes both).
func splitBundle(data []byte, owner string, transactionOnly bool) (*split, error) {
	var in bundleIn
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&in); err != nil || in.ResourceType != "Bundle" {
		return nil, unprocessable("Bundle", "the body must be a FHIR Bundle")
	}
	switch {
	case in.Type == "transaction":
	case in.Type == "collection" && !transactionOnly:
	default:
		want := "transaction or collection"
		if transactionOnly {
			want = "transaction"
		}
		return nil, unprocessable("Bundle.type", "%s is not accepted here: send a %s Bundle", strconv.Quote(in.Type), want)
	}
	if len(in.Entry) == 0 {
		return nil, unprocessable("Bundle.entry", "is empty: there is nothing to store")
	}
	if len(in.Entry) > gateway.MaxBatch {
		return nil, unprocessable("Bundle.entry", "has %d entries; at most %d are stored in one request", len(in.Entry), gateway.MaxBatch)
	}
	sp := &split{owner: owner}
	res := make([]*r4.Resource, len(in.Entry))
	fullURLs := map[string]int{}
	patientEntry := -1
	for i, e := range in.Entry {
		at := fmt.Sprintf("Bundle.entry[%d]", i)
		if len(e.Resource) == 0 {
			return nil, unprocessable(at+".resource", "is required: every entry is stored as a record")
		}
		rt, err := r4.Validate(e.Resource)
		if err != nil {
			return nil, atEntry(i, "", err)
		}
		if rt.Type == "Bundle" {
			return nil, unprocessable(at+".resource.Bundle", "a Bundle inside a Bundle is not accepted: send its entries")
		}
		res[i] = rt
		switch {
		case in.Type == "transaction" && e.Request == nil:
			return nil, unprocessable(at+".request", "is required in a transaction")
		case in.Type != "transaction" && e.Request != nil:
			return nil, unprocessable(at+".request", "is only allowed in a transaction")
		case e.Request != nil && e.Request.Method != "POST":
			return nil, unprocessable(at+".request.method", "%s is not supported: a transaction here creates records (POST)", strconv.Quote(e.Request.Method))
		case e.Request != nil && strings.TrimSuffix(strings.SplitN(e.Request.URL, "?", 2)[0], "/") != rt.Type:
			return nil, unprocessable(at+".request.url", "must be %s, the entry's resource type", rt.Type)
		}
		if e.FullURL != "" {
			if j, dup := fullURLs[e.FullURL]; dup {
				return nil, unprocessable(at+".fullUrl", "repeats the fullUrl of Bundle.entry[%d]", j)
			}
			fullURLs[e.FullURL] = i
		}
		if rt.Type == "Patient" {
			if patientEntry >= 0 {
				return nil, unprocessable(at+".resource.Patient", "is a second patient: a Bundle holds one patient's records")
			}
			patientEntry = i
		}
	}
	names, err := sp.patientNames(in, res, patientEntry)
	if err != nil {
		return nil, err
	}
	// Every entry gets its id; references to entries are rewritten to them.
	refs := map[string]string{}
	for name := range names {
		refs[name] = "Patient/" + sp.owner
	}
	sp.types, sp.ids = make([]string, len(in.Entry)), make([]string, len(in.Entry))
	recordIDs := make([]string, len(in.Entry))
	for i, e := range in.Entry {
		recordIDs[i] = uuid.NewString()
		sp.types[i], sp.ids[i] = res[i].Type, recordIDs[i]
		if i == patientEntry {
			sp.ids[i] = sp.owner
		}
		to := sp.types[i] + "/" + sp.ids[i]
		if e.FullURL != "" {
			refs[e.FullURL] = to
		}
		if res[i].ID != "" && i != patientEntry {
			refs[res[i].Type+"/"+res[i].ID] = to
		}
	}
	for i, e := range in.Entry {
		item, err := record(e.Resource, res[i], sp.ids[i], refs)
		if err != nil {
			return nil, atEntry(i, res[i].Type, err)
		}
		item.RecordID = recordIDs[i]
		sp.records = append(sp.records, item)
	}
	return sp, nil
}

// patientNames checks that every entry is about one patient, settles sp.owner, and returns
// the references that name the patient in this Bundle.
func (sp *split) patientNames(in bundleIn, res []*r4.Resource, patientEntry int) (map[string]bool, error) {
	names := map[string]bool{}
	if patientEntry >= 0 {
		if u := in.Entry[patientEntry].FullURL; u != "" {
			names[u] = true
		}
		if id := res[patientEntry].ID; id != "" {
			names["Patient/"+id] = true
			if model.ValidPseudonym(id) && sp.owner == "" {
				sp.owner = id
			}
		}
		if id := pseudonymIdentifier(in.Entry[patientEntry].Resource); id != "" {
			if sp.owner != "" && sp.owner != id {
				return nil, unprocessable(fmt.Sprintf("Bundle.entry[%d].resource.Patient.identifier", patientEntry), "names another patient than the one the Bundle is stored for")
			}
			sp.owner = id
		}
	}
	if sp.owner == "" {
		for _, r := range res {
			if id, ok := pseudonymRef(r.Subject); ok {
				sp.owner = id
				break
			}
		}
	}
	if sp.owner == "" {
		return nil, unprocessable("Bundle.entry", "does not say whose records these are: refer to the patient as Patient/{pseudonym}, or give the Patient entry an identifier with system %s", SystemPseudonym)
	}
	names["Patient/"+sp.owner] = true
	alias := ""
	for i, r := range res {
		if r.Subject == "" {
			continue
		}
		elem := fmt.Sprintf("Bundle.entry[%d].resource.%s.subject", i, r.Type)
		if id, ok := pseudonymRef(r.Subject); ok && id != sp.owner {
			return nil, unprocessable(elem, "refers to another patient: a Bundle holds one patient's records")
		}
		ref := normalizeRef(r.Subject)
		switch {
		case names[r.Subject] || names[ref]:
		case !strings.HasPrefix(ref, "urn:") && !strings.HasPrefix(ref, "Patient/"):
			return nil, unprocessable(elem, "must refer to the patient: every entry is about the Bundle's patient")
		case patientEntry < 0 && (alias == "" || alias == ref):
			// No Patient entry: the sender's own name for the patient, the same throughout.
			alias = ref
			names[r.Subject], names[ref] = true, true
		default:
			return nil, unprocessable(elem, "refers to a patient other than the Bundle's")
		}
	}
	return names, nil
}

func pseudonymRef(ref string) (string, bool) {
	ref = normalizeRef(ref)
	id, ok := strings.CutPrefix(ref, "Patient/")
	return id, ok && model.ValidPseudonym(id)
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
