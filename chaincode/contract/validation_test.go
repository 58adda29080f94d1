package contract_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestBadArgumentsAreRefusedClearlyAndChangeNothing(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	cs.admin.mustSubmit("SetRolePolicy", js(standardPolicy)) // PharmaMSP has no clinicians
	p, doc := cs.patient, cs.clinician
	rec := w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})

	newRec := func(mut func(*model.NewRecord)) string {
		r := model.NewRecord{ID: "r-new", Owner: p.id(), Category: "lab", Hash: hashOf(500), Locator: "blob:r-new"}
		mut(&r)
		return js(r)
	}
	grant := func(mut func(*model.GrantRequest)) string {
		g := model.GrantRequest{ID: "g-new", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}
		mut(&g)
		return js(g)
	}
	past, future := w.now.Add(-time.Hour), w.now.Add(time.Hour)
	moonLanding, farFuture := time.Date(1969, 7, 20, 20, 17, 0, 0, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	nobody := "0123456789abcdef0123456789abcdef" // a well-formed pseudonym the ledger never saw
	caPEM := w.ca("PatientsMSP").CertPEM()
	answer := func(mut func(*model.FeasibilityAnswer)) string {
		a := answerFor(cs.manufacturer, "q-bad", 30, 0.5)
		mut(&a)
		return js(a)
	}

	cases := []struct {
		name    string
		caller  *member
		fn      string
		args    []string
		code    model.Code
		mention string
	}{
		{"record: not JSON", p, "RegisterRecord", []string{"{"}, model.CodeInvalidArgument, "record"},
		{"record: empty", p, "RegisterRecord", []string{""}, model.CodeInvalidArgument, "missing"},
		{"record: unknown field", p, "RegisterRecord", []string{`{"id":"x","name":"John Smith"}`}, model.CodeInvalidArgument, "name"},
		{"record: trailing data", p, "RegisterRecord", []string{newRec(func(*model.NewRecord) {}) + "{}"}, model.CodeInvalidArgument, "after"},
		{"record: wrong type", p, "RegisterRecord", []string{`{"id":7}`}, model.CodeInvalidArgument, "id"},
		{"record: missing id", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.ID = "" })}, model.CodeInvalidArgument, "id"},
		{"record: id with path", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.ID = "../etc/passwd" })}, model.CodeInvalidArgument, "id"},
		{"record: id with spaces", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.ID = "Jane Doe 1970" })}, model.CodeInvalidArgument, "id"},
		{"record: id too long", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.ID = strings.Repeat("a", 129) })}, model.CodeInvalidArgument, "id"},
		{"record: owner not pseudonym", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Owner = "jane.doe" })}, model.CodeInvalidArgument, "owner"},
		{"record: unknown category", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Category = "oncology-breast-cancer" })}, model.CodeInvalidArgument, "category"},
		{"record: short hash", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Hash = "abcd" })}, model.CodeInvalidArgument, "hash"},
		{"record: uppercase hash", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Hash = strings.ToUpper(hashOf(9)) })}, model.CodeInvalidArgument, "hash"},
		{"record: locator with spaces", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Locator = "s3://b/jane doe.pdf" })}, model.CodeInvalidArgument, "locator"},
		{"record: oversized", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Locator = strings.Repeat("a", 70_000) })}, model.CodeInvalidArgument, "larger"},
		{"record: duplicate id", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.ID = "lab-1" })}, model.CodeConflict, "lab-1"},
		{"record: duplicate hash", p, "RegisterRecord", []string{newRec(func(r *model.NewRecord) { r.Hash = rec.LatestHash })}, model.CodeConflict, "hash"},
		{"record: duplicate key", p, "RegisterRecord", []string{strings.Replace(newRec(func(*model.NewRecord) {}), `{"id":"r-new"`, `{"id":"r-new","id":"lab-2"`, 1)}, model.CodeInvalidArgument, "twice"},
		{"version: unknown record", p, "AppendVersion", []string{js(model.NewVersion{RecordID: "nope", PrevHash: rec.LatestHash, Hash: hashOf(600), Locator: "blob:v"})}, model.CodeForbidden, "no append permission"},
		{"records: not a list", p, "RegisterRecords", []string{newRec(func(*model.NewRecord) {})}, model.CodeInvalidArgument, "records"},
		{"records: empty", p, "RegisterRecords", []string{`[]`}, model.CodeInvalidArgument, "1 to"},
		{"records: too many", p, "RegisterRecords", []string{js(make([]model.NewRecord, 201))}, model.CodeInvalidArgument, "records"},
		{"records: bad second entry", p, "RegisterRecords", []string{"[" + newRec(func(*model.NewRecord) {}) + "," + newRec(func(r *model.NewRecord) { r.ID, r.Hash = "r-2", "abcd" }) + "]"}, model.CodeInvalidArgument, "records[1]: hash"},
		{"records: two owners", p, "RegisterRecords", []string{"[" + newRec(func(*model.NewRecord) {}) + "," + newRec(func(r *model.NewRecord) { r.ID, r.Hash, r.Owner = "r-2", hashOf(501), cs.other.id() }) + "]"}, model.CodeInvalidArgument, "records[1].owner"},
		{"records: id twice", p, "RegisterRecords", []string{"[" + newRec(func(*model.NewRecord) {}) + "," + newRec(func(r *model.NewRecord) { r.Hash = hashOf(501) }) + "]"}, model.CodeInvalidArgument, "records[1].id"},
		{"records: hash twice", p, "RegisterRecords", []string{"[" + newRec(func(*model.NewRecord) {}) + "," + newRec(func(r *model.NewRecord) { r.ID = "r-2" }) + "]"}, model.CodeInvalidArgument, "records[1].hash"},
		{"records: second already on the ledger", p, "RegisterRecords", []string{"[" + newRec(func(*model.NewRecord) {}) + "," + newRec(func(r *model.NewRecord) { r.ID, r.Hash = "lab-1", hashOf(501) }) + "]"}, model.CodeConflict, "records[1]: record lab-1"},
		{"records: category not granted", doc, "RegisterRecords", []string{"[" + newRec(func(*model.NewRecord) {}) + "]"}, model.CodeForbidden, "records[0]"},
		{"version: bad prev hash", p, "AppendVersion", []string{js(model.NewVersion{RecordID: "lab-1", PrevHash: "", Hash: hashOf(600), Locator: "blob:v"})}, model.CodeInvalidArgument, "prevHash"},
		{"grant: no grantee", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee = model.Grantee{} })}, model.CodeInvalidArgument, "grantee"},
		{"grant: both grantees", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee.MSP = "ClinicMSP" })}, model.CodeInvalidArgument, "grantee"},
		{"grant: grantee name", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee.ID = "Dr. House" })}, model.CodeInvalidArgument, "grantee.id"},
		{"grant: to self", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee.ID = p.id() })}, model.CodeInvalidArgument, "themselves"},
		{"grant: bad msp", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee = model.Grantee{MSP: "Clinic MSP"} })}, model.CodeInvalidArgument, "msp"},
		{"grant: no actions", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Actions = nil })}, model.CodeInvalidArgument, "actions"},
		{"grant: unknown action", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Actions = []string{"delete"} })}, model.CodeInvalidArgument, "actions"},
		{"grant: duplicate action", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Actions = []string{"read", "read"} })}, model.CodeInvalidArgument, "duplicate"},
		{"grant: no scope", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Categories = nil })}, model.CodeInvalidArgument, "categories or recordIds"},
		{"grant: both scopes", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.RecordIDs = []string{"lab-1"} })}, model.CodeInvalidArgument, "categories or recordIds"},
		{"grant: unknown category", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Categories = []string{"hiv-status"} })}, model.CodeInvalidArgument, "categories"},
		{"grant: foreign record", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Categories, g.RecordIDs = nil, []string{"not-mine"} })}, model.CodeInvalidArgument, "recordIds"},
		{"grant: free-text purpose", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Purpose = "check Jane's tumour" })}, model.CodeInvalidArgument, "purpose"},
		{"grant: emergency purpose", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Purpose = "ETREAT" })}, model.CodeInvalidArgument, "ETREAT"},
		{"grant: window inverted", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.ValidFrom, g.ValidUntil = &future, &past })}, model.CodeInvalidArgument, "validUntil"},
		{"grant: window empty", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.ValidFrom, g.ValidUntil = &future, &future })}, model.CodeInvalidArgument, "validUntil"},
		{"grant: ended already", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.ValidFrom, g.ValidUntil = ptr(past.Add(-time.Hour)), &past })}, model.CodeInvalidArgument, "past"},
		{"grant: bad time", p, "Grant", []string{strings.Replace(grant(func(*model.GrantRequest) {}), `"purpose"`, `"validUntil":"next tuesday","purpose"`, 1)}, model.CodeInvalidArgument, "RFC 3339"},
		{"grant: too many records", p, "Grant", []string{grant(func(g *model.GrantRequest) {
			g.Categories, g.RecordIDs = nil, make([]string, 101)
			for i := range g.RecordIDs {
				g.RecordIDs[i] = strings.Repeat("r", i+1)
			}
		})}, model.CodeInvalidArgument, "more than"},
		{"grant: validFrom before 1970", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.ValidFrom = &moonLanding })}, model.CodeInvalidArgument, "validFrom"},
		{"grant: validUntil in 2300", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.ValidUntil = &farFuture })}, model.CodeInvalidArgument, "validUntil"},
		{"grant: duplicate key", p, "Grant", []string{strings.Replace(grant(func(*model.GrantRequest) {}), `"purpose":"TREAT"`, `"purpose":"TREAT","purpose":"PUBHLTH"`, 1)}, model.CodeInvalidArgument, "purpose"},
		{"grant: key repeated in another case", p, "Grant", []string{strings.Replace(grant(func(*model.GrantRequest) {}), `{"id":"g-new"`, `{"id":"g-new","ID":"g1"`, 1)}, model.CodeInvalidArgument, "twice"},
		{"grant: key repeated with a long s", p, "Grant", []string{strings.Replace(grant(func(*model.GrantRequest) {}), `"actions"`, `"actions":["append"],"action\u017f"`, 1)}, model.CodeInvalidArgument, "twice"},
		{"grant: duplicate nested key", p, "Grant", []string{strings.Replace(grant(func(*model.GrantRequest) {}), `"grantee":{"id":"`, `"grantee":{"id":"`+cs.colleague.id()+`","id":"`, 1)}, model.CodeInvalidArgument, "twice"},
		{"grant: organisation without clinicians", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee = model.Grantee{MSP: "PharmaMSP"} })}, model.CodeInvalidArgument, "no clinicians"},
		{"grant: to an administrator", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.Grantee.ID = cs.admin.id() })}, model.CodeInvalidArgument, "never reads records"},
		{"grant: duplicate id", p, "Grant", []string{grant(func(g *model.GrantRequest) { g.ID = "g1" })}, model.CodeConflict, "g1"},
		{"revoke: unknown", p, "RevokeGrant", []string{"nope"}, model.CodeNotFound, "nope"},
		{"revoke: bad id", p, "RevokeGrant", []string{"a/b"}, model.CodeInvalidArgument, "grantId"},
		{"check: bad action", doc, "CheckAccess", []string{"lab-1", "write", ""}, model.CodeInvalidArgument, "action"},
		{"check: bad purpose", doc, "CheckAccess", []string{"lab-1", "read", "marketing"}, model.CodeInvalidArgument, "purpose"},
		{"authorize: bad id", doc, "AuthorizeRead", []string{"a/b", "0", ""}, model.CodeInvalidArgument, "recordId"},
		{"authorize: negative version", doc, "AuthorizeRead", []string{"lab-1", "-1", ""}, model.CodeInvalidArgument, "version"},
		{"authorize: bad purpose", doc, "AuthorizeRead", []string{"lab-1", "0", "marketing"}, model.CodeInvalidArgument, "purpose"},
		{"authorize: no such version", doc, "AuthorizeRead", []string{"lab-1", "2", "TREAT"}, model.CodeNotFound, "no version 2"},
		{"list: negative page", p, "ListGrants", []string{"", "false", "-1", ""}, model.CodeInvalidArgument, "pageSize"},
		{"list: bad patient", doc, "ListPatientRecords", []string{"Jane", "", "0", ""}, model.CodeInvalidArgument, "patientId"},
		{"list: bad category", doc, "ListPatientRecords", []string{p.id(), "x", "0", ""}, model.CodeInvalidArgument, "category"},
		{"verify: bad hash", p, "VerifyRecordHash", []string{"lab-1", "zz"}, model.CodeInvalidArgument, "hash"},
		{"delegate: not pseudonym", p, "AddDelegate", []string{js(model.DelegateRequest{Delegate: "my son"})}, model.CodeInvalidArgument, "delegate"},
		{"delegate: until 2300", p, "AddDelegate", []string{js(model.DelegateRequest{Delegate: cs.other.id(), ValidUntil: &farFuture})}, model.CodeInvalidArgument, "validUntil"},
		{"delegate: past", p, "AddDelegate", []string{js(model.DelegateRequest{Delegate: cs.other.id(), ValidUntil: &past})}, model.CodeInvalidArgument, "past"},
		{"emergency: bad patient", doc, "OpenEmergencyAccess", []string{js(model.EmergencyRequest{ID: "e", Patient: "Jane", Reason: "life-threatening"})}, model.CodeInvalidArgument, "patient"},
		{"emergency: unknown patient", doc, "OpenEmergencyAccess", []string{js(model.EmergencyRequest{ID: "e", Patient: nobody, Reason: "life-threatening"})}, model.CodeNotFound, "nothing on the ledger"},
		{"emergency: negative duration", doc, "OpenEmergencyAccess", []string{js(model.EmergencyRequest{ID: "e", Patient: p.id(), Reason: "life-threatening", DurationMinutes: -5})}, model.CodeInvalidArgument, "durationMinutes"},
		{"research: unknown purpose", cs.anonymizer, "ListResearchConsents", []string{"marketing", "0", ""}, model.CodeInvalidArgument, "purpose"},
		{"policy: unknown role", cs.admin, "SetRolePolicy", []string{js(model.RolePolicy{Rules: []model.RoleRule{{Role: "superuser", MSPs: []string{"PatientsMSP"}}}})}, model.CodeInvalidArgument, "superuser"},
		{"orgca: not JSON", cs.admin, "SetOrgCACertificates", []string{"["}, model.CodeInvalidArgument, "certificates"},
		{"orgca: no roots", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{})}, model.CodeInvalidArgument, "roots"},
		{"orgca: names an organisation", cs.admin, "SetOrgCACertificates", []string{`{"msp":"ClinicMSP","roots":[` + js(caPEM) + `]}`}, model.CodeInvalidArgument, "msp"},
		{"orgca: not PEM", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{Roots: []string{"MIIB..."}})}, model.CodeInvalidArgument, "roots[0]"},
		{"orgca: two blocks", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{Roots: []string{caPEM + caPEM}})}, model.CodeInvalidArgument, "exactly one"},
		{"orgca: private key", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{Roots: []string{"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"}})}, model.CodeInvalidArgument, "CERTIFICATE"},
		{"orgca: member certificate", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{Roots: []string{string(p.ident.CertPEM)}})}, model.CodeInvalidArgument, "not a CA"},
		{"orgca: repeated", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{Roots: []string{caPEM}, Intermediates: []string{caPEM, caPEM}})}, model.CodeInvalidArgument, "repeated"},
		{"orgca: too many", cs.admin, "SetOrgCACertificates", []string{js(model.CACertificates{Roots: slices.Repeat([]string{caPEM}, 17)})}, model.CodeInvalidArgument, "16"},
		{"orgca: bad msp", doc, "GetOrgCACertificates", []string{"Clinic MSP"}, model.CodeInvalidArgument, "MSP ID"},
		{"audit: not a list", doc, "RecordAccesses", []string{`{"id":"a"}`}, model.CodeInvalidArgument, "batch"},
		{"budget: not JSON", cs.admin, "SetPrivacyBudget", []string{"{"}, model.CodeInvalidArgument, "request"},
		{"budget: bad msp", cs.admin, "SetPrivacyBudget", []string{js(model.PrivacyBudgetRequest{MSP: "Pharma MSP", Purpose: "drug-safety", Epsilon: 1, MaxQueries: 1})}, model.CodeInvalidArgument, "msp"},
		{"budget: unknown purpose", cs.admin, "SetPrivacyBudget", []string{js(model.PrivacyBudgetRequest{MSP: "PharmaMSP", Purpose: "marketing", Epsilon: 1, MaxQueries: 1})}, model.CodeInvalidArgument, "purpose"},
		{"budget: negative epsilon", cs.admin, "SetPrivacyBudget", []string{js(model.PrivacyBudgetRequest{MSP: "PharmaMSP", Purpose: "drug-safety", Epsilon: -1, MaxQueries: 1})}, model.CodeInvalidArgument, "epsilon"},
		{"budget: huge epsilon", cs.admin, "SetPrivacyBudget", []string{js(model.PrivacyBudgetRequest{MSP: "PharmaMSP", Purpose: "drug-safety", Epsilon: 1000, MaxQueries: 1})}, model.CodeInvalidArgument, "epsilon"},
		{"budget: no queries", cs.admin, "SetPrivacyBudget", []string{js(model.PrivacyBudgetRequest{MSP: "PharmaMSP", Purpose: "drug-safety", Epsilon: 1})}, model.CodeInvalidArgument, "maxQueries"},
		{"feasibility: not JSON", cs.anonymizer, "RecordFeasibility", []string{"["}, model.CodeInvalidArgument, "answer"},
		{"feasibility: unknown field", cs.anonymizer, "RecordFeasibility", []string{`{"id":"q","criteria":"E11"}`}, model.CodeInvalidArgument, "criteria"},
		{"feasibility: bad id", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.ID = "a b" })}, model.CodeInvalidArgument, "id"},
		{"feasibility: requester not pseudonym", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Requester.ID = "Dr. Pharma" })}, model.CodeInvalidArgument, "requester.id"},
		{"feasibility: requester not manufacturer", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Requester.Role = model.RoleClinician })}, model.CodeInvalidArgument, "requester.role"},
		{"feasibility: bad query hash", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.QueryHash = "E11 and A10BA02" })}, model.CodeInvalidArgument, "queryHash"},
		{"feasibility: no consent snapshot", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.ConsentSnapshotHash = "" })}, model.CodeInvalidArgument, "consentSnapshotHash"},
		{"feasibility: unknown purpose", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Purpose = "TREAT" })}, model.CodeInvalidArgument, "purpose"},
		{"feasibility: no rounding", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Rounding = 0 })}, model.CodeInvalidArgument, "rounding"},
		{"feasibility: count not rounded", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Count = 37 })}, model.CodeInvalidArgument, "count"},
		{"feasibility: negative count", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Count = -10 })}, model.CodeInvalidArgument, "count"},
		{"feasibility: small count released", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Count = 10 })}, model.CodeInvalidArgument, "withheld"},
		{"feasibility: withheld with count", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Withheld = true })}, model.CodeInvalidArgument, "withheld"},
		{"feasibility: negative epsilon", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Epsilon = -0.5 })}, model.CodeInvalidArgument, "epsilon"},
		{"feasibility: huge epsilon", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Epsilon = 11 })}, model.CodeInvalidArgument, "epsilon"},
		{"feasibility: threshold too high", cs.anonymizer, "RecordFeasibility", []string{answer(func(a *model.FeasibilityAnswer) { a.Threshold = 5000 })}, model.CodeInvalidArgument, "threshold"},
		{"feasibility: no budget", cs.anonymizer, "RecordFeasibility", []string{answer(func(*model.FeasibilityAnswer) {})}, model.CodeBudgetExhausted, "no privacy budget"},
		{"budget read: no purpose", cs.admin, "GetPrivacyBudget", []string{"PharmaMSP", "x"}, model.CodeInvalidArgument, "purpose"},
		{"budget read: all", cs.admin, "GetPrivacyBudget", []string{"", "drug-safety"}, model.CodeInvalidArgument, "msp"},
		{"budget read: bad msp", cs.admin, "GetPrivacyBudget", []string{"a/b", "drug-safety"}, model.CodeInvalidArgument, "msp"},
		{"budget read: unset", cs.admin, "GetPrivacyBudget", []string{"PharmaMSP", "drug-safety"}, model.CodeNotFound, "PharmaMSP"},
		{"disclosures: bad msp", cs.admin, "ListDisclosures", []string{"a b", "0", ""}, model.CodeInvalidArgument, "msp"},
		{"disclosures: bad page", cs.admin, "ListDisclosures", []string{"", "500", ""}, model.CodeInvalidArgument, "pageSize"},
		{"disclosures: foreign bookmark", cs.manufacturer, "ListDisclosures", []string{"", "0", "bm90LW1pbmU"}, model.CodeInvalidArgument, "bookmark"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := w.ledger.Snapshot()
			events := len(w.ledger.Events())
			_, err := tc.caller.submit(tc.fn, tc.args...)
			requireCode(t, err, tc.code)
			require.Contains(t, err.Error(), tc.mention)
			require.Equal(t, before, w.ledger.Snapshot(), "a refused call changes nothing")
			require.Len(t, w.ledger.Events(), events, "a refused call emits nothing")
		})
	}
}

