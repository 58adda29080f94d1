package contract_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/stretchr/testify/require"
)

func TestGrantsInForceArePairCapped(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	req := func(id string, grantee model.Grantee, until *time.Time) string {
		return js(model.GrantRequest{ID: id, Grantee: grantee, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: until})
	}
	hour := ptr(w.now.Add(time.Hour))
	for i := range contract.MaxActiveGrants - 1 {
		p.mustSubmit("Grant", req(fmt.Sprintf("g%d", i), model.Grantee{ID: doc.id()}, hour))
	}
	// Break-glass access counts: it is a grant to the clinician too.
	doc.mustSubmit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e1", Patient: p.id(), Reason: "life-threatening"}))

	before, events := w.ledger.Snapshot(), len(w.ledger.Events())
	_, err := p.submit("Grant", req("one-too-many", model.Grantee{ID: doc.id()}, nil))
	requireCode(t, err, model.CodeConflict)
	require.Contains(t, err.Error(), fmt.Sprint(contract.MaxActiveGrants))
	require.Equal(t, before, w.ledger.Snapshot(), "a refused grant changes nothing")
	require.Len(t, w.ledger.Events(), events)
	_, err = doc.submit("OpenEmergencyAccess", js(model.EmergencyRequest{ID: "e2", Patient: p.id(), Reason: "life-threatening"}))
	requireCode(t, err, model.CodeConflict)

	// The cap is per grantee: the colleague and the organisation have their own.
	p.mustSubmit("Grant", req("to-colleague", model.Grantee{ID: cs.colleague.id()}, nil))
	p.mustSubmit("Grant", req("to-clinic", model.Grantee{MSP: "ClinicMSP"}, nil))

	// A revoked grant frees its place at once, an expired one by the time it ends.
	p.mustSubmit("RevokeGrant", "g0")
	p.mustSubmit("Grant", req("after-revoke", model.Grantee{ID: doc.id()}, nil))
	_, err = p.submit("Grant", req("one-too-many", model.Grantee{ID: doc.id()}, nil))
	requireCode(t, err, model.CodeConflict)
	w.advance(time.Hour)
	p.mustSubmit("Grant", req("after-expiry", model.Grantee{ID: doc.id()}, nil))

	// The grants that ended are still listed and still explain a refusal.
	page := decodeAs[model.GrantPage](t, doc.mustEvaluate("ListGrantsToMe", "false", "200", ""))
	// g0-g48 and e1, after-revoke, after-expiry, and the organisation grant to-clinic.
	require.Len(t, page.Grants, contract.MaxActiveGrants+3)
	d := doc.decide("lab-1", "read", "")
	require.True(t, d.Allowed)
	require.Equal(t, "after-expiry", d.GrantID, "the newest consent grant in force")
}

