package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/stretchr/testify/require"
)

const labResult = `{"resourceType":"Observation","status":"final","code":{"text":"Haemoglobin"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`

// TestPatientGrantsClinicianReadsThenRevokes walks the main user story over HTTPS with the
// users' own certificates: the patient grants a clinician read on lab for 30 days (signed on
// the patient's device), the clinician reads the history, the patient sees the access in the
// audit trail, revokes, and the clinician is refused.
func TestPatientGrantsClinicianReadsThenRevokes(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient, clinician := e.client(t, e.patient), e.client(t, e.clinician)

	me, err := patient.Me(ctx)
	require.NoError(t, err)
	require.Equal(t, model.RolePatient, me.Role)
	require.NotEmpty(t, me.Via, "the API acts through the organisation's gateway")
	doc, err := clinician.Me(ctx)
	require.NoError(t, err)

	rec, err := patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	require.Equal(t, "lab", rec.Category)
	require.Equal(t, me.ID, rec.Owner)
	note, err := patient.Upload(ctx, client.Upload{Category: "note", MediaType: "application/pdf", Data: []byte("%PDF-1.7 discharge letter")})
	require.NoError(t, err)

	_, err = clinician.Content(ctx, rec.ID, 0, "TREAT")
	apiError(t, err, http.StatusForbidden, "NO_GRANT")

	until := time.Now().Add(30 * 24 * time.Hour)
	g, receipt, err := patient.Grant(ctx, model.GrantRequest{
		Grantee: model.Grantee{ID: doc.ID}, Actions: []string{model.ActionRead},
		Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: &until,
	})
	require.NoError(t, err)
	require.Equal(t, "VALID", receipt.Status)
	require.Equal(t, g.TxID, receipt.TransactionID)
	require.Equal(t, model.GrantActive, g.Status)
	require.Empty(t, g.Via, "the grant was signed by the patient, not a gateway")
	require.Equal(t, me.ID, g.GrantedBy.ID)

	// The clinician sees the grant and reads the patient's whole lab history.
	toMe, err := clinician.GrantsToMe(ctx, true, client.Page{})
	require.NoError(t, err)
	require.Len(t, toMe.Grants, 1)
	list, err := clinician.PatientRecords(ctx, me.ID, "", client.Page{})
	require.NoError(t, err)
	require.Len(t, list.Records, 1, "the note is not granted")
	hist, err := clinician.PatientContent(ctx, me.ID, "", "TREAT", client.Page{})
	require.NoError(t, err)
	require.Len(t, hist.Releases, 1)
	require.JSONEq(t, labResult, string(hist.Releases[0].Resource))
	require.Equal(t, g.ID, hist.Releases[0].GrantID)
	content, err := clinician.Content(ctx, rec.ID, 0, "TREAT")
	require.NoError(t, err)
	require.Equal(t, fhir.MediaType, content.MediaType)
	require.JSONEq(t, labResult, string(content.Data))
	require.Equal(t, model.BasisGrant, content.Basis)
	_, err = clinician.Content(ctx, note.ID, 0, "TREAT")
	apiError(t, err, http.StatusForbidden, "NO_GRANT")

	// The patient sees both reads in the audit trail, attributed to the clinician, after the
	// refused attempt before the grant (the one on the note came within the same window).
	for i, entry := range e.auditTrail(t, patient, 3) {
		require.Equal(t, doc.ID, entry.Accessor.ID)
		if i == 0 {
			require.Equal(t, model.BasisRefused, entry.Basis)
			require.Equal(t, model.DenyNoGrant, entry.Reason)
			require.Equal(t, rec.ID, entry.RecordID)
			continue
		}
		require.Equal(t, g.ID, entry.GrantID)
		require.Equal(t, rec.ID, entry.RecordID)
		require.Equal(t, "TREAT", entry.Purpose)
	}

	// The grant as FHIR Consent, while active.
	raw, err := patient.GrantConsent(ctx, g.ID)
	require.NoError(t, err)
	res, err := fhir.Validate(raw)
	require.NoError(t, err)
	require.Equal(t, "Consent", res.Type)
	var consent struct {
		Status    string `json:"status"`
		Provision struct {
			Actor []struct {
				Reference struct {
					Identifier struct{ Value string } `json:"identifier"`
				} `json:"reference"`
			} `json:"actor"`
			Purpose []struct{ Code string } `json:"purpose"`
			Code    []struct {
				Coding []struct{ Code string } `json:"coding"`
			} `json:"code"`
		} `json:"provision"`
	}
	require.NoError(t, json.Unmarshal(raw, &consent))
	require.Equal(t, "active", consent.Status)
	require.Equal(t, doc.ID, consent.Provision.Actor[0].Reference.Identifier.Value)
	require.Equal(t, "TREAT", consent.Provision.Purpose[0].Code)
	require.Equal(t, "lab", consent.Provision.Code[0].Coding[0].Code)

	// Revoke, signed on the patient's device; the next read is refused.
	revoked, _, err := patient.RevokeGrant(ctx, g.ID)
	require.NoError(t, err)
	require.Equal(t, model.GrantRevoked, revoked.Status)
	_, err = clinician.Content(ctx, rec.ID, 0, "TREAT")
	apiError(t, err, http.StatusForbidden, "GRANT_REVOKED")
	hist, err = clinician.PatientContent(ctx, me.ID, "", "TREAT", client.Page{})
	require.NoError(t, err)
	require.Empty(t, hist.Releases, "after the revoke the ledger lists nothing readable")

	bundle, err := patient.Consents(ctx, "", false, client.Page{})
	require.NoError(t, err)
	res, err = fhir.Validate(bundle)
	require.NoError(t, err)
	require.Equal(t, "Bundle", res.Type)
	require.Contains(t, string(bundle), `"status":"inactive"`)

	// The patient still reads their own record; every version's hash verifies.
	own, err := patient.Content(ctx, rec.ID, 0, "")
	require.NoError(t, err)
	require.Equal(t, model.BasisOwner, own.Basis)
	ver, err := patient.Verify(ctx, rec.ID, own.Hash)
	require.NoError(t, err)
	require.True(t, ver.Valid)
	require.True(t, ver.Latest)

	// Logs carry request IDs and routes, never pseudonyms, certificates or content.
	logs := e.logs.String()
	require.Contains(t, logs, `"request_id"`)
	require.Contains(t, logs, `"route":"/v1/records/{recordID}/content"`)
	for _, secret := range []string{me.ID, doc.ID, "Haemoglobin", "discharge letter", "BEGIN CERTIFICATE", e.patient.EnrollmentID} {
		require.NotContains(t, logs, secret)
	}
}

