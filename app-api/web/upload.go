package web

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
)

// maxUploadBytes bounds a file uploaded through the pages, form fields included.
const maxUploadBytes = 20 << 20

// documentTypes are the documents the pages accept, recognised by their content, never by
// what the browser says: a file's name and declared type are the uploader's word.
var documentTypes = []string{"application/pdf", "image/png", "image/jpeg"}

// limitBody bounds the request body before the form (and so the CSRF token) is read.
func limitBody(n int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, n)
		next.ServeHTTP(w, r)
	})
}

// fileContent tells what an uploaded file is: FHIR JSON when it parses as a FHIR resource
// (validated), else one of documentTypes by its first bytes.
func fileContent(data []byte) (gateway.Content, error) {
	if len(data) == 0 {
		return gateway.Content{}, badForm("the file is empty.")
	}
	if t := bytes.TrimLeft(data, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '{' {
		if _, err := fhir.Validate(data); err != nil {
			return gateway.Content{}, badForm("the file is not a valid FHIR record: %v", err)
		}
		return gateway.Content{MediaType: fhir.MediaType, Data: data}, nil
	}
	mt, _, _ := strings.Cut(http.DetectContentType(data), ";")
	if !slices.Contains(documentTypes, mt) {
		return gateway.Content{}, badForm("the file must be a FHIR record (JSON), a PDF, a PNG or a JPEG.")
	}
	return gateway.Content{MediaType: mt, Data: data}, nil
}

// uploadedFile reads the form's "file" field.
func uploadedFile(r *http.Request) (gateway.Content, error) {
	f, _, err := r.FormFile("file")
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return gateway.Content{}, badForm("the file is larger than %d MiB.", maxUploadBytes>>20)
	case errors.Is(err, http.ErrMissingFile), errors.Is(err, http.ErrNotMultipart):
		return gateway.Content{}, badForm("please choose a file.")
	case err != nil:
		return gateway.Content{}, badForm("the upload did not arrive whole; please try again.")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUploadBytes+1))
	if err != nil || len(data) > maxUploadBytes {
		return gateway.Content{}, badForm("the file is larger than %d MiB.", maxUploadBytes>>20)
	}
	return fileContent(data)
}

// cleanupForm removes a multipart form's temporary files.
func cleanupForm(r *http.Request) {
	if r.MultipartForm != nil {
		_ = r.MultipartForm.RemoveAll()
	}
}

// patientUpload adds a record the patient uploads, signed with the patient's own key.
func (s *server) patientUpload(w http.ResponseWriter, r *http.Request, v *viewer) {
	defer cleanupForm(r)
	if !v.CanSign {
		s.recordsPage(w, r, v, http.StatusForbidden, "Records you add must be signed with your own key. Please sign in with your wallet name and passphrase.")
		return
	}
	c, err := uploadedFile(r)
	cat := r.PostFormValue("category")
	if err == nil && cat != "" && !slices.Contains(model.Categories, cat) {
		err = badForm("unknown kind of record.")
	}
	if err == nil {
		_, err = s.cfg.Service.Upload(r.Context(), v.client, gateway.Upload{Owner: v.LedgerID, Category: cat, Content: c})
	}
	clear(c.Data)
	if err != nil {
		status, msg := s.explain(err)
		s.recordsPage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/patient/records?done=uploaded", http.StatusSeeOther)
}

// clinicianAddVersion adds a new version of a record the clinician may add to.
func (s *server) clinicianAddVersion(w http.ResponseWriter, r *http.Request, v *viewer) {
	defer cleanupForm(r)
	id := r.PathValue("recordID")
	pid := r.PostFormValue("patient")
	if !model.ValidID(id) || !model.ValidPseudonym(pid) {
		s.fail(w, r, v, http.StatusNotFound, "We could not find that.")
		return
	}
	c, err := uploadedFile(r)
	if err == nil {
		_, err = s.cfg.Service.AppendVersion(r.Context(), v.client, id, c)
	}
	clear(c.Data)
	if err != nil {
		r.SetPathValue("patientID", pid)
		status, msg := s.explain(err)
		s.patientPage(w, r, v, status, msg)
		return
	}
	http.Redirect(w, r, "/clinician/patients/"+pid+"?done=version", http.StatusSeeOther)
}
