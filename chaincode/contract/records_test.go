package contract_test

import (
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestRecordVersionsFormAHashChain(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient

	rec := w.registerRecord(p, "rec-1", p.id(), "lab")
	require.Equal(t, 1, rec.Versions)
	require.Equal(t, p.party(), rec.CreatedBy)

	w.advance(time.Hour)
	v2 := decodeAs[model.Record](t, p.mustSubmit("AppendVersion", js(model.NewVersion{RecordID: "rec-1", PrevHash: rec.LatestHash, Hash: hashOf(900), Locator: "blob:v2"})))
	require.Equal(t, 2, v2.Versions)
	require.Equal(t, hashOf(900), v2.LatestHash)

	// A writer working from a stale version is refused and nothing changes.
	before := w.ledger.Snapshot()
	_, err := p.submit("AppendVersion", js(model.NewVersion{RecordID: "rec-1", PrevHash: rec.LatestHash, Hash: hashOf(901), Locator: "blob:v3"}))
	requireCode(t, err, model.CodeConflict)
	require.Equal(t, before, w.ledger.Snapshot())

	// The same ciphertext cannot be registered twice.
	_, err = p.submit("AppendVersion", js(model.NewVersion{RecordID: "rec-1", PrevHash: hashOf(900), Hash: hashOf(900), Locator: "blob:v3"}))
	requireCode(t, err, model.CodeConflict)

	hist := decodeAs[model.RecordHistory](t, p.mustEvaluate("GetRecordHistory", "rec-1"))
	require.Len(t, hist.Versions, 2)
	require.Empty(t, hist.Versions[0].PrevHash)
	require.Equal(t, hist.Versions[0].Hash, hist.Versions[1].PrevHash, "version 2 links version 1")
	require.Equal(t, epoch.Add(time.Hour), hist.Versions[1].CreatedAt)
	require.Equal(t, 2, hist.Record.Versions)

	ver := decodeAs[model.Verification](t, p.mustEvaluate("VerifyRecordHash", "rec-1", rec.LatestHash))
	require.Equal(t, model.Verification{RecordID: "rec-1", Hash: rec.LatestHash, Valid: true, Version: 1, Latest: false}, ver)
	ver = decodeAs[model.Verification](t, p.mustEvaluate("VerifyRecordHash", "rec-1", hashOf(900)))
	require.True(t, ver.Valid && ver.Latest)
	ver = decodeAs[model.Verification](t, p.mustEvaluate("VerifyRecordHash", "rec-1", hashOf(5555)))
	require.False(t, ver.Valid)

	other := w.registerRecord(p, "rec-2", p.id(), "note")
	ver = decodeAs[model.Verification](t, p.mustEvaluate("VerifyRecordHash", "rec-1", other.LatestHash))
	require.False(t, ver.Valid, "a hash of another record's version does not verify")
}

func TestOnlyOwnerOrAppendGranteeWritesRecords(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	rec := w.registerRecord(p, "rec-1", p.id(), "lab")

	newLab := func(id string) string {
		w.seq++
		return js(model.NewRecord{ID: id, Owner: p.id(), Category: "lab", Hash: hashOf(w.seq), Locator: "blob:" + id})
	}
	_, err := doc.submit("RegisterRecord", newLab("by-doc"))
	requireCode(t, err, model.CodeForbidden)
	_, err = cs.other.submit("RegisterRecord", newLab("by-other"))
	requireCode(t, err, model.CodeForbidden)
	_, err = doc.submit("AppendVersion", js(model.NewVersion{RecordID: "rec-1", PrevHash: rec.LatestHash, Hash: hashOf(700), Locator: "blob:x"}))
	requireCode(t, err, model.CodeForbidden)

	// A read grant is not an append grant.
	w.grant(p, model.GrantRequest{ID: "g-read", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	_, err = doc.submit("RegisterRecord", newLab("by-doc"))
	requireCode(t, err, model.CodeForbidden)

	w.grant(p, model.GrantRequest{ID: "g-append", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"append"}, Categories: []string{"lab"}, Purpose: "CAREMGT"})
	created := w.registerRecord(doc, "by-doc", p.id(), "lab")
	require.Equal(t, doc.party(), created.CreatedBy)
	require.Equal(t, p.id(), created.Owner)

	// The category grant does not reach other categories.
	_, err = doc.submit("RegisterRecord", js(model.NewRecord{ID: "img", Owner: p.id(), Category: "imaging", Hash: hashOf(800), Locator: "blob:img"}))
	requireCode(t, err, model.CodeForbidden)

	// Through the clinic's gateway the clinician appends; the version names both.
	appended := decodeAs[model.Record](t, doc.through(cs.gateway).mustSubmit("AppendVersion", js(model.NewVersion{RecordID: "rec-1", PrevHash: rec.LatestHash, Hash: hashOf(701), Locator: "blob:v2"})))
	require.Equal(t, 2, appended.Versions)
	hist := decodeAs[model.RecordHistory](t, p.mustEvaluate("GetRecordHistory", "rec-1"))
	require.Equal(t, doc.party(), hist.Versions[1].Author)
	require.Equal(t, cs.gateway.id(), hist.Versions[1].Via)

	// Record-scoped append grants cover existing records only.
	w.grant(p, model.GrantRequest{ID: "g-rec", Grantee: model.Grantee{ID: cs.colleague.id()}, Actions: []string{"append"}, RecordIDs: []string{"rec-1"}, Purpose: "TREAT"})
	_, err = cs.colleague.submit("RegisterRecord", newLab("by-colleague"))
	requireCode(t, err, model.CodeForbidden)
	_, err = cs.colleague.submit("AppendVersion", js(model.NewVersion{RecordID: "rec-1", PrevHash: hashOf(701), Hash: hashOf(702), Locator: "blob:v3"}))
	require.NoError(t, err)

	for _, m := range []*member{cs.manufacturer, cs.anonymizer, cs.admin, cs.noRole} {
		_, err = m.submit("RegisterRecord", newLab("nope"))
		requireCode(t, err, model.CodeForbidden)
	}
}

func TestRecordMetadataIsVisibleOnlyToThoseWhoMayRead(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "note-1", p.id(), "note")
	w.registerRecord(cs.other, "other-1", cs.other.id(), "lab")

	for _, m := range []*member{cs.clinician, cs.other, cs.manufacturer, cs.anonymizer, cs.admin, cs.gateway} {
		_, err := m.evaluate("GetRecord", "lab-1")
		requireCode(t, err, model.CodeForbidden)
		_, err = m.evaluate("GetRecordHistory", "lab-1")
		requireCode(t, err, model.CodeForbidden)
	}
	// Not even the owner learns that an ID is free: a missing record is refused like another
	// patient's (see TestNoExistenceOracle).
	_, err := p.evaluate("GetRecord", "missing")
	requireCode(t, err, model.CodeForbidden)

	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	cs.clinician.mustEvaluate("GetRecord", "lab-1")
	_, err = cs.clinician.evaluate("GetRecord", "note-1")
	requireCode(t, err, model.CodeForbidden)

	page := decodeAs[model.RecordPage](t, cs.clinician.mustEvaluate("ListPatientRecords", p.id(), "", "0", ""))
	require.Len(t, page.Records, 1)
	require.Equal(t, "lab-1", page.Records[0].ID)
	page = decodeAs[model.RecordPage](t, p.mustEvaluate("ListPatientRecords", p.id(), "", "0", ""))
	require.Len(t, page.Records, 2)
	page = decodeAs[model.RecordPage](t, p.mustEvaluate("ListPatientRecords", p.id(), "note", "0", ""))
	require.Len(t, page.Records, 1)

	hist := decodeAs[model.HistoryPage](t, cs.clinician.mustEvaluate("GetPatientHistory", p.id(), "", "0", ""))
	require.Len(t, hist.Records, 1)
	require.Len(t, hist.Records[0].Versions, 1)
	// The listing carries the decision CheckAccess gives, so a page is released on one
	// evaluation.
	checked := decodeAs[model.Decision](t, cs.clinician.mustEvaluate("CheckAccess", "lab-1", "read", ""))
	require.NotNil(t, hist.Records[0].Read)
	require.Equal(t, checked, *hist.Records[0].Read)

	_, err = cs.manufacturer.evaluate("ListPatientRecords", p.id(), "", "0", "")
	requireCode(t, err, model.CodeForbidden)
}

func TestListingsPageThroughEveryEntryOnce(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p := cs.patient
	const n = 23
	for i := 0; i < n; i++ {
		cat := "lab"
		if i%3 == 0 {
			cat = "note"
		}
		w.registerRecord(p, "r-"+string(rune('a'+i)), p.id(), cat)
	}
	w.registerRecord(cs.other, "zz-other", cs.other.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})

	collect := func(m *member, size string) []string {
		var ids []string
		bookmark := ""
		for pages := 0; ; pages++ {
			require.Less(t, pages, 50)
			page := decodeAs[model.RecordPage](t, m.mustEvaluate("ListPatientRecords", p.id(), "", size, bookmark))
			for _, r := range page.Records {
				ids = append(ids, r.ID)
			}
			if page.Bookmark == "" {
				return ids
			}
			bookmark = page.Bookmark
		}
	}
	all := collect(p, "4")
	require.Len(t, all, n)
	require.IsIncreasing(t, all)
	labs := collect(cs.clinician, "5")
	require.Len(t, labs, n-8, "the clinician sees the lab records only, every one once")

	// Bookmarks cannot be bent to another listing.
	otherPage := decodeAs[model.RecordPage](t, cs.other.mustEvaluate("ListPatientRecords", cs.other.id(), "", "1", ""))
	require.Empty(t, otherPage.Bookmark)
	first := decodeAs[model.RecordPage](t, p.mustEvaluate("ListPatientRecords", p.id(), "", "1", ""))
	require.NotEmpty(t, first.Bookmark)
	_, err := cs.other.evaluate("ListPatientRecords", cs.other.id(), "", "1", first.Bookmark)
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = p.evaluate("ListPatientRecords", p.id(), "", "1", "%%%")
	requireCode(t, err, model.CodeInvalidArgument)
	_, err = p.evaluate("ListPatientRecords", p.id(), "", "201", "")
	requireCode(t, err, model.CodeInvalidArgument)

	// Paginated listings are queries: Fabric refuses them in a transaction that writes, and
	// they write nothing.
	_, res, err := p.call(true, "ListPatientRecords", p.id(), "", "2", "")
	require.NoError(t, err)
	require.Empty(t, res.Writes)
}

