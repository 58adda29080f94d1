package api_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	api "github.com/careledger/careledger/app-api"
	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/directory"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// The callers of the matrix, one letter each.
var matrixCallers = []struct{ letter, name string }{
	{"o", "owner patient"}, {"p", "other patient"}, {"g", "clinician with a grant"},
	{"r", "clinician whose grant was revoked"}, {"x", "clinician whose grant expired"},
	{"e", "clinician under emergency access"}, {"c", "clinician without a grant"},
	{"m", "manufacturer"}, {"a", "anonymiser"}, {"n", "no certificate"}, {"f", "certificate from an unknown CA"},
	{"d", "expired certificate"}, {"v", "revoked certificate"},
}

// matrixRoute is one route's request and the callers who may get a 2xx for it. Every other
// caller must get a refusal (4xx, or a TLS refusal for a foreign certificate); nobody may get a
// 5xx. The request is built so that the allowed callers can succeed.
type matrixRoute struct {
	query, body, mediaType string
	allowed                string
	why                    string // for the less obvious rows
	// status, when set, is the one status every caller with a certificate must get.
	status int
	// assertion, when set, says the route reads content and takes the member's signed access
	// assertion: "record" or "patient" names what it covers. Such a route is tried both
	// gateway-asserted and member-signed, with the same callers allowed.
	assertion string
	// sees, when set, are the callers who may find records in a 2xx FHIR Bundle; everyone
	// else's Bundle must hold none (a search answers an empty searchset, never a count).
	sees string
	// fill replaces path parameters of the row only ({id} of a FHIR type).
	fill map[string]string
}

