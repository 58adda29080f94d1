package contract_test

import (
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestResearchConsentGovernsTheAnonymiser(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, anon := cs.patient, cs.anonymizer
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(cs.other, "lab-2", cs.other.id(), "lab")

	_, err := p.evaluate("GetResearchConsent", "")
	requireCode(t, err, model.CodeNotFound)
	require.Equal(t, model.DenyNoResearchConsent, anon.decide("lab-1", "read", "drug-development").Reason)

	rc := decodeAs[model.ResearchConsent](t, p.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety", "drug-development"}, Until: ptr(w.now.Add(365 * 24 * time.Hour))})))
	require.Equal(t, []string{"drug-development", "drug-safety"}, rc.Purposes)
	cs.other.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"academic-research"}}))

	list := decodeAs[model.ConsentPage](t, anon.mustEvaluate("ListResearchConsents", "drug-development", "0", ""))
	require.Equal(t, []model.ConsentingPatient{{Patient: p.id(), TxID: rc.TxID}}, list.Patients)

	d := anon.decide("lab-1", "read", "drug-development")
	require.True(t, d.Allowed)
	require.Equal(t, model.BasisResearch, d.Basis)
	require.False(t, anon.decide("lab-1", "read", "ai-training").Allowed, "purpose outside the consent")
	require.False(t, anon.decide("lab-1", "append", "drug-development").Allowed, "the anonymiser only reads")
	require.False(t, anon.decide("lab-2", "read", "drug-development").Allowed)
	anon.mustEvaluate("GetRecord", "lab-1")
	_, err = anon.evaluate("GetRecord", "lab-2")
	require.NoError(t, err, "lab-2's owner consented to academic research")

	for _, m := range []*member{cs.clinician, cs.manufacturer, p, cs.admin} {
		_, err := m.evaluate("ListResearchConsents", "drug-development", "0", "")
		requireCode(t, err, model.CodeForbidden)
	}

	p.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: false}))
	list = decodeAs[model.ConsentPage](t, anon.mustEvaluate("ListResearchConsents", "drug-development", "0", ""))
	require.Empty(t, list.Patients, "a withdrawn patient is absent from every later cohort")
	require.False(t, anon.decide("lab-1", "read", "drug-development").Allowed)

	_, err = p.submit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: false, Purposes: []string{"drug-safety"}}))
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = p.submit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"marketing"}}))
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = p.submit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}, Until: ptr(w.now.Add(-time.Hour))}))
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = cs.clinician.submit("SetResearchConsent", js(model.ResearchConsentRequest{Patient: p.id(), OptIn: true, Purposes: []string{"drug-safety"}}))
	requireCode(t, err, model.CodeForbidden)

	// Consent with an end date lapses by itself.
	cs.other.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"academic-research"}, Until: ptr(w.now.Add(time.Hour))}))
	require.True(t, anon.decide("lab-2", "read", "academic-research").Allowed)
	w.advance(time.Hour)
	require.False(t, anon.decide("lab-2", "read", "academic-research").Allowed)
}

func validPublication(id string) model.CohortPublication {
	return model.CohortPublication{
		ID: id, DatasetHash: hashOf(1), ReportHash: hashOf(2), RowCount: 1000, SuppressedRows: 12,
		Purpose: "drug-development", Models: []string{"l-diversity", "k-anonymity"},
		Parameters:          model.PrivacyParameters{K: 5, L: 2, LVariant: "distinct", SuppressionLimit: 0.05},
		QuasiIdentifiers:    []string{"sex", "age", "zip3"},
		ConsentSnapshotHash: hashOf(3), Locator: "cohort:" + id,
	}
}