func TestTransactionsAreDeterministic(t *testing.T) {
	// Two peers endorsing the same proposal must produce byte-identical results and writes. The
	// proposal is replayed on two independent ledgers built by the same history.
	w1 := newWorld(t)
	cs1 := newCast(w1)
	w2 := &world{t: t, ledger: w1.ledger.Clone(), cc: w1.cc, cas: w1.cas, now: w1.now}
	steps := func(w *world, cs cast) []string {
		p := cs.patient
		var payloads []string
		call := func(m *member, fn string, args ...string) {
			m.w = w
			out, res, err := m.call(true, fn, args...)
			require.NoError(t, err, fn)
			payloads = append(payloads, out, js(res.Writes), js(res.Event))
		}
		call(p, "RegisterRecord", js(model.NewRecord{ID: "lab-1", Owner: p.id(), Category: "lab", Hash: hashOf(1), Locator: "blob:1"}))
		call(p, "Grant", js(model.GrantRequest{ID: "g1", Grantee: model.Grantee{MSP: "ClinicMSP"}, Actions: []string{"read", "append"}, Categories: []string{"note", "lab", "imaging"}, Purpose: "TREAT", ValidUntil: ptr(w.now.Add(time.Hour).In(time.FixedZone("CET", 3600)))}))
		call(cs.clinician, "OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e1", Patient: p.id(), Reason: "life-threatening"}))
		call(p, "SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety", "academic-research"}}))
		call(cs.gateway, "RecordAccesses", js([]model.AccessReport{{ID: "a1", RecordID: "lab-1", Version: 1, Action: "read", Accessor: cs.clinician.party(), Basis: model.BasisGrant, GrantID: "g1", AccessedAt: w.now}}))
		call(cs.anonymizer, "PublishCohort", js(validPublication("c1")))
		call(p, "RequestErasure")
		return payloads
	}
	a := steps(w1, cs1)
	b := steps(w2, cs1)
	require.Equal(t, a, b)
	require.Equal(t, w1.ledger.Snapshot(), w2.ledger.Snapshot())

	g := decodeAs[model.Grant](t, a[3])
	require.Equal(t, []string{"imaging", "lab", "note"}, g.Categories, "sets are stored sorted, whatever the argument order")
	require.Equal(t, time.UTC, g.ValidUntil.Location(), "times are stored in UTC")
}