func matrixRoutes() map[string]matrixRoute {
	anyCert := "opgrxecma"
	prepare := "a prepared transaction is only bytes to sign; the ledger refuses who may not commit it"
	return map[string]matrixRoute{
		"GET /healthz":                                {allowed: anyCert + "nfdv", why: "operational, no certificate needed"},
		"GET /readyz":                                 {allowed: anyCert + "nfdv"},
		"GET /metrics":                                {allowed: "", why: "admin certificates only (TestMetricsNeedAnAdminCertificate)"},
		"GET /openapi.yaml":                           {allowed: anyCert + "nfdv"},
		"GET /v1/me":                                  {allowed: anyCert},
		"GET /v1/me/grants":                           {allowed: "opgrxec", why: "grants naming the caller; manufacturers and the anonymiser are refused"},
		"POST /v1/records":                            {query: "owner={owner}", body: labResult, mediaType: client.FHIRMediaType, allowed: "o"},
		"GET /v1/records/{recordID}":                  {allowed: "ogea"},
		"GET /v1/records/{recordID}/content":          {allowed: "oge", assertion: "record"},
		"GET /v1/records/{recordID}/versions":         {allowed: "ogea"},
		"POST /v1/records/{recordID}/versions":        {body: labResult, mediaType: client.FHIRMediaType, allowed: "o"},
		"GET /v1/records/{recordID}/verify":           {query: "hash={hash}", allowed: "ogea"},
		"GET /v1/patients/{patientID}/records":        {allowed: "opgrxeca", why: "other patients and clinicians without a grant get an empty list"},
		"GET /v1/patients/{patientID}/history":        {allowed: "opgrxeca", why: "likewise"},
		"GET /v1/patients/{patientID}/content":        {allowed: "opgrxec", assertion: "patient", why: "the anonymiser reads content only for a research purpose"},
		"GET /v1/patients/{patientID}/erasure":        {allowed: "", why: "the patient is not erased: 404 for everyone"},
		"GET /v1/grants":                              {allowed: "op", why: "each patient their own grants"},
		"POST /v1/grants":                             {body: `{"grantee":{"msp":"ClinicMSP"},"actions":["read"],"categories":["note"],"purpose":"TREAT"}`, allowed: anyCert, why: prepare},
		"GET /v1/grants/{grantID}":                    {allowed: "og", why: "the patient and the grantee"},
		"DELETE /v1/grants/{grantID}":                 {allowed: anyCert, why: prepare},
		"GET /v1/grants/{grantID}/consent":            {allowed: "og"},
		"GET /v1/consents":                            {allowed: "op"},
		"POST /v1/emergency-access":                   {body: `{"patient":"{owner}","reason":"life-threatening","durationMinutes":5}`, allowed: "grxec"},
		"GET /v1/audit":                               {allowed: "op", why: "each patient their own trail"},
		"GET /v1/research-consent":                    {allowed: "o", why: "only the owner has one"},
		"PUT /v1/research-consent":                    {body: `{"optIn":true,"purposes":["drug-safety"]}`, allowed: anyCert, why: prepare},
		"GET /v1/delegates":                           {allowed: "op"},
		"POST /v1/delegates":                          {body: `{"delegate":"{other}"}`, allowed: anyCert, why: prepare},
		"DELETE /v1/delegates/{delegateID}":           {allowed: anyCert, why: prepare},
		"POST /v1/erasure":                            {allowed: anyCert, why: prepare},
		"POST /v1/erasure/complete":                   {allowed: "", why: "nobody is erased"},
		"POST /v1/transactions/endorse":               {body: `{"proposal":"AAAA","signature":"AAAA"}`, allowed: "", why: "not a signed proposal"},
		"POST /v1/transactions/submit":                {body: `{"transaction":"AAAA","signature":"AAAA"}`, allowed: ""},
		"POST /v1/transactions/commit":                {body: `{"commit":"AAAA","signature":"AAAA"}`, allowed: ""},
		"GET /v1/cohorts":                             {allowed: anyCert, why: "publications name nobody"},
		"POST /v1/cohorts":                            {body: `{"purpose":"drug-safety","k":5}`, allowed: "", status: http.StatusNotImplemented, why: "no publisher is configured here (careledger up configures one; its story is tested in cmd/careledger)"},
		"GET /v1/cohorts/{cohortID}":                  {allowed: anyCert},
		"GET /v1/cohorts/{cohortID}/files":            {allowed: anyCert},
		"GET /v1/cohorts/{cohortID}/files/{fileName}": {allowed: anyCert},
		"POST /v1/cohorts/{cohortID}/query":           {body: `{"groupBy":["age"],"statistic":"count"}`, allowed: anyCert},
		"GET /v1/organizations":                       {allowed: anyCert, why: "organisation names name nobody"},
		"GET /v1/directory/{pseudonym}":               {allowed: "opgrxec", why: "the granted clinician's entry: patients and clinicians may look a clinician up; manufacturers and the anonymiser may not"},
		"PUT /v1/directory/{pseudonym}":               {body: `{"name":"Dr Anna Weber","profession":"internist"}`, allowed: "g", why: "the granted clinician's own entry: only they (or their admin) may write it"},
		"POST /v1/feasibility": {body: `{"purpose":"drug-safety","criteria":{"version":1,"include":[{"condition":"E11"}]}}`, allowed: "m",
			why: "manufacturers ask; the anonymiser answers, and patients and clinicians may not ask"},
		"GET /v1/privacy-budget": {query: "msp=PharmaMSP&purpose=drug-safety", allowed: "opma", why: "manufacturers their own; patients see every budget"},
		"GET /v1/disclosures":    {allowed: "opma", why: "manufacturers their own organisation's log; patients the whole log without staff pseudonyms"},
		"PUT /v1/privacy-budget": {body: `{"msp":"PharmaMSP","purpose":"drug-safety","epsilon":1,"maxQueries":10}`, allowed: anyCert, why: prepare},
	}
}

// documentedOperations reads "METHOD /path" for every operation in openapi.yaml, which
// TestOpenAPIMatchesRoutes keeps equal to the router's routes.
func documentedOperations(t *testing.T) []string {
	raw, err := os.ReadFile("openapi.yaml")
	require.NoError(t, err)
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &doc))
	var ops []string
	for path, methods := range doc.Paths {
		for m := range methods {
			if slices.Contains([]string{"get", "post", "put", "delete", "patch"}, m) {
				ops = append(ops, strings.ToUpper(m)+" "+path)
			}
		}
	}
	slices.Sort(ops)
	return ops
}

