package web

import (
	"strconv"
	"strings"

	"github.com/careledger/careledger/chaincode/model"
)

// The ledger speaks in codes; people read these words instead.

var purposeWords = map[string]string{
	"TREAT":    "treatment",
	"ETREAT":   "emergency treatment",
	"CAREMGT":  "care planning and aftercare",
	"PATRQT":   "because I asked (for example a second opinion)",
	"HRESCH":   "health research",
	"CLINTRCH": "a clinical trial",
	"PUBHLTH":  "public health",
}

func purposeWord(code string) string {
	if w, ok := purposeWords[code]; ok {
		return w
	}
	if code == "" {
		return "any purpose"
	}
	return code
}

var categoryWords = map[string]string{
	"lab": "lab results", "imaging": "scans and images", "medication": "medicines",
	"diagnosis": "diagnoses", "note": "notes", "questionnaire": "questionnaires",
	"document": "documents", "procedure": "procedures", "vital-signs": "vital signs (blood pressure, pulse…)",
	"allergy": "allergies", "immunization": "vaccinations", "care-plan": "care plans",
	"demographics": "personal details (name, date of birth, sex, address)", "consent": "consent forms",
}

// categoryHints say more where ticking a category shares more than its name suggests.
var categoryHints = map[string]string{
	"demographics": "This tells them who you are: your name, date of birth, sex and address. Without it they see your records under your CareLedger ID only.",
}

func categoryWord(c string) string {
	if w, ok := categoryWords[c]; ok {
		return w
	}
	return c
}

func roleWord(r string) string {
	switch r {
	case "":
		return "an identity without a role"
	case string(model.RoleAnonymizer):
		return "the anonymiser"
	case string(model.RoleAdmin):
		return "an administrator"
	case string(model.RoleGateway):
		return "a gateway service"
	}
	return "a " + r
}

var basisWords = map[string]string{
	model.BasisOwner:     "your own access",
	model.BasisGrant:     "access you gave",
	model.BasisEmergency: "EMERGENCY access",
	model.BasisResearch:  "your research consent",
}

func basisWord(b string) string {
	if w, ok := basisWords[b]; ok {
		return w
	}
	return b
}

// assuranceWord says who vouches that the person in an audit entry really asked for the access.
func assuranceWord(a string) string {
	if a == model.AssuranceMemberSigned {
		return "they signed for it themselves"
	}
	return "only their organisation's system says so"
}

func actionsWord(actions []string) string {
	var out []string
	for _, a := range actions {
		switch a {
		case model.ActionRead:
			out = append(out, "look at")
		case model.ActionAppend:
			out = append(out, "add to")
		default:
			out = append(out, a)
		}
	}
	return strings.Join(out, " and ")
}

var researchWords = map[string]string{
	"academic-research": "research at universities and hospitals",
	"drug-development":  "developing new medicines",
	"drug-safety":       "checking that medicines are safe",
	"medical-device":    "developing and checking medical devices",
	"public-health":     "public health planning",
	"ai-training":       "training computer programs (AI) that help doctors",
}

func researchWord(p string) string {
	if w, ok := researchWords[p]; ok {
		return w
	}
	return p
}

var reasonWords = map[string]string{
	"patient-unconscious":       "the patient is unconscious",
	"life-threatening":          "life-threatening situation",
	"patient-unable-to-consent": "the patient cannot give consent",
	"urgent-medication-check":   "urgent check of medicines",
	"other-emergency":           "other emergency",
}

func reasonWord(r string) string {
	if w, ok := reasonWords[r]; ok {
		return w
	}
	return r
}

func statusWord(s string) string {
	switch s {
	case model.GrantActive:
		return "in force"
	case model.GrantPending:
		return "starts later"
	case model.GrantExpired:
		return "ended"
	case model.GrantRevoked:
		return "taken back"
	}
	return s
}

// shortID shows the start of a pseudonym; the whole one is in the element's title.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}

func trimFloat(f float64) string {
	return strconv.FormatFloat(f, 'f', -1, 64)
}

var refusalWords = map[string]string{
	model.DenyNoGrant:           "you had not given them access",
	model.DenyGrantExpired:      "the access you gave had ended",
	model.DenyGrantRevoked:      "you had taken the access back",
	model.DenyGrantNotYetValid:  "the access you gave had not started yet",
	model.DenyRoleNotPermitted:  "their role may never see records",
	model.DenyNoResearchConsent: "you had not agreed to research use",
}

// refusalWord says why the ledger refused an attempt, to the patient.
func refusalWord(reason string) string {
	if w, ok := refusalWords[reason]; ok {
		return w
	}
	return reason
}