// TestClinicianAppendsAndUsesEmergencyAccess covers record versions, break-glass access and
// the history endpoints.
func TestClinicianAppendsAndUsesEmergencyAccess(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient, clinician := e.client(t, e.patient), e.client(t, e.clinician)
	me, err := patient.Me(ctx)
	require.NoError(t, err)
	doc, err := clinician.Me(ctx)
	require.NoError(t, err)

	_, _, err = patient.Grant(ctx, model.GrantRequest{
		Grantee: model.Grantee{MSP: e.clinician.MSPID}, Actions: []string{model.ActionRead, model.ActionAppend},
		Categories: []string{"lab"}, Purpose: "CAREMGT",
	})
	require.NoError(t, err)
	rec, err := clinician.Upload(ctx, client.Upload{Owner: me.ID, MediaType: client.FHIRMediaType, Data: []byte(labResult)})
	require.NoError(t, err)
	require.Equal(t, doc.ID, rec.CreatedBy.ID)
	v2 := strings.Replace(labResult, "13.2", "12.9", 1)
	up, err := clinician.AppendVersion(ctx, rec.ID, client.FHIRMediaType, []byte(v2))
	require.NoError(t, err)
	require.Equal(t, 2, up.Versions)
	versions, err := patient.Versions(ctx, rec.ID)
	require.NoError(t, err)
	require.Len(t, versions.Versions, 2)
	require.Equal(t, versions.Versions[0].Hash, versions.Versions[1].PrevHash)
	old, err := patient.Content(ctx, rec.ID, 1, "")
	require.NoError(t, err)
	require.JSONEq(t, labResult, string(old.Data))
	_, err = patient.Content(ctx, rec.ID, 3, "")
	apiError(t, err, http.StatusNotFound, "NOT_FOUND")
	hist, err := clinician.PatientHistory(ctx, me.ID, "lab", client.Page{})
	require.NoError(t, err)
	require.Len(t, hist.Records, 1)
	require.Len(t, hist.Records[0].Versions, 2)

	// A stale append (someone else appended first) is a conflict on the ledger, not a fork.
	meta, err := patient.Record(ctx, rec.ID)
	require.NoError(t, err)
	require.Equal(t, up.LatestHash, meta.LatestHash)

	// Break-glass on a category that was never granted.
	scan, err := patient.Upload(ctx, client.Upload{Category: "imaging", MediaType: "application/dicom", Data: []byte("DICM scan")})
	require.NoError(t, err)
	_, err = clinician.Content(ctx, scan.ID, 0, "")
	apiError(t, err, http.StatusForbidden, "NO_GRANT")
	em, err := clinician.EmergencyAccess(ctx, model.EmergencyRequest{Patient: me.ID, Reason: "patient-unconscious", DurationMinutes: 30})
	require.NoError(t, err)
	require.True(t, em.Emergency)
	doc2, err := clinician.Content(ctx, scan.ID, 0, "ETREAT")
	require.NoError(t, err)
	require.Equal(t, model.BasisEmergency, doc2.Basis)
	require.Equal(t, "application/dicom", doc2.MediaType)
	grants, err := patient.Grants(ctx, "", true, client.Page{})
	require.NoError(t, err)
	require.Len(t, grants.Grants, 2, "the patient sees the emergency access among their grants")
}

// TestDocumentsAreServedAsAttachments checks that uploaded documents can never render as
// active content in a browser.
func TestDocumentsAreServedAsAttachments(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	patient := e.client(t, e.patient)
	rec, err := patient.Upload(ctx, client.Upload{Category: "document", MediaType: "text/html", Data: []byte("<script>alert(1)</script>")})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+"/v1/records/"+rec.ID+"/content", nil)
	require.NoError(t, err)
	resp, err := e.rawHTTP(tlsCert(e.patient)).Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "text/html", resp.Header.Get("Content-Type"))
	require.Contains(t, resp.Header.Get("Content-Disposition"), "attachment")
	require.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	require.Contains(t, resp.Header.Get("Cache-Control"), "no-cache")
}
