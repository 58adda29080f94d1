package contract_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"
)

// Outcomes in the matrix.
const (
	ok        = "+" // succeeds and returns what was asked for
	nothing   = "0" // succeeds but reveals nothing: an empty list or a refused decision
	forbidden = "F" // fails with FORBIDDEN
)

// The columns: who tries the transaction, in the standard scenario.
var matrixRoles = []string{"owner", "other-patient", "granted-clinician", "clinician", "manufacturer", "anonymizer", "admin", "gateway", "no-role"}

// scenario: the owner has a lab record, has granted one clinician read+append on lab, has
// opted in to research for drug development, has read their record once; a cohort is published
// and a role policy is set.
func scenario(t *testing.T) (*world, cast, map[string]*member) {
	w := newWorld(t)
	cs := newCast(w)
	cs.admin.mustSubmit("SetRolePolicy", js(standardPolicy))
	p := cs.patient
	w.registerRecord(p, "lab-1", p.id(), "lab")
	w.grant(p, model.GrantRequest{ID: "g-doc", Grantee: model.Grantee{ID: cs.clinician.id()}, Actions: []string{"read", "append"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	p.mustSubmit("SetResearchConsent", js(model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-development"}}))
	p.mustSubmit("RecordAccesses", js([]model.AccessReport{{ID: "a0", RecordID: "lab-1", Version: 1, Action: "read", Accessor: p.party(), Basis: model.BasisOwner, AccessedAt: w.now}}))
	cs.anonymizer.mustSubmit("PublishCohort", js(validPublication("c1")))
	who := map[string]*member{
		"owner": p, "other-patient": cs.other, "granted-clinician": cs.clinician, "clinician": cs.colleague,
		"manufacturer": cs.manufacturer, "anonymizer": cs.anonymizer, "admin": cs.admin, "gateway": cs.gateway, "no-role": cs.noRole,
	}
	return w, cs, who
}

var standardPolicy = model.RolePolicy{Rules: []model.RoleRule{
	{Role: model.RolePatient, MSPs: []string{"PatientsMSP"}},
	{Role: model.RoleClinician, MSPs: []string{"ClinicMSP", "OtherClinicMSP"}},
	{Role: model.RoleManufacturer, MSPs: []string{"PharmaMSP"}},
	{Role: model.RoleAnonymizer, MSPs: []string{"PatientsMSP"}},
	{Role: model.RoleAdmin, MSPs: []string{"PatientsMSP"}},
	{Role: model.RoleGateway, MSPs: []string{"ClinicMSP", "PatientsMSP"}},
}}

type matrixRow struct {
	// args builds the arguments for caller; it may prepare the world first.
	args func(w *world, cs cast, caller *member) []string
	// want has one outcome per matrixRoles entry.
	want string
	// empty reports whether a successful result revealed nothing.
	empty func(t *testing.T, out string) bool
}

func noArgs(*world, cast, *member) []string { return nil }

func matrixRows() map[string]matrixRow {
	isEmptyList := func(field string) func(t *testing.T, out string) bool {
		return func(t *testing.T, out string) bool {
			m := decodeAs[map[string]any](t, out)
			list, _ := m[field].([]any)
			return len(list) == 0
		}
	}
	freshRecord := func(w *world, cs cast, _ *member) []string {
		return []string{js(model.NewRecord{ID: "new-rec", Owner: cs.patient.id(), Category: "lab", Hash: hashOf(4242), Locator: "blob:new"})}
	}
	report := func(w *world, cs cast, caller *member) []string {
		r := model.AccessReport{ID: "a-matrix", RecordID: "lab-1", Version: 1, Action: "read", Accessor: caller.party(), AccessedAt: w.now}
		switch caller {
		case cs.patient:
			r.Basis = model.BasisOwner
		case cs.anonymizer:
			r.Basis, r.Purpose = model.BasisResearch, "drug-development"
		case cs.gateway: // the gateway reports its clinician's access
			r.Accessor, r.Basis, r.GrantID = cs.clinician.party(), model.BasisGrant, "g-doc"
		default:
			r.Basis, r.GrantID = model.BasisGrant, "g-doc"
		}
		if r.Accessor.Role == "" {
			r.Accessor.Role = model.RolePatient // claim a role the certificate does not carry
		}
		return []string{js([]model.AccessReport{r})}
	}
	return map[string]matrixRow{
		//                                                                         own oth gcl cli man ano adm gw  none
		"WhoAmI":        {args: noArgs, want: "+++++++++"},
		"GetRolePolicy": {args: noArgs, want: "+++++++++"},
		"SetRolePolicy": {args: func(*world, cast, *member) []string { return []string{js(standardPolicy)} }, want: "FFFFFF+FF"},
		// Each caller offers its own organisation's CA: only an admin may set it.
		"SetOrgCACertificates": {args: func(w *world, _ cast, caller *member) []string {
			return []string{js(model.CACertificates{Roots: []string{w.ca(caller.mspID).CertPEM()}})}
		}, want: "FFFFFF+FF"},
		"GetOrgCACertificates": {args: func(*world, cast, *member) []string { return []string{"ClinicMSP"} }, want: "+++++++++"},
		"RegisterRecord":       {args: freshRecord, want: "+F+FFFFFF"},
		"RegisterRecords": {args: func(w *world, cs cast, _ *member) []string {
			return []string{js([]model.NewRecord{
				{ID: "new-rec-1", Owner: cs.patient.id(), Category: "lab", Hash: hashOf(4244), Locator: "blob:new1"},
				{ID: "new-rec-2", Owner: cs.patient.id(), Category: "lab", Hash: hashOf(4245), Locator: "blob:new2"},
			})}
		}, want: "+F+FFFFFF"},
		"AppendVersion": {args: func(w *world, cs cast, _ *member) []string {
			rec := decodeAs[model.Record](w.t, cs.patient.mustEvaluate("GetRecord", "lab-1"))
			return []string{js(model.NewVersion{RecordID: "lab-1", PrevHash: rec.LatestHash, Hash: hashOf(4343), Locator: "blob:v2"})}
		}, want: "+F+FFFFFF"},
		"GetRecord":        {args: func(*world, cast, *member) []string { return []string{"lab-1"} }, want: "+F+FF+FFF"},
		"GetRecordHistory": {args: func(*world, cast, *member) []string { return []string{"lab-1"} }, want: "+F+FF+FFF"},
		"VerifyRecordHash": {args: func(w *world, cs cast, _ *member) []string { return []string{"lab-1", hashOf(1)} }, want: "+F+FF+FFF"},
		"ListPatientRecords": {args: func(w *world, cs cast, _ *member) []string { return []string{cs.patient.id(), "", "0", ""} },
			want: "+0+0F+FFF", empty: isEmptyList("records")},
		"GetPatientHistory": {args: func(w *world, cs cast, _ *member) []string { return []string{cs.patient.id(), "", "0", ""} },
			want: "+0+0F+FFF", empty: isEmptyList("records")},
		"CheckAccess": {args: func(*world, cast, *member) []string { return []string{"lab-1", "read", ""} },
			want: "+0+000000", empty: func(t *testing.T, out string) bool { return !decodeAs[model.Decision](t, out).Allowed }},
		"AuthorizeRead": {args: func(*world, cast, *member) []string { return []string{"lab-1", "0", ""} },
			want: "+0+000000", empty: func(t *testing.T, out string) bool {
				a := decodeAs[model.ReadAuthorization](t, out)
				require.Equal(t, a.Decision.Allowed, a.Record != nil && a.Version != nil, "metadata only with an allowed read: %s", out)
				return !a.Decision.Allowed
			}},
		"Grant": {args: func(w *world, cs cast, _ *member) []string {
			return []string{js(model.GrantRequest{ID: "g-new", Patient: cs.patient.id(), Grantee: model.Grantee{ID: cs.colleague.id()}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})}
		}, want: "+FFFFFFFF"},
		"RevokeGrant": {args: func(*world, cast, *member) []string { return []string{"g-doc"} }, want: "+FFFFFFFF"},
		"GetGrant":    {args: func(*world, cast, *member) []string { return []string{"g-doc"} }, want: "+F+FFFFFF"},
		"ListGrants": {args: func(w *world, cs cast, _ *member) []string { return []string{cs.patient.id(), "false", "0", ""} },
			want: "+FFFFFFFF"},
		"ListGrantsToMe": {args: func(*world, cast, *member) []string { return []string{"false", "0", ""} },
			want: "00+0FFFFF", empty: isEmptyList("grants")},
		"OpenEmergencyAccess": {args: func(w *world, cs cast, _ *member) []string {
			return []string{js(model.EmergencyRequest{ID: "e-new", Patient: cs.patient.id(), Reason: "life-threatening"})}
		}, want: "FF++FFFFF"},
		"AddDelegate": {args: func(w *world, cs cast, _ *member) []string {
			return []string{js(model.DelegateRequest{Delegate: cs.colleague.id()})}
		}, want: "++FFFFFFF"},
		"RemoveDelegate": {args: func(w *world, cs cast, caller *member) []string {
			if caller.role == model.RolePatient {
				caller.mustSubmit("AddDelegate", js(model.DelegateRequest{Delegate: cs.colleague.id()}))
			}
			return []string{cs.colleague.id()}
		}, want: "++FFFFFFF"},
		"ListDelegates": {args: func(*world, cast, *member) []string { return []string{"0", ""} },
			want: "00FFFFFFF", empty: isEmptyList("delegates")},
		"RecordAccesses": {args: report, want: "+F+FF+F+F"},
		"ListAccessLog": {args: func(w *world, cs cast, _ *member) []string { return []string{cs.patient.id(), "0", ""} },
			want: "+FFFFFFFF"},
		"SetResearchConsent": {args: func(w *world, cs cast, _ *member) []string {
			return []string{js(model.ResearchConsentRequest{Patient: cs.patient.id(), OptIn: true, Purposes: []string{"drug-safety"}})}
		}, want: "+FFFFFFFF"},
		"GetResearchConsent": {args: func(w *world, cs cast, _ *member) []string { return []string{cs.patient.id()} },
			want: "+FFFFFFFF"},
		"ListResearchConsents": {args: func(*world, cast, *member) []string { return []string{"drug-development", "0", ""} },
			want: "FFFFF+FFF"},
		"PublishCohort": {args: func(*world, cast, *member) []string { return []string{js(validPublication("c-new"))} },
			want: "FFFFF+FFF"},
		"GetCohort":      {args: func(*world, cast, *member) []string { return []string{"c1"} }, want: "++++++++F"},
		"ListCohorts":    {args: func(*world, cast, *member) []string { return []string{"0", ""} }, want: "++++++++F"},
		"RequestErasure": {args: noArgs, want: "++FFFFFFF"},
		"GetErasure": {args: func(w *world, cs cast, _ *member) []string {
			cs.other.mustSubmit("RequestErasure")
			return []string{cs.other.id()}
		}, want: "++++++++F"},
		"SetPrivacyBudget": {args: func(*world, cast, *member) []string { return []string{js(budgetRequest(1, 10))} },
			want: "FFFFFF+FF"},
		"RecordFeasibility": {args: func(w *world, cs cast, _ *member) []string {
			cs.admin.mustSubmit("SetPrivacyBudget", js(budgetRequest(1, 10)))
			return []string{js(answerFor(cs.manufacturer, "q-matrix", 30, 0.5))}
		}, want: "FFFFF+FFF"},
		"GetPrivacyBudget": {args: func(w *world, cs cast, _ *member) []string {
			cs.admin.mustSubmit("SetPrivacyBudget", js(budgetRequest(1, 10)))
			return []string{"PharmaMSP", "drug-development"}
		}, want: "++FF+++FF"},
		"ListDisclosures": {args: func(w *world, cs cast, _ *member) []string {
			cs.admin.mustSubmit("SetPrivacyBudget", js(budgetRequest(1, 10)))
			cs.anonymizer.mustSubmit("RecordFeasibility", js(answerFor(cs.manufacturer, "q-matrix", 30, 0.5)))
			return []string{"PharmaMSP", "0", ""}
		}, want: "++FF+++FF", empty: isEmptyList("disclosures")},
	}
}

// transactions lists the contract's transactions by reflection, so that a new transaction
// without a row in the matrix fails the test.
func transactions() []string {
	ctxType := reflect.TypeOf((*contractapi.TransactionContextInterface)(nil)).Elem()
	typ := reflect.TypeOf(&contract.Contract{})
	var out []string
	for i := 0; i < typ.NumMethod(); i++ {
		m := typ.Method(i)
		if m.Type.NumIn() > 1 && m.Type.In(1) == ctxType {
			out = append(out, m.Name)
		}
	}
	slices.Sort(out)
	return out
}

func TestEveryRoleAgainstEveryTransaction(t *testing.T) {
	rows := matrixRows()
	var names []string
	for name := range rows {
		names = append(names, name)
	}
	slices.Sort(names)
	require.Equal(t, transactions(), names, "every transaction needs a row in the matrix")

	for _, name := range names {
		row := rows[name]
		require.Len(t, row.want, len(matrixRoles), name)
		for i, role := range matrixRoles {
			want := string(row.want[i])
			t.Run(name+"/"+role, func(t *testing.T) {
				w, cs, who := scenario(t)
				caller := who[role]
				out, err := caller.submit(name, row.args(w, cs, caller)...)
				switch want {
				case forbidden:
					requireCode(t, err, model.CodeForbidden)
				case ok, nothing:
					require.NoError(t, err)
					if row.empty != nil {
						require.Equal(t, want == nothing, row.empty(t, out), "result: %s", out)
					} else {
						require.Equal(t, ok, want, "only listings and decisions can reveal nothing")
					}
				}
			})
		}
	}
}
