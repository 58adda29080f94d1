package contract_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestAccessDecisionFollowsGrantScopeWindowAndRevocation(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "img-1", p.id(), "imaging")

	d := doc.decide("lab-1", "read", "")
	require.False(t, d.Allowed)
	require.Equal(t, model.DenyNoGrant, d.Reason)
	require.Empty(t, d.Owner, "a refused caller learns nothing about the record")

	g := w.grant(p, model.GrantRequest{
		ID: "g-30d", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"},
		Purpose: "TREAT", ValidUntil: ptr(w.now.Add(30 * 24 * time.Hour)),
	})
	require.Equal(t, model.GrantActive, g.Status)
	require.Equal(t, p.party(), g.GrantedBy)

	d = doc.decide("lab-1", "read", "")
	require.True(t, d.Allowed)
	require.Equal(t, model.BasisGrant, d.Basis)
	require.Equal(t, "g-30d", d.GrantID)
	require.Equal(t, p.id(), d.Owner)
	require.Equal(t, "TREAT", d.Purpose)

	require.False(t, doc.decide("img-1", "read", "").Allowed, "category scope")
	require.False(t, doc.decide("lab-1", "append", "").Allowed, "action scope")
	require.True(t, doc.decide("lab-1", "read", "TREAT").Allowed)
	require.False(t, doc.decide("lab-1", "read", "HRESCH").Allowed, "purpose binding")
	require.False(t, cs.colleague.decide("lab-1", "read", "").Allowed, "an identity grant names one person")
	require.True(t, p.decide("img-1", "append", "").Allowed, "owners may do anything with their records")
	require.Equal(t, model.BasisOwner, p.decide("img-1", "read", "").Basis)

	w.advance(30*24*time.Hour - time.Second)
	require.True(t, doc.decide("lab-1", "read", "").Allowed)
	w.advance(time.Second)
	d = doc.decide("lab-1", "read", "")
	require.False(t, d.Allowed, "the window is half-open: validUntil itself is outside it")
	require.Equal(t, model.DenyGrantExpired, d.Reason)

	w.grant(p, model.GrantRequest{ID: "g-later", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, RecordIDs: []string{"img-1"}, Purpose: "TREAT", ValidFrom: ptr(w.now.Add(time.Hour))})
	require.Equal(t, model.DenyGrantNotYetValid, doc.decide("img-1", "read", "").Reason)
	w.advance(time.Hour)
	require.True(t, doc.decide("img-1", "read", "").Allowed, "record-scoped grant")
	require.False(t, doc.decide("lab-1", "read", "").Allowed)

	revoked := decodeAs[model.Grant](t, p.mustSubmit("RevokeGrant", "g-later"))
	require.Equal(t, model.GrantRevoked, revoked.Status)
	require.Equal(t, p.id(), revoked.RevokedBy)
	require.NotEmpty(t, revoked.RevokedTxID)
	require.NotEqual(t, g.TxID, revoked.RevokedTxID, "the revocation has its own transaction")
	d = doc.decide("img-1", "read", "")
	require.False(t, d.Allowed, "a revoke takes effect for the next request")
	require.Equal(t, model.DenyGrantRevoked, d.Reason)
	_, err := p.submit("RevokeGrant", "g-later")
	requireCode(t, err, model.CodeConflict)

	events := w.ledger.Events()
	last := events[len(events)-1]
	require.Equal(t, model.EventGrantRevoked, last.Name)
	var ev model.Event
	require.NoError(t, json.Unmarshal(last.Payload, &ev))
	require.Equal(t, model.Event{Patient: p.id(), GrantID: "g-later", Grantee: &model.Grantee{ID: doc.id()}, Actor: p.id()}, ev)
}

