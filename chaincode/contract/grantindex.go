package contract

import (
	"time"

	"github.com/careledger/careledger/chaincode/model"
)

// MaxActiveGrants caps the grants in force (active, or valid from a later time) that one
// patient has given one grantee: one identity, or one organisation's clinicians. A patient needs
// a handful per grantee (say one per purpose and set of categories; one grant names up to 100
// records or every category), so 50 leaves room for anyone real and keeps an access decision,
// which reads the grants in force between a pair, at a bounded cost. A grant beyond it is
// refused with CONFLICT until the patient revokes one or one ends.
const MaxActiveGrants = 50

// How grants between a patient and a grantee are indexed, so that an access decision reads a
// bounded number of keys however many grants the pair has had:
//
//   - kindGranteeIdx holds the grants in force, with the time each ends as the value. After any
//     grant for the pair (Grant, or OpenEmergencyAccess) it holds at most MaxActiveGrants
//     entries (settlePair moves the ones that ended out), and nothing else adds to it, so it
//     never holds more; grants that expire in between stay until the next grant.
//   - kindGranteeEnd holds the grants that ended (revoked, or expired and moved out), for
//     listings, and for explaining refusals on a pair of the old layout.
//   - kindEnded keeps, per grantee, patient, scope (a category or a record), action and
//     purpose, the newest grant that ended: what a refusal is explained by.
//   - kindPair marks a pair whose ended grants are all summarised in kindEnded.
//
// A ledger written before this layout has grants in kindGranteeIdx with the value 1 (end
// unknown, so the grant is read), expired grants left in kindGranteeIdx, and revoked ones in
// kindGranteeEnd without summaries and no kindPair mark. Such a pair decides correctly: the
// decision reads every grant in kindGranteeIdx, and a refusal is explained from the old
// revoked index while the mark is missing. The pair's next Grant migrates it (summaries, mark,
// expired grants moved out), after which it costs what a new pair costs.

// openEnd is the index value of a grant in force with no end.
const openEnd = "open"

// liveValue is a grant's entry value in kindGranteeIdx: the time it stops being in force.
func liveValue(g *model.Grant) []byte {
	if g.ValidUntil == nil {
		return []byte(openEnd)
	}
	return []byte(g.ValidUntil.UTC().Format(sortableTime))
}

// putLive writes the grant's entry in the live index.
func (t *txn) putLive(g *model.Grant) error {
	if err := t.stub.PutState(t.key(kindGranteeIdx, g.Grantee.Key(), g.Patient, g.ID), liveValue(g)); err != nil {
		return model.Errorf(model.CodeInternal, "write index: %v", err)
	}
	return nil
}

// endedAt returns when a live index entry's grant stops being in force, whether that is
// known from the entry (false for entries of the old layout) and whether it never ends.
func endedAt(value []byte) (end time.Time, known, open bool) {
	if string(value) == openEnd {
		return time.Time{}, true, true
	}
	end, err := time.Parse(sortableTime, string(value))
	return end, err == nil, false
}

// endedGrant is the value of a kindEnded entry.
type endedGrant struct {
	GrantID   string    `json:"grantId"`
	CreatedAt time.Time `json:"createdAt"`
}

// scopes are the kindEnded scope attributes a grant speaks about.
func scopes(g *model.Grant) []string {
	var out []string
	for _, c := range g.Categories {
		out = append(out, "c:"+c)
	}
	for _, id := range g.RecordIDs {
		out = append(out, "r:"+id)
	}
	return out
}

// end moves grants that stopped being in force (revoked, or expired) out of the live index and
// records each as the newest ended grant of its scopes where it is. The caller writes the
// grants. Grants that end in one transaction must end in one call: a transaction does not
// read its own writes, so summarising them one by one would keep the last, not the newest.
func (t *txn) end(gs ...*model.Grant) error {
	for _, g := range gs {
		if err := t.moveOut(g); err != nil {
			return err
		}
	}
	return t.summarise(gs...)
}

// moveOut moves a grant from the live index to the index of grants that ended.
func (t *txn) moveOut(g *model.Grant) error {
	gk := g.Grantee.Key()
	if err := t.stub.DelState(t.key(kindGranteeIdx, gk, g.Patient, g.ID)); err != nil {
		return model.Errorf(model.CodeInternal, "delete index: %v", err)
	}
	return t.index(t.key(kindGranteeEnd, gk, g.Patient, g.ID))
}

// summarise records each grant in kindEnded for each of its scopes and actions where it is
// newer than the grant recorded there and than the others given, writing each key once, in the
// order the grants and their scopes came.
func (t *txn) summarise(gs ...*model.Grant) error {
	var keys []string
	committed := map[string]endedGrant{}
	newest := map[string]endedGrant{}
	for _, g := range gs {
		gk := g.Grantee.Key()
		for _, scope := range scopes(g) {
			for _, action := range g.Actions {
				key := t.key(kindEnded, gk, g.Patient, scope, action, g.Purpose)
				cur, seen := newest[key]
				if !seen {
					if _, err := t.get(key, &cur); err != nil {
						return err
					}
					keys, committed[key] = append(keys, key), cur
				}
				if cur.GrantID == "" || createdBefore(cur.CreatedAt, cur.GrantID, g.CreatedAt, g.ID) {
					cur = endedGrant{GrantID: g.ID, CreatedAt: g.CreatedAt}
				}
				newest[key] = cur
			}
		}
	}
	for _, key := range keys {
		if newest[key] == committed[key] {
			continue
		}
		if err := t.put(key, newest[key]); err != nil {
			return err
		}
	}
	return nil
}