func TestCohortPublicationsAreTheManufacturersOnlyView(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)

	co := decodeAs[model.Cohort](t, cs.anonymizer.mustSubmit("PublishCohort", js(validPublication("c1"))))
	require.Equal(t, []string{"age", "sex", "zip3"}, co.Publication.QuasiIdentifiers)
	require.Equal(t, []string{"k-anonymity", "l-diversity"}, co.Publication.Models)
	require.Equal(t, cs.anonymizer.party(), co.Publisher)
	ev := w.ledger.Events()
	require.Equal(t, model.EventCohortPublished, ev[len(ev)-1].Name)

	_, err := cs.anonymizer.submit("PublishCohort", js(validPublication("c1")))
	requireCode(t, err, model.CodeConflict)
	for _, m := range []*member{cs.manufacturer, cs.patient, cs.clinician, cs.admin} {
		_, err := m.submit("PublishCohort", js(validPublication("c2")))
		requireCode(t, err, model.CodeForbidden)
	}
	dp := validPublication("c-dp")
	dp.Models, dp.QuasiIdentifiers, dp.Parameters = []string{"differential-privacy"}, nil, model.PrivacyParameters{Epsilon: 1}
	cs.anonymizer.mustSubmit("PublishCohort", js(dp))

	got := decodeAs[model.Cohort](t, cs.manufacturer.mustEvaluate("GetCohort", "c1"))
	require.Equal(t, co, got)
	page := decodeAs[model.CohortPage](t, cs.manufacturer.mustEvaluate("ListCohorts", "1", ""))
	require.Len(t, page.Cohorts, 1)
	page = decodeAs[model.CohortPage](t, cs.manufacturer.mustEvaluate("ListCohorts", "1", page.Bookmark))
	require.Equal(t, "c1", page.Cohorts[0].Publication.ID)
	_, err = cs.noRole.evaluate("ListCohorts", "0", "")
	requireCode(t, err, model.CodeForbidden)
	_, err = cs.manufacturer.evaluate("GetCohort", "missing")
	requireCode(t, err, model.CodeNotFound)

	bad := map[string]func(p *model.CohortPublication){
		"k too small":           func(p *model.CohortPublication) { p.Parameters.K = 1 },
		"k without model":       func(p *model.CohortPublication) { p.Models = []string{"l-diversity"} },
		"l variant unknown":     func(p *model.CohortPublication) { p.Parameters.LVariant = "fancy" },
		"t without model":       func(p *model.CohortPublication) { p.Parameters.T = 0.2 },
		"suppression over 1":    func(p *model.CohortPublication) { p.Parameters.SuppressionLimit = 1.5 },
		"negative epsilon":      func(p *model.CohortPublication) { p.Parameters.Epsilon = -1 },
		"no rows":               func(p *model.CohortPublication) { p.RowCount = 0 },
		"bad dataset hash":      func(p *model.CohortPublication) { p.DatasetHash = "abc" },
		"no consent snapshot":   func(p *model.CohortPublication) { p.ConsentSnapshotHash = "" },
		"unknown model":         func(p *model.CohortPublication) { p.Models = []string{"k-anonymity", "vibes"} },
		"qi with spaces":        func(p *model.CohortPublication) { p.QuasiIdentifiers = []string{"John Smith"} },
		"no quasi-identifiers":  func(p *model.CohortPublication) { p.QuasiIdentifiers = nil },
		"non-research purpose":  func(p *model.CohortPublication) { p.Purpose = "TREAT" },
		"recursive without c":   func(p *model.CohortPublication) { p.Parameters.LVariant = "recursive" },
		"risk model w/o bound":  func(p *model.CohortPublication) { p.Models = append(p.Models, "risk-threshold") },
		"locator with spaces":   func(p *model.CohortPublication) { p.Locator = "s3://bucket/john smith.csv" },
		"suppressed rows below": func(p *model.CohortPublication) { p.SuppressedRows = -1 },
		"bad query hash":        func(p *model.CohortPublication) { p.QueryHash = "t2dm and metformin" },
	}
	for name, mutate := range bad {
		t.Run(name, func(t *testing.T) {
			p := validPublication("bad-" + strings.ReplaceAll(name, " ", "-"))
			mutate(&p)
			before := w.ledger.Snapshot()
			_, err := cs.anonymizer.submit("PublishCohort", js(p))
			requireCode(t, err, model.CodeInvalidArgument)
			require.Equal(t, before, w.ledger.Snapshot())
		})
	}
}

func TestErasureEndsEveryAccessAndWrite(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	rec := w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	p.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}}))
	readAt := w.now
	w.advance(time.Minute)

	_, err := p.through(w.join("PatientsMSP", model.RoleGateway)).submit("RequestErasure")
	requireCode(t, err, model.CodeForbidden)
	_, err = doc.submit("RequestErasure")
	requireCode(t, err, model.CodeForbidden)
	_, err = cs.gateway.evaluate("GetErasure", p.id())
	requireCode(t, err, model.CodeNotFound)
	e := decodeAs[model.Erasure](t, p.mustSubmit("RequestErasure"))
	require.Equal(t, p.id(), e.Patient)
	require.Equal(t, e, decodeAs[model.Erasure](t, cs.gateway.mustEvaluate("GetErasure", p.id())))
	ev := w.ledger.Events()
	require.Equal(t, model.EventErasureRequested, ev[len(ev)-1].Name)

	require.Equal(t, model.DenyErased, doc.decide("lab-1", "read", "").Reason)
	require.Equal(t, model.DenyErased, p.decide("lab-1", "read", "").Reason)
	require.Equal(t, model.DenyErased, cs.anonymizer.decide("lab-1", "read", "drug-safety").Reason)
	grants := decodeAs[model.GrantPage](t, p.mustEvaluate("ListGrants", "", "false", "0", ""))
	require.Equal(t, model.GrantRevoked, grants.Grants[0].Status)
	consents := decodeAs[model.ConsentPage](t, cs.anonymizer.mustEvaluate("ListResearchConsents", "drug-safety", "0", ""))
	require.Empty(t, consents.Patients)

	_, err = p.submit("RegisterRecord", js(model.NewRecord{ID: "lab-2", Owner: p.id(), Category: "lab", Hash: hashOf(77), Locator: "blob:x"}))
	requireCode(t, err, model.CodeErased)
	_, err = p.submit("AppendVersion", js(model.NewVersion{RecordID: "lab-1", PrevHash: rec.LatestHash, Hash: hashOf(78), Locator: "blob:y"}))
	requireCode(t, err, model.CodeErased)
	_, err = p.submit("Grant", js(model.GrantRequest{ID: "g2", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}))
	requireCode(t, err, model.CodeErased)
	_, err = p.submit("RequestErasure")
	requireCode(t, err, model.CodeErased)

	// An access made before the erasure can still be reported.
	cs.gateway.mustSubmit("RecordAccesses", js([]model.AccessReport{{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: doc.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: readAt}}))
}