// TestRefusalIsExplainedByTheNewestGrantThatDisclosedTheRecord: the reason is the status of the
// newest grant that covered the access and let the grantee know of the record, so GRANT_EXPIRED
// when that grant expired, whatever older grants say.
func TestRefusalIsExplainedByTheNewestGrantThatDisclosedTheRecord(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	rec := w.registerRecord(p, "lab-1", p.id(), "lab")
	lab := func(id string, actions []string, until *time.Time) model.GrantRequest {
		return model.GrantRequest{ID: id, Grantee: model.Grantee{ID: doc.id()}, Actions: actions, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: until}
	}
	both := []string{"read", "append"}

	w.grant(p, lab("old", both, nil))
	w.advance(time.Minute)
	p.mustSubmit("RevokeGrant", "old")
	w.advance(time.Minute)
	w.grant(p, lab("newer", both, ptr(w.now.Add(time.Hour))))
	w.advance(time.Hour)

	for _, action := range both {
		d := doc.decide("lab-1", action, "")
		require.False(t, d.Allowed)
		require.Equal(t, model.DenyGrantExpired, d.Reason, "the newest grant expired; the revoked one is older")
	}
	_, err := doc.evaluate("GetRecord", "lab-1")
	requireCode(t, err, model.CodeGrantExpired)
	_, err = doc.evaluate("GetRecordHistory", "lab-1")
	requireCode(t, err, model.CodeGrantExpired)
	before, events := w.ledger.Snapshot(), len(w.ledger.Events())
	_, err = doc.submit("AppendVersion", js(model.NewVersion{RecordID: "lab-1", PrevHash: rec.LatestHash, Hash: hashOf(900), Locator: "blob:v2"}))
	requireCode(t, err, model.CodeGrantExpired)
	_, err = doc.submit("RegisterRecord", js(model.NewRecord{ID: "lab-2", Owner: p.id(), Category: "lab", Hash: hashOf(901), Locator: "blob:lab-2"}))
	requireCode(t, err, model.CodeGrantExpired)
	require.Equal(t, before, w.ledger.Snapshot(), "a refused write changes nothing")
	require.Len(t, w.ledger.Events(), events)

	// The same after the pair's next grant has moved the expired grant out of the live index.
	w.grant(p, model.GrantRequest{ID: "notes", Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"note"}, Purpose: "TREAT"})
	require.Equal(t, model.DenyGrantExpired, doc.decide("lab-1", "read", "").Reason)
	_, err = doc.evaluate("GetRecord", "lab-1")
	requireCode(t, err, model.CodeGrantExpired)

	// A purpose the newest grant does not cover: nothing to explain by.
	require.Equal(t, model.DenyNoGrant, doc.decide("lab-1", "read", "PUBHLTH").Reason)

	// A newer revocation wins over the expiry, in either index.
	w.grant(p, lab("newest", []string{"read"}, nil))
	w.advance(time.Minute)
	p.mustSubmit("RevokeGrant", "newest")
	require.Equal(t, model.DenyGrantRevoked, doc.decide("lab-1", "read", "").Reason)
	require.Equal(t, model.DenyGrantExpired, doc.decide("lab-1", "append", "").Reason, "per action")
	_, err = doc.evaluate("GetRecord", "lab-1")
	requireCode(t, err, model.CodeForbidden)

	// A record created after the grants ended was never disclosed to the clinician: refused
	// as if no grant had ever named them, so the refusal does not tell it exists.
	w.registerRecord(p, "lab-later", p.id(), "lab")
	require.Equal(t, model.DenyNoGrant, doc.decide("lab-later", "read", "").Reason)
	_, err = doc.evaluate("GetRecord", "lab-later")
	requireCode(t, err, model.CodeForbidden)

	// Nobody else hears of the grants.
	require.Equal(t, model.DenyNoGrant, cs.colleague.decide("lab-1", "read", "").Reason)
}

// TestDecisionCostDoesNotGrowWithTheGrantsOfAPair counts the state a decision reads, which is
// what its time follows, after 10 and after 400 grants between one patient and one clinician.
func TestDecisionCostDoesNotGrowWithTheGrantsOfAPair(t *testing.T) {
	reads := func(n int) (allowed, refused int) {
		w := newWorld(t)
		cs := newCast(w)
		mintGrants(w, cs, n)
		_, res, err := cs.clinician.call(false, "CheckAccess", "lab-1", "read", "")
		require.NoError(t, err)
		require.True(t, decodeAs[model.Decision](t, string(res.Response.GetPayload())).Allowed)
		allowed = res.Reads
		_, res, err = cs.clinician.call(false, "CheckAccess", "img-1", "read", "")
		require.NoError(t, err)
		require.Equal(t, model.DenyGrantExpired, decodeAs[model.Decision](t, string(res.Response.GetPayload())).Reason)
		return allowed, res.Reads
	}
	a10, r10 := reads(10)
	a400, r400 := reads(400)
	require.Equal(t, a10, a400, "an allowed decision reads as much after 400 grants as after 10")
	require.Equal(t, r10, r400, "so does a refused one")
}

// mintGrants gives the standard clinician n grants from the patient through the normal
// transactions, as a patient renewing short grants for years would: each a minute long, every
// other one revoked before it ends, alternating between lab and imaging. At the end one lab
// grant is in force and the newest imaging grant has expired. The patient has records lab-1
// and img-1.
func mintGrants(w *world, cs cast, n int) {
	p := cs.patient
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "img-1", p.id(), "imaging")
	for i := range n {
		category := []string{"imaging", "lab"}[i%2]
		id := fmt.Sprintf("m%d", i)
		p.mustSubmit("Grant", js(model.GrantRequest{ID: id, Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{category}, Purpose: "TREAT", ValidUntil: ptr(w.now.Add(time.Minute))}))
		if i%4 == 1 && i < n-1 {
			p.mustSubmit("RevokeGrant", id)
		}
		if i < n-1 {
			w.advance(time.Minute)
		}
	}
	w.advance(time.Minute / 2)
	// The last lab grant expired with the clock; keep one in force.
	p.mustSubmit("Grant", js(model.GrantRequest{ID: "in-force", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}))
}