// settlePair brings the pair's index up to date before a grant is added: it migrates a pair of
// the old layout, moves the grants that ended out of the live index, and returns how many are
// still in force.
func (t *txn) settlePair(gk, patient string) (int, error) {
	pairKey := t.key(kindPair, gk, patient)
	marked, err := t.exists(pairKey)
	if err != nil {
		return 0, err
	}
	var ended []*model.Grant // to summarise, all in one call
	if !marked {
		var old []model.Grant
		if err := t.pairGrants(kindGranteeEnd, gk, patient, &old); err != nil {
			return 0, err
		}
		for i := range old {
			ended = append(ended, &old[i])
		}
		if err := t.index(pairKey); err != nil {
			return 0, err
		}
	}
	inForce := 0
	err = t.each(kindGranteeIdx, []string{gk, patient}, func(key string, value []byte) (bool, error) {
		end, known, open := endedAt(value)
		if known && (open || t.now.Before(end)) {
			inForce++
			return true, nil
		}
		g, err := t.indexedGrant(key)
		if err != nil {
			return false, err
		}
		if g.ValidUntil == nil || t.now.Before(*g.ValidUntil) {
			// An entry of the old layout for a grant in force: give it its end.
			inForce++
			return true, t.putLive(g)
		}
		ended = append(ended, g)
		return true, t.moveOut(g)
	})
	if err != nil {
		return 0, err
	}
	return inForce, t.summarise(ended...)
}

// indexedGrant loads the grant an index entry names by its last attribute.
func (t *txn) indexedGrant(key string) (*model.Grant, error) {
	id, err := t.lastAttr(key)
	if err != nil {
		return nil, err
	}
	return t.grant(id)
}

// liveGrants loads the grants in the live index from patient that name who or, for clinicians,
// who's organisation: at most MaxActiveGrants per grantee key on a ledger of this layout.
func (t *txn) liveGrants(patient string, who model.Party) ([]model.Grant, error) {
	var out []model.Grant
	for _, gk := range granteeKeys(who) {
		if err := t.pairGrants(kindGranteeIdx, gk, patient, &out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pairGrants appends the grants in one pair's index of the kind to out.
func (t *txn) pairGrants(kind, gk, patient string, out *[]model.Grant) error {
	return t.each(kind, []string{gk, patient}, func(key string, _ []byte) (bool, error) {
		g, err := t.indexedGrant(key)
		if err != nil {
			return false, err
		}
		*out = append(*out, *g)
		return true, nil
	})
}

// endedGrants loads, for each grantee key of who, the newest ended grant from patient that
// speaks about the record and action for the purpose ("" for any): at most one per grantee
// key and scope. For a pair of the old layout it loads the pair's revoked grants instead.
func (t *txn) endedGrants(patient string, who model.Party, rec *model.Record, action, purpose string) ([]model.Grant, error) {
	var out []model.Grant
	for _, gk := range granteeKeys(who) {
		marked, err := t.exists(t.key(kindPair, gk, patient))
		if err != nil {
			return nil, err
		}
		if !marked {
			if err := t.pairGrants(kindGranteeEnd, gk, patient, &out); err != nil {
				return nil, err
			}
			continue
		}
		var recScopes []string
		if rec.Category != "" {
			recScopes = append(recScopes, "c:"+rec.Category)
		}
		if rec.ID != "" {
			recScopes = append(recScopes, "r:"+rec.ID)
		}
		for _, scope := range recScopes {
			var newest *endedGrant
			err := t.each(kindEnded, []string{gk, patient, scope, action}, func(key string, value []byte) (bool, error) {
				p, err := t.lastAttr(key)
				if err != nil {
					return false, err
				}
				if purpose != "" && p != purpose && p != emergencyPurpose {
					return true, nil
				}
				var e endedGrant
				if err := unmarshal(value, &e); err != nil {
					return false, err
				}
				if newest == nil || createdBefore(newest.CreatedAt, newest.GrantID, e.CreatedAt, e.GrantID) {
					newest = &e
				}
				return true, nil
			})
			if err != nil {
				return nil, err
			}
			if newest != nil {
				g, err := t.grant(newest.GrantID)
				if err != nil {
					return nil, err
				}
				out = append(out, *g)
			}
		}
	}
	return out, nil
}

// granteeKeys are the grantee index keys whose grants may reach who: their own and, for
// clinicians, their organisation's. Only patients and clinicians use grants.
func granteeKeys(who model.Party) []string {
	switch who.Role {
	case model.RolePatient:
		return []string{model.Grantee{ID: who.ID}.Key()}
	case model.RoleClinician:
		return []string{model.Grantee{ID: who.ID}.Key(), model.Grantee{MSP: who.MSP}.Key()}
	}
	return nil
}