func TestOrganisationGrantReachesThatOrganisationsCliniciansOnly(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g-org", Grantee: model.Grantee{MSP: "ClinicMSP"}, Actions: []string{"read", "append"}, Categories: []string{"lab", "note"}, Purpose: "TREAT"})

	require.True(t, cs.clinician.decide("lab-1", "read", "").Allowed)
	require.True(t, cs.colleague.decide("lab-1", "append", "").Allowed)
	require.True(t, cs.clinician.through(cs.gateway).decide("lab-1", "read", "").Allowed)
	require.False(t, cs.foreignClinician.decide("lab-1", "read", "").Allowed)
	clinicPatient := w.join("ClinicMSP", model.RolePatient)
	require.False(t, clinicPatient.decide("lab-1", "read", "").Allowed, "org grants are for clinicians")
	require.Equal(t, model.DenyRoleNotPermitted, cs.gateway.decide("lab-1", "read", "").Reason)
	require.Equal(t, model.DenyRoleNotPermitted, cs.noRole.decide("lab-1", "read", "").Reason)

	mine := decodeAs[model.GrantPage](t, cs.colleague.mustEvaluate("ListGrantsToMe", "true", "0", ""))
	require.Len(t, mine.Grants, 1)
	require.Equal(t, "g-org", mine.Grants[0].ID)
	_, err := cs.manufacturer.evaluate("ListGrantsToMe", "false", "0", "")
	requireCode(t, err, model.CodeForbidden)
}

