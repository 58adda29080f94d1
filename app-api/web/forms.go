package web

import (
	"encoding/json"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/google/uuid"
)

// Forms come from browsers, so every field is checked here before anything is sent to the
// ledger; the chaincode checks again, and its word is final.

// grantPurposes are the purposes a patient may choose; emergency treatment is opened by
// clinicians only.
var grantPurposes = []string{"TREAT", "CAREMGT", "PATRQT", "HRESCH", "CLINTRCH", "PUBHLTH"}

// emergencyDurations are the offered break-glass lengths in minutes.
var emergencyDurations = []int{60, 240, 1440}

// maxGrantRecords bounds the single records one grant from the web form may name.
const maxGrantRecords = 50

// parseGrantForm reads the "give access" form. now fixes what "a date in the past" means.
func parseGrantForm(f url.Values, now time.Time) (model.GrantRequest, error) {
	g := model.GrantRequest{ID: uuid.NewString()}
	switch f.Get("grantee_kind") {
	case "person":
		id := strings.ToLower(strings.TrimSpace(f.Get("grantee_id")))
		if !model.ValidPseudonym(id) {
			return g, badForm("the person's CareLedger ID is 32 characters, digits 0-9 and letters a-f.")
		}
		g.Grantee.ID = id
	case "org":
		msp := strings.TrimSpace(f.Get("grantee_org"))
		if !model.ValidMSPID(msp) {
			return g, badForm("please choose an organisation.")
		}
		g.Grantee.MSP = msp
	default:
		return g, badForm("please choose whether you give access to one person or to an organisation.")
	}
	for _, a := range f["actions"] {
		if !slices.Contains(model.Actions, a) {
			return g, badForm("unknown kind of access.")
		}
		if !slices.Contains(g.Actions, a) {
			g.Actions = append(g.Actions, a)
		}
	}
	if len(g.Actions) == 0 {
		return g, badForm("please tick what they may do: look at records, add to records, or both.")
	}
	for _, c := range f["categories"] {
		if c == "all" {
			g.Categories = slices.Clone(model.Categories)
			break
		}
		if !slices.Contains(model.Categories, c) {
			return g, badForm("unknown kind of record.")
		}
		if !slices.Contains(g.Categories, c) {
			g.Categories = append(g.Categories, c)
		}
	}
	for _, id := range f["records"] {
		if len(g.Categories) > 0 {
			return g, badForm("share either kinds of records or single records, not both.")
		}
		if !model.ValidID(id) {
			return g, badForm("unknown record.")
		}
		if !slices.Contains(g.RecordIDs, id) {
			g.RecordIDs = append(g.RecordIDs, id)
		}
		if len(g.RecordIDs) > maxGrantRecords {
			return g, badForm("one access may name at most %d single records.", maxGrantRecords)
		}
	}
	if len(g.Categories) == 0 && len(g.RecordIDs) == 0 {
		return g, badForm("please tick which kinds of records this is about.")
	}
	g.Purpose = f.Get("purpose")
	if !slices.Contains(grantPurposes, g.Purpose) {
		return g, badForm("please choose what the access is for.")
	}
	if until := strings.TrimSpace(f.Get("until")); until != "" {
		d, err := time.Parse("2006-01-02", until)
		if err != nil {
			return g, badForm("the end date must be a date like 2027-03-31.")
		}
		end := d.Add(24 * time.Hour) // the access lasts to the end of the day chosen
		if !end.After(now) {
			return g, badForm("the end date is in the past.")
		}
		if end.After(now.AddDate(10, 0, 0)) {
			return g, badForm("the end date may be at most ten years from today.")
		}
		g.ValidUntil = &end
	}
	return g, nil
}

// parseEmergencyForm reads the break-glass form.
func parseEmergencyForm(f url.Values) (model.EmergencyRequest, error) {
	e := model.EmergencyRequest{ID: uuid.NewString()}
	e.Patient = strings.ToLower(strings.TrimSpace(f.Get("patient")))
	if !model.ValidPseudonym(e.Patient) {
		return e, badForm("the patient's CareLedger ID is 32 characters, digits 0-9 and letters a-f.")
	}
	e.Reason = f.Get("reason")
	if !slices.Contains(model.EmergencyReasons, e.Reason) {
		return e, badForm("a reason is required for emergency access; please choose one.")
	}
	mins, err := strconv.Atoi(f.Get("minutes"))
	if err != nil || !slices.Contains(emergencyDurations, mins) {
		return e, badForm("please choose how long the emergency access lasts.")
	}
	e.DurationMinutes = mins
	return e, nil
}