// TestEveryRouteAgainstEveryCaller tries every documented route as every kind of caller and
// fails on any 2xx the table does not allow, on any 5xx, and on a route the table lacks.
func TestEveryRouteAgainstEveryCaller(t *testing.T) {
	routes := matrixRoutes()
	for op, route := range fhirMatrixRoutes(t, "", "", nil) { // the rows; filled in once the records exist
		routes[op] = route
	}
	ops := withFHIRInteractions(t, documentedOperations(t))
	var listed []string
	for op := range routes {
		listed = append(listed, op)
	}
	slices.Sort(listed)
	require.Equal(t, ops, listed, "every route needs a row in the matrix")

	var revokedSerial *big.Int
	dir, err := directory.Open(filepath.Join(t.TempDir(), "directory.db"), directory.DefaultOrgs())
	require.NoError(t, err)
	t.Cleanup(func() { dir.Close() })
	e := startEnv(t, func(c *api.Config) {
		c.CohortFiles = memCohorts{"c-matrix/dataset.csv": []byte(dataset)}
		c.Aggregator = countAggregator{}
		c.Directory = dir
		c.Feasibility = feasibilityStub{}
		c.Revoked = func(cert *x509.Certificate) bool {
			return revokedSerial != nil && cert.SerialNumber.Cmp(revokedSerial) == 0
		}
	})
	ctx := context.Background()
	st := e.stack
	owner := st.Client(t, e.patient)
	me, err := owner.WhoAmI(ctx)
	require.NoError(t, err)
	rec, err := st.Service.Upload(ctx, owner, gateway.Upload{Owner: me.ID, Content: gateway.Content{MediaType: client.FHIRMediaType, Data: []byte(labResult)}})
	require.NoError(t, err)
	otherUser := st.Issue(t, network.PatientsMSP, network.UserSpec{Name: "matrix-other", Role: network.RolePatient})
	revokedUser := st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "matrix-revoked", Role: network.RoleClinician})
	plainUser := st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "matrix-plain", Role: network.RoleClinician})
	expiredUser := st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "matrix-expired", Role: network.RoleClinician})
	emergencyUser := st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "matrix-emergency", Role: network.RoleClinician})
	certRevokedUser := st.Issue(t, network.ClinicMSP, network.UserSpec{Name: "matrix-cert-revoked", Role: network.RoleClinician})
	revokedSerial = certRevokedUser.Cert.SerialNumber
	anonUser := st.User(t, network.PatientsMSP, "anonymizer")
	other, err := st.Client(t, otherUser).WhoAmI(ctx)
	require.NoError(t, err)
	grant := func(id string, u *network.User) {
		who, err := st.Client(t, u).WhoAmI(ctx)
		require.NoError(t, err)
		_, err = owner.Grant(ctx, model.GrantRequest{ID: id, Grantee: model.Grantee{ID: who.ID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
		require.NoError(t, err)
	}
	grant("g-matrix", e.clinician)
	granted, err := st.Client(t, e.clinician).WhoAmI(ctx)
	require.NoError(t, err)
	_, err = dir.Put(ctx, directory.Member{MSP: network.ClinicMSP, Pseudonym: granted.ID, Role: model.RoleClinician}, granted.ID, "", directory.Profile{Name: "Dr Anna Weber", Profession: "internist"})
	require.NoError(t, err)
	expiring, err := st.Client(t, expiredUser).WhoAmI(ctx)
	require.NoError(t, err)
	until := time.Now().Add(1500 * time.Millisecond)
	_, err = owner.Grant(ctx, model.GrantRequest{ID: "g-expiring", Grantee: model.Grantee{ID: expiring.ID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: &until})
	require.NoError(t, err)
	_, err = st.As(t, emergencyUser).OpenEmergencyAccess(ctx, model.EmergencyRequest{ID: "e-matrix", Patient: me.ID, Reason: "patient-unconscious", DurationMinutes: 30})
	require.NoError(t, err)
	grant("g-revoked", revokedUser)
	_, err = owner.RevokeGrant(ctx, "g-revoked")
	require.NoError(t, err)
	_, err = owner.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}})
	require.NoError(t, err)
	_, err = st.Client(t, anonUser).PublishCohort(ctx, model.CohortPublication{
		ID: "c-matrix", DatasetHash: strings.Repeat("ab", 32), RowCount: 10, Purpose: "drug-safety", Models: []string{"k-anonymity"},
		Parameters: model.PrivacyParameters{K: 5}, QuasiIdentifiers: []string{"age"}, ConsentSnapshotHash: strings.Repeat("cd", 32),
	})
	require.NoError(t, err)
	setBudget(t, e, network.PharmaMSP)

	fhirIDs := storeFHIRMatrixRecords(t, e, me.ID)
	for op, route := range fhirMatrixRoutes(t, me.ID, other.ID, fhirIDs) {
		routes[op] = route
	}

	users := map[string]*network.User{"o": e.patient, "p": otherUser, "g": e.clinician, "r": revokedUser, "x": expiredUser,
		"e": emergencyUser, "c": plainUser, "m": e.manufacturer, "a": anonUser, "v": certRevokedUser}
	pca, pkey := orgCA(t, e, network.PatientsMSP)
	expiredCert := issue(t, pca, pkey, "old-patient", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	clients := map[string]*http.Client{"n": e.rawHTTP(nil), "f": e.rawHTTP(foreignCert(t)), "d": e.rawHTTP(expiredCert)}
	time.Sleep(time.Until(until)) // the expiring grant has now expired
	for letter, u := range users {
		clients[letter] = e.rawHTTP(tlsCert(u))
	}
	fill := strings.NewReplacer("{recordID}", rec.ID, "{patientID}", me.ID, "{grantID}", "g-matrix", "{delegateID}", other.ID,
		"{cohortID}", "c-matrix", "{fileName}", "dataset.csv", "{owner}", me.ID, "{other}", other.ID, "{hash}", rec.LatestHash, "{pseudonym}", granted.ID)
	pathParam := regexp.MustCompile(`\{[A-Za-z]+\}`)

	for _, op := range ops {
		route := routes[op]
		method, path, _ := strings.Cut(op, " ")
		for k, v := range route.fill {
			path = strings.ReplaceAll(path, k, v)
		}
		url := e.srv.URL + fill.Replace(path)
		require.False(t, pathParam.MatchString(fill.Replace(path)), "unfilled parameter in %s", op)
		if route.query != "" {
			url += "?" + fill.Replace(route.query)
		}
		for _, cv := range callerVariants(route) {
			caller, variant := cv.caller, cv.variant
			t.Run(op+"/"+caller.name+variant, func(t *testing.T) {
				var body io.Reader
				if route.body != "" {
					body = strings.NewReader(fill.Replace(route.body))
				}
				req, err := http.NewRequest(method, url, body)
				require.NoError(t, err)
				if route.body != "" {
					mt := route.mediaType
					if mt == "" {
						mt = "application/json"
					}
					req.Header.Set("Content-Type", mt)
				}
				if u := users[caller.letter]; variant != "" && u != nil {
					a := model.AccessAssertion{Nonce: model.NewAssertionNonce(), Action: model.ActionRead, At: time.Now()}
					if route.assertion == "record" {
						a.RecordID = rec.ID
					} else {
						a.Patient = me.ID
					}
					sa, err := model.SignAssertion(u.Key, a)
					require.NoError(t, err)
					req.Header.Set(model.AssertionHeader, sa.Encode())
				}
				resp, err := clients[caller.letter].Do(req)
				if err != nil && (caller.letter == "f" || caller.letter == "d") {
					return // a certificate the server cannot verify is refused during the TLS handshake
				}
				require.NoError(t, err)
				raw, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if route.status != 0 && !strings.Contains("nfdv", caller.letter) {
					require.Equal(t, route.status, resp.StatusCode, "%s as %s", op, caller.name)
					return
				}
				require.Less(t, resp.StatusCode, 500, "%s as %s: server error", op, caller.name)
				if !strings.Contains(route.allowed, caller.letter) {
					require.False(t, resp.StatusCode < 300, "%s as %s: unexpected %d (%s)", op, caller.name, resp.StatusCode, route.why)
				}
				if route.sees != "" && resp.StatusCode < 300 && !strings.Contains(route.sees, caller.letter) {
					require.Empty(t, fhirRecordsIn(t, raw), "%s as %s: records in the Bundle", op, caller.name)
				}
			})
		}
	}
}

type callerVariant struct {
	caller  struct{ letter, name string }
	variant string
}

// callerVariants lists every caller once, and once more member-signed for a route that reads
// content.
func callerVariants(route matrixRoute) []callerVariant {
	var out []callerVariant
	for _, c := range matrixCallers {
		out = append(out, callerVariant{caller: c})
		if route.assertion != "" {
			out = append(out, callerVariant{caller: c, variant: " member-signed"})
		}
	}
	return out
}

// foreignCert is a client certificate from a CA no organisation of the consortium knows.
func foreignCert(t *testing.T) *tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "intruder"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
