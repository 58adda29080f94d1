package fhir

import (
	"errors"
	"net/http"
	"regexp"
	"strconv"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	r4 "github.com/careledger/careledger/gateway/fhir"
)

// errPrecondition: If-Match named a version that is not the latest.
var errPrecondition = &fhirError{http.StatusPreconditionFailed, "conflict", "If-Match does not name the latest version; read the resource again", nil}

// ifMatchPattern reads If-Match: W/"3" (or "3"); 0 when absent.
var ifMatchPattern = regexp.MustCompile(`^(W/)?"([1-9][0-9]{0,9})"$`)

// update serves PUT /fhir/{type}/{id}: the resource becomes the record's next ledger
// version, appended by the caller (the patient, or a clinician with an append grant). The
// resource must stay in the record's category, since grants are given by category. With
// If-Match, the update applies only on top of that version: 412 when it is no longer the
// latest, 409 when another version lands while this one is written. Creating a record with
// PUT is not supported.
func (h *handler) update(w http.ResponseWriter, r *http.Request) {
	t, id, err := target(r)
	if err == nil && !t.updatable() {
		err = errMethod
	}
	if err == nil {
		err = noParams(r)
	}
	want := 0
	if err == nil && r.Header.Get("If-Match") != "" {
		m := ifMatchPattern.FindStringSubmatch(r.Header.Get("If-Match"))
		if m == nil {
			err = badRequest("", `If-Match must be a version ETag such as W/"3"`)
		} else {
			want, _ = strconv.Atoi(m[2])
		}
	}
	var body []byte
	if err == nil {
		body, err = readBody(w, r, r4.MaxResourceBytes)
	}
	var res *r4.Resource
	if err == nil {
		res, err = checkUpdate(t, id, body)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, m := r.Context(), memberFrom(r.Context())
	recordID := id
	if t.name == "Patient" {
		p, err := h.patientRecord(ctx, m, id)
		if err != nil || p == nil {
			h.fail(w, r, notAccessible(t.name, id))
			return
		}
		recordID = p.Record.ID
	}
	rec, err := m.Ledger.GetRecord(ctx, recordID)
	switch {
	case err != nil && hidden(err):
		err = notAccessible(t.name, id)
	case err != nil:
	case rec.Category != res.Category:
		err = unprocessable(t.name, "belongs in the category %s, but this record is filed under %s: a record keeps its category, because grants are given by category", res.Category, rec.Category)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	content := gateway.Content{MediaType: r4.MediaType, Data: body}
	out, err := h.cfg.Service.AppendVersionAt(ctx, m.Ledger, recordID, want, content)
	if errors.Is(err, gateway.ErrStaleVersion) {
		err = errPrecondition
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	s, err := serve(&gateway.Release{Record: *out, Version: model.Version{RecordID: out.ID, Number: out.Versions, Hash: out.LatestHash, CreatedAt: out.UpdatedAt}, Content: content})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	setVersionHeaders(w, s)
	w.Header().Set("Location", base(r)+"/"+s.Type+"/"+s.ID+"/_history/"+strconv.Itoa(out.Versions))
	writeResource(w, r, http.StatusOK, s)
}

// checkUpdate validates the body of an update of t/id: a valid resource of type t whose id,
// if it has one, is id.
func checkUpdate(t *resourceType, id string, body []byte) (*r4.Resource, error) {
	res, err := r4.Validate(body)
	if err != nil {
		return nil, errors.Join(gateway.ErrInvalidContent, err)
	}
	if res.Type != t.name {
		return nil, unprocessable(res.Type, "is not a %s: an update keeps the resource type", t.name)
	}
	if res.ID != "" && res.ID != id {
		return nil, badRequest(t.name+".id", "%s.id must be the id in the URL", t.name)
	}
	return res, nil
}