const maxNoteRunes = 4000

// parseEntryForm reads the clinician's "add a note or result" form and builds the FHIR
// resource to store. The resource carries no patient name or ID: the ledger links it to the
// patient's pseudonym.
func parseEntryForm(f url.Values, now time.Time) ([]byte, error) {
	var res map[string]any
	when := now.UTC().Format(time.RFC3339)
	switch f.Get("kind") {
	case "note":
		text := strings.TrimSpace(f.Get("note"))
		if text == "" {
			return nil, badForm("the note is empty.")
		}
		if !utf8.ValidString(text) || utf8.RuneCountInString(text) > maxNoteRunes {
			return nil, badForm("the note may be at most %d characters.", maxNoteRunes)
		}
		res = map[string]any{
			"resourceType": "Communication", "status": "completed", "sent": when,
			"category": []any{map[string]any{"text": "clinical note"}},
			"payload":  []any{map[string]any{"contentString": text}},
		}
	case "result":
		name := strings.TrimSpace(f.Get("test"))
		if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > 200 {
			return nil, badForm("please give the name of the test (at most 200 characters).")
		}
		value, err := strconv.ParseFloat(strings.ReplaceAll(strings.TrimSpace(f.Get("value")), ",", "."), 64)
		if err != nil || math.IsNaN(value) || math.IsInf(value, 0) {
			return nil, badForm("the value must be a number, like 5.4.")
		}
		unit := strings.TrimSpace(f.Get("unit"))
		if !utf8.ValidString(unit) || utf8.RuneCountInString(unit) > 40 {
			return nil, badForm("the unit may be at most 40 characters.")
		}
		q := map[string]any{"value": value}
		if unit != "" {
			q["unit"] = unit
		}
		res = map[string]any{
			"resourceType": "Observation", "status": "final", "effectiveDateTime": when,
			"category": []any{map[string]any{"coding": []any{map[string]any{
				"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "laboratory",
			}}}},
			"code":          map[string]any{"text": name},
			"valueQuantity": q,
		}
	default:
		return nil, badForm("please choose whether you add a note or a result.")
	}
	data, err := json.Marshal(res)
	if err != nil {
		return nil, err
	}
	if _, err := fhir.Validate(data); err != nil {
		return nil, badForm("%v", err)
	}
	return data, nil
}

// parseResearchForm reads the research consent form.
func parseResearchForm(f url.Values) (model.ResearchConsentRequest, error) {
	var rc model.ResearchConsentRequest
	switch f.Get("choice") {
	case "yes":
		rc.OptIn = true
		for _, p := range f["purposes"] {
			if !slices.Contains(model.ResearchPurposes, p) {
				return rc, badForm("unknown kind of research.")
			}
			if !slices.Contains(rc.Purposes, p) {
				rc.Purposes = append(rc.Purposes, p)
			}
		}
		if len(rc.Purposes) == 0 {
			return rc, badForm("please tick at least one kind of research, or choose No.")
		}
	case "no":
	default:
		return rc, badForm("please choose Yes or No.")
	}
	return rc, nil
}

// parseQueryForm reads an aggregate query; attrs are the attributes the cohort offers.
func parseQueryForm(f url.Values, attrs []string) (AggregateQuery, error) {
	var q AggregateQuery
	for _, k := range []string{"group1", "group2"} {
		a := f.Get(k)
		if a == "" {
			continue
		}
		if !slices.Contains(attrs, a) || !model.ValidAttributeName(a) {
			return q, badForm("unknown attribute to group by.")
		}
		if !slices.Contains(q.GroupBy, a) {
			q.GroupBy = append(q.GroupBy, a)
		}
	}
	if len(q.GroupBy) == 0 {
		return q, badForm("please choose at least one attribute to group by.")
	}
	q.Statistic = f.Get("statistic")
	switch q.Statistic {
	case "count":
	case "sum", "mean":
		q.Attribute = strings.TrimSpace(f.Get("attribute"))
		if !model.ValidAttributeName(q.Attribute) {
			return q, badForm("a sum or mean needs the name of a numeric attribute.")
		}
	default:
		return q, badForm("please choose count, sum or mean.")
	}
	return q, nil
}