func TestGrantListsAndPagingAcrossIdentityAndOrganisationGrants(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	doc := cs.clinician
	patients := []*member{cs.patient, cs.other, w.join("PatientsMSP", model.RolePatient)}
	n := 0
	for i, p := range patients {
		w.registerRecord(p, "r"+string(rune('0'+i)), p.id(), "lab")
		for j := 0; j < 3; j++ {
			n++
			grantee := model.Grantee{ID: doc.id()}
			if j == 2 {
				grantee = model.Grantee{MSP: "ClinicMSP"}
			}
			w.grant(p, model.GrantRequest{ID: "g" + string(rune('a'+n)), Grantee: grantee, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
		}
	}
	// Revoke one identity grant and one organisation grant: they move to the revoked index,
	// which listings still page through unless asked for active grants only.
	cs.patient.mustSubmit("RevokeGrant", "gb")
	cs.other.mustSubmit("RevokeGrant", "gg")
	for _, size := range []string{"1", "2", "3", "6", "7", "9", "50"} {
		for _, activeOnly := range []string{"false", "true"} {
			seen := map[string]bool{}
			bookmark := ""
			for pages := 0; ; pages++ {
				require.Less(t, pages, 20)
				page := decodeAs[model.GrantPage](t, doc.mustEvaluate("ListGrantsToMe", activeOnly, size, bookmark))
				for _, g := range page.Grants {
					require.False(t, seen[g.ID], "grant %s listed twice with page size %s", g.ID, size)
					seen[g.ID] = true
				}
				if page.Bookmark == "" {
					break
				}
				bookmark = page.Bookmark
			}
			want := 9
			if activeOnly == "true" {
				want = 7
			}
			require.Len(t, seen, want, "page size %s, active only %s", size, activeOnly)
		}
	}

	own := decodeAs[model.GrantPage](t, cs.patient.mustEvaluate("ListGrants", "", "false", "0", ""))
	require.Len(t, own.Grants, 3)
	_, err := cs.other.evaluate("ListGrants", cs.patient.id(), "false", "0", "")
	requireCode(t, err, model.CodeForbidden)
	_, err = doc.evaluate("ListGrants", cs.patient.id(), "false", "0", "")
	requireCode(t, err, model.CodeForbidden)

	g := decodeAs[model.Grant](t, doc.mustEvaluate("GetGrant", own.Grants[0].ID))
	require.Equal(t, cs.patient.id(), g.Patient)
	_, err = cs.colleague.evaluate("GetGrant", own.Grants[0].ID)
	requireCode(t, err, model.CodeForbidden)
}

func TestOnlyThePatientOrTheirDelegateGrantsAndRevokes(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	req := model.GrantRequest{ID: "g1", Patient: p.id(), Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}

	for _, m := range []*member{doc, cs.other, cs.manufacturer, cs.admin, cs.anonymizer, cs.gateway} {
		_, err := m.submit("Grant", js(req))
		requireCode(t, err, model.CodeForbidden)
	}
	// A gateway cannot carry a consent decision, even for the patient themselves.
	patientsGateway := w.join("PatientsMSP", model.RoleGateway)
	_, err := p.through(patientsGateway).submit("Grant", js(req))
	requireCode(t, err, model.CodeForbidden)

	relative := cs.other
	d := decodeAs[model.Delegate](t, p.mustSubmit("AddDelegate", js(model.DelegateRequest{Delegate: relative.id(), ValidUntil: ptr(w.now.Add(48 * time.Hour))})))
	require.Equal(t, relative.id(), d.Delegate)
	dl := decodeAs[model.DelegatePage](t, p.mustEvaluate("ListDelegates", "0", ""))
	require.Len(t, dl.Delegates, 1)

	g := w.grant(relative, req)
	require.Equal(t, p.id(), g.Patient)
	require.Equal(t, relative.party(), g.GrantedBy)
	require.True(t, doc.decide("lab-1", "read", "").Allowed)
	relative.mustEvaluate("ListGrants", p.id(), "false", "0", "")
	relative.mustSubmit("RevokeGrant", "g1")
	require.False(t, doc.decide("lab-1", "read", "").Allowed)

	w.advance(48 * time.Hour)
	req.ID = "g2"
	_, err = relative.submit("Grant", js(req))
	requireCode(t, err, model.CodeForbidden)

	req.ID = "g3"
	w.grant(p, model.GrantRequest{ID: "g3", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	p.mustSubmit("RemoveDelegate", relative.id())
	_, err = p.submit("RemoveDelegate", relative.id())
	requireCode(t, err, model.CodeNotFound)
	_, err = p.submit("AddDelegate", js(model.DelegateRequest{Delegate: p.id()}))
	requireCode(t, err, model.CodeInvalidArgument)
}

func TestEmergencyAccessIsTimeLimitedVisibleAndMarked(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "med-1", p.id(), "medication")

	_, err := cs.manufacturer.submit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e0", Patient: p.id(), Reason: "life-threatening"}))
	requireCode(t, err, model.CodeForbidden)
	_, err = doc.submit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e0", Patient: p.id(), Reason: "he fell down the stairs"}))
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = doc.submit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e0", Patient: p.id(), Reason: "life-threatening", DurationMinutes: 25 * 60}))
	requireCode(t, err, model.CodeInvalidArgument)

	g := decodeAs[model.Grant](t, doc.through(cs.gateway).mustSubmit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e1", Patient: p.id(), Reason: "patient-unconscious", DurationMinutes: 60})))
	require.True(t, g.Emergency)
	require.Equal(t, "ETREAT", g.Purpose)
	require.Equal(t, w.now.Add(time.Hour), *g.ValidUntil)
	require.Equal(t, cs.gateway.id(), g.Via)

	ev := w.ledger.Events()
	require.Equal(t, model.EventEmergencyAccess, ev[len(ev)-1].Name)

	d := doc.decide("med-1", "read", "")
	require.True(t, d.Allowed)
	require.Equal(t, model.BasisEmergency, d.Basis)
	require.False(t, doc.decide("med-1", "append", "").Allowed, "break-glass is read-only")

	// A routine grant is preferred, so ordinary reads are not logged as emergencies.
	w.grant(p, model.GrantRequest{ID: "g-lab", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.Equal(t, model.BasisGrant, doc.decide("lab-1", "read", "").Basis)

	list := decodeAs[model.GrantPage](t, p.mustEvaluate("ListGrants", "", "true", "0", ""))
	require.Len(t, list.Grants, 2, "the patient sees the emergency access among their grants")

	w.advance(time.Hour)
	require.Equal(t, model.DenyGrantExpired, doc.decide("med-1", "read", "").Reason)

	doc.mustSubmit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e2", Patient: p.id(), Reason: "life-threatening"}))
	_, err = cs.colleague.submit("RevokeGrant", "e2")
	requireCode(t, err, model.CodeForbidden)
	doc.mustSubmit("RevokeGrant", "e2") // the clinician closes their own break-glass
	require.False(t, doc.decide("med-1", "read", "").Allowed)
}