// TestGrantsOfTheOldKeyLayoutStillDecide rewrites a ledger into the layout before grant ends were
// indexed (every grant index value 1, no summaries of ended grants, no pair marks, no party
// registry, expired grants still in the live index) and checks that decisions and their reasons
// are unchanged, before and after the pair's next grant migrates it.
func TestGrantsOfTheOldKeyLayoutStillDecide(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.registerRecord(p, "img-1", p.id(), "imaging")
	w.registerRecord(p, "note-1", p.id(), "note")
	grant := func(id, category string, until *time.Time) {
		w.grant(p, model.GrantRequest{ID: id, Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{category}, Purpose: "TREAT", ValidUntil: until})
	}
	grant("lab", "lab", nil)
	grant("img", "imaging", ptr(w.now.Add(time.Hour)))
	grant("note", "note", nil)
	w.advance(time.Minute) // a grant revoked the moment it was made was never in force
	p.mustSubmit("RevokeGrant", "note")
	w.advance(time.Hour)

	want := map[string]string{"lab-1": "", "img-1": model.DenyGrantExpired, "note-1": model.DenyGrantRevoked}
	check := func(stage string) {
		for id, reason := range want {
			d := doc.decide(id, "read", "")
			require.Equal(t, reason == "", d.Allowed, "%s: %s", stage, id)
			require.Equal(t, reason, d.Reason, "%s: %s", stage, id)
		}
	}
	check("new layout")

	old := map[string][]byte{}
	for k, v := range w.ledger.Snapshot() {
		switch {
		case strings.HasPrefix(k, "\x00cl.gend\x00"), strings.HasPrefix(k, "\x00cl.gpair\x00"), strings.HasPrefix(k, "\x00cl.party\x00"):
			continue
		case strings.HasPrefix(k, "\x00cl.ggrant\x00"):
			v = []byte{1}
		}
		old[k] = v
	}
	w.ledger.Restore(old)
	check("old layout")
	_, err := doc.evaluate("GetRecord", "img-1")
	requireCode(t, err, model.CodeGrantExpired)

	grant("lab-2", "lab", nil) // migrates the pair
	check("migrated")
	var live []string
	marks := 0
	for k, v := range w.ledger.Snapshot() {
		if strings.HasPrefix(k, "\x00cl.ggrant\x00") {
			live = append(live, fmt.Sprintf("%s=%q", k[strings.LastIndexByte(k[:len(k)-1], 0)+1:len(k)-1], v))
		}
		if strings.HasPrefix(k, "\x00cl.gpair\x00") {
			marks++
		}
	}
	require.Equal(t, 1, marks)
	require.ElementsMatch(t, []string{`lab="open"`, `lab-2="open"`}, live, "the expired grant moved out, the one in force has its end")
}

// TestGrantsEndedInOneTransactionKeepTheNewest: a transaction does not read its own writes, so
// grants that end together (an erasure, a migration) must be summarised together, or the last
// one written, not the newest, would explain later refusals.
func TestGrantsEndedInOneTransactionKeepTheNewest(t *testing.T) {
	w := newWorld(t)
	cs := newCast(w)
	p, doc := cs.patient, cs.clinician
	w.registerRecord(p, "lab-1", p.id(), "lab")
	lab := func(id string, from *time.Time) {
		w.grant(p, model.GrantRequest{ID: id, Grantee: model.Grantee{ID: doc.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidFrom: from})
	}
	// The older grant sorts last by ID and was never in force, so it discloses nothing.
	lab("z-older", ptr(w.now.Add(10*24*time.Hour)))
	w.advance(time.Minute)
	lab("a-newer", nil)
	w.advance(time.Minute)
	p.mustSubmit("RequestErasure")
	require.Equal(t, model.DenyErased, doc.decide("lab-1", "read", "").Reason, "the newer grant, which disclosed the record, explains")
}