// TestAuthorizeReadDecidesAndReturnsTheVersion: one evaluation says whether the caller may
// read, on what basis, and, only when it may, what the version is.
func TestAuthorizeReadDecidesAndReturnsTheVersion(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	v1 := w.registerRecord(p, "lab-1", p.id(), "lab")
	p.mustSubmit("AppendVersion", js(model.NewVersion{RecordID: "lab-1", PrevHash: v1.LatestHash, Hash: hashOf(902), Locator: "blob:v2"}))

	refused := decodeAs[model.ReadAuthorization](t, doc.mustEvaluate("AuthorizeRead", "lab-1", "0", ""))
	require.False(t, refused.Decision.Allowed)
	require.Equal(t, model.DenyNoGrant, refused.Decision.Reason)
	require.Nil(t, refused.Record)
	require.Empty(t, refused.Decision.Owner, "a refused caller learns nothing about the record")

	w.grant(p, model.GrantRequest{ID: "g1", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	latest := decodeAs[model.ReadAuthorization](t, doc.mustEvaluate("AuthorizeRead", "lab-1", "0", "TREAT"))
	require.True(t, latest.Decision.Allowed)
	require.Equal(t, "g1", latest.Decision.GrantID)
	require.Equal(t, w.now, latest.Decision.DecidedAt.UTC(), "decided at the transaction's time")
	require.Equal(t, 2, latest.Record.Versions)
	require.Equal(t, 2, latest.Version.Number)
	require.Equal(t, hashOf(902), latest.Version.Hash)
	require.Equal(t, v1.LatestHash, latest.Version.PrevHash)

	first := decodeAs[model.ReadAuthorization](t, doc.mustEvaluate("AuthorizeRead", "lab-1", "1", ""))
	require.Equal(t, v1.LatestHash, first.Version.Hash)

	other := decodeAs[model.ReadAuthorization](t, doc.mustEvaluate("AuthorizeRead", "lab-1", "0", "PUBHLTH"))
	require.False(t, other.Decision.Allowed, "the purpose must match the grant's")

	w.advance(time.Minute)
	p.mustSubmit("RevokeGrant", "g1")
	revoked := decodeAs[model.ReadAuthorization](t, doc.mustEvaluate("AuthorizeRead", "lab-1", "0", ""))
	require.False(t, revoked.Decision.Allowed)
	require.Equal(t, model.DenyGrantRevoked, revoked.Decision.Reason)
	require.Nil(t, revoked.Version)
}
