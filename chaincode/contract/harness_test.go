package contract_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/careledger/careledger/chaincode/internal/memstub"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/stretchr/testify/require"
)

// world is one channel's ledger with the CareLedger chaincode and a clock the test controls.
type world struct {
	t      testing.TB
	ledger *memstub.Ledger
	cc     shim.Chaincode
	cas    map[string]*memstub.CA // each organisation's CA, by MSP ID
	now    time.Time
	seq    int
}

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var (
	sharedCC     shim.Chaincode
	sharedCCOnce sync.Once
)

func newWorld(t testing.TB) *world {
	t.Helper()
	// The contract is stateless, so every world can share one chaincode instance (building it
	// reflects over the contract and compiles its schema, which is the slow part).
	var err error
	sharedCCOnce.Do(func() { sharedCC, err = contract.NewChaincode() })
	require.NoError(t, err)
	cc := sharedCC
	return &world{t: t, ledger: memstub.New(), cc: cc, cas: map[string]*memstub.CA{}, now: epoch}
}

// ca returns the organisation's CA, creating it on first use.
func (w *world) ca(mspID string) *memstub.CA {
	w.t.Helper()
	if w.cas[mspID] == nil {
		ca, err := memstub.NewCA()
		require.NoError(w.t, err)
		w.cas[mspID] = ca
	}
	return w.cas[mspID]
}

// trust has an admin of each organisation put its CA certificate on the ledger, as every
// deployment does at bootstrap, so that gateways may act for the organisations' members.
func (w *world) trust(mspIDs ...string) {
	w.t.Helper()
	for _, msp := range mspIDs {
		admin := w.join(msp, model.RoleAdmin)
		admin.mustSubmit("SetOrgCACertificates", js(model.CACertificates{Roots: []string{w.ca(msp).CertPEM()}}))
	}
}

func (w *world) advance(d time.Duration) { w.now = w.now.Add(d) }

// member is an identity that signs proposals, possibly through a gateway.
type member struct {
	w         *world
	ident     *memstub.Identity
	mspID     string
	enrollID  string
	role      model.Role
	gateway   *member
	transient map[string][]byte
}

// join enrols a member of mspID with a role ("" for none) and a certificate valid around now.
func (w *world) join(mspID string, role model.Role) *member {
	w.t.Helper()
	w.seq++
	return w.joinAs(mspID, fmt.Sprintf("user%03d", w.seq), role)
}

func (w *world) joinAs(mspID, enrollmentID string, role model.Role) *member {
	w.t.Helper()
	attrs := map[string]string{}
	if role != "" {
		attrs["role"] = string(role)
	}
	ident, err := w.ca(mspID).Issue(mspID, enrollmentID, attrs, w.now.Add(-24*time.Hour), w.now.Add(365*24*time.Hour))
	require.NoError(w.t, err)
	return &member{w: w, ident: ident, mspID: mspID, enrollID: enrollmentID, role: role}
}

// id is the member's ledger pseudonym.
func (m *member) id() string { return model.PseudonymFor(m.mspID, m.enrollID) }

func (m *member) party() model.Party { return model.Party{MSP: m.mspID, ID: m.id(), Role: m.role} }

// through returns the member acting through gw, which passes m's certificate as transient data.
func (m *member) through(gw *member) *member {
	c := *gw
	c.transient = map[string][]byte{model.ActorTransientKey: m.ident.CertPEM}
	c.gateway = gw
	return &c
}

func (m *member) call(commit bool, fn string, args ...string) (string, *memstub.Result, error) {
	res := m.w.ledger.Invoke(m.w.cc, memstub.Call{
		Creator: m.ident.Creator, Transient: m.transient, Time: m.w.now,
		Args: append([]string{fn}, args...),
	}, commit)
	if res.Response.GetStatus() != shim.OK {
		if e, ok := model.ParseError(res.Response.GetMessage()); ok {
			return "", res, e
		}
		return "", res, errors.New(res.Response.GetMessage())
	}
	return string(res.Response.GetPayload()), res, nil
}

// submit runs a transaction that commits when it succeeds.
func (m *member) submit(fn string, args ...string) (string, error) {
	out, _, err := m.call(true, fn, args...)
	return out, err
}

// evaluate runs a query; nothing is committed.
func (m *member) evaluate(fn string, args ...string) (string, error) {
	out, _, err := m.call(false, fn, args...)
	return out, err
}

func (m *member) mustSubmit(fn string, args ...string) string {
	m.w.t.Helper()
	out, err := m.submit(fn, args...)
	require.NoError(m.w.t, err, "%s", fn)
	return out
}

func (m *member) mustEvaluate(fn string, args ...string) string {
	m.w.t.Helper()
	out, err := m.evaluate(fn, args...)
	require.NoError(m.w.t, err, "%s", fn)
	return out
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func decodeAs[T any](t testing.TB, s string) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal([]byte(s), &v), "decode %s", s)
	return v
}

func requireCode(t testing.TB, err error, code model.Code) {
	t.Helper()
	require.Error(t, err)
	var e *model.Error
	require.True(t, errors.As(err, &e), "error %q carries no CareLedger code", err)
	require.Equal(t, code, e.Code, "error: %v", err)
}

// hashOf returns a distinct valid SHA-256 hex string for n.
func hashOf(n int) string { return fmt.Sprintf("%064x", n+1) }

// registerRecord registers a record owned by owner through m and returns it.
func (w *world) registerRecord(m *member, id, owner, category string) model.Record {
	w.t.Helper()
	w.seq++
	out := m.mustSubmit("RegisterRecord", js(model.NewRecord{ID: id, Owner: owner, Category: category, Hash: hashOf(w.seq), Locator: "blob:" + id}))
	return decodeAs[model.Record](w.t, out)
}

func (w *world) grant(p *member, req model.GrantRequest) model.Grant {
	w.t.Helper()
	return decodeAs[model.Grant](w.t, p.mustSubmit("Grant", js(req)))
}

func (m *member) decide(recordID, action, purpose string) model.Decision {
	m.w.t.Helper()
	return decodeAs[model.Decision](m.w.t, m.mustEvaluate("CheckAccess", recordID, action, purpose))
}

func ptr[T any](v T) *T { return &v }

// cast is the usual set of people in a test.
type cast struct {
	patient, other, clinician, colleague, foreignClinician *member
	manufacturer, anonymizer, admin, gateway, noRole       *member
}

// newCast enrols the usual people and puts every organisation's CA on the ledger.
func newCast(w *world) cast {
	w.trust("PatientsMSP", "ClinicMSP", "OtherClinicMSP", "PharmaMSP")
	return cast{
		patient:          w.join("PatientsMSP", model.RolePatient),
		other:            w.join("PatientsMSP", model.RolePatient),
		clinician:        w.join("ClinicMSP", model.RoleClinician),
		colleague:        w.join("ClinicMSP", model.RoleClinician),
		foreignClinician: w.join("OtherClinicMSP", model.RoleClinician),
		manufacturer:     w.join("PharmaMSP", model.RoleManufacturer),
		anonymizer:       w.join("PatientsMSP", model.RoleAnonymizer),
		admin:            w.join("PatientsMSP", model.RoleAdmin),
		gateway:          w.join("ClinicMSP", model.RoleGateway),
		noRole:           w.join("ClinicMSP", ""),
	}
}
