package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/audit"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/events"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/stretchr/testify/require"
)

// stack is the gateway wired to an embedded ledger, on-disk blobs and a local key store, with
// the default consortium's people.
type stack struct {
	env     *gatewaytest.Env
	svc     *gateway.Service
	queue   *audit.Queue
	flusher *audit.Flusher
	blobDir string
	keys    *recordkey.Local

	patient, clinician             *ledger.Client // signing as themselves
	clinicianViaGateway            *ledger.Client // the clinic's PEP acting for the clinician
	patientID, clinicianID         string
	patientsGateway, clinicGateway *ledger.Client
	clinicianCert                  []byte
}

func newStack(t *testing.T, ttl time.Duration) *stack {
	t.Helper()
	ctx := context.Background()
	s := &stack{env: gatewaytest.Start(t)}
	dir := t.TempDir()
	s.blobDir = filepath.Join(dir, "blobs")
	blobs, err := blob.NewDisk(s.blobDir)
	require.NoError(t, err)
	s.keys, err = recordkey.OpenLocal(filepath.Join(dir, "keys"), []byte("test passphrase"), recordkey.WithLocalKDFCost(1, 64, 1))
	require.NoError(t, err)
	t.Cleanup(func() { s.keys.Close() })
	s.queue, err = audit.Open(filepath.Join(dir, "audit.db"))
	require.NoError(t, err)
	t.Cleanup(func() { s.queue.Close() })

	s.patient = s.env.Client(t, s.env.User(t, network.PatientsMSP, "patient1"))
	clin := s.env.User(t, network.ClinicMSP, "clinician1")
	s.clinicianCert = clin.CertPEM
	s.clinician = s.env.Client(t, clin)
	s.clinicGateway = s.env.Client(t, s.env.User(t, network.ClinicMSP, "gateway"))
	s.patientsGateway = s.env.Client(t, s.env.User(t, network.PatientsMSP, "gateway"))
	s.clinicianViaGateway = s.clinicGateway.For(clin.CertPEM)
	s.flusher = audit.NewFlusher(s.queue, map[string]audit.Writer{network.PatientsMSP: s.patientsGateway, network.ClinicMSP: s.clinicGateway})
	s.svc, err = gateway.New(gateway.Config{Blobs: blobs, Keys: s.keys, Audit: s.queue, DecisionTTL: ttl})
	require.NoError(t, err)
	me, err := s.patient.WhoAmI(ctx)
	require.NoError(t, err)
	s.patientID = me.ID
	doc, err := s.clinician.WhoAmI(ctx)
	require.NoError(t, err)
	s.clinicianID = doc.ID
	return s
}

const labResult = `{"resourceType":"Observation","status":"final","code":{"text":"Haemoglobin"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`

func (s *stack) upload(t *testing.T, as *ledger.Client, body string) *model.Record {
	t.Helper()
	rec, err := s.svc.Upload(context.Background(), as, gateway.Upload{Owner: s.patientID, Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(body)}})
	require.NoError(t, err)
	return rec
}

func (s *stack) grant(t *testing.T, g model.GrantRequest) {
	t.Helper()
	if g.Grantee == (model.Grantee{}) {
		g.Grantee = model.Grantee{ID: s.clinicianID}
	}
	if g.Purpose == "" {
		g.Purpose = "TREAT"
	}
	_, err := s.patient.Grant(context.Background(), g)
	require.NoError(t, err)
}

func (s *stack) trail(t *testing.T) []model.AccessEntry {
	t.Helper()
	require.NoError(t, s.flusher.Flush(context.Background()))
	page, err := s.patient.ListAccessLog(context.Background(), "", ledger.Page{Size: 200})
	require.NoError(t, err)
	return page.Entries
}

func TestGrantReadRevokeRefused(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	require.Equal(t, "lab", rec.Category)

	_, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrNoGrant)

	s.grant(t, model.GrantRequest{ID: "g-lab", Actions: []string{"read"}, Categories: []string{"lab"}, ValidUntil: ptr(time.Now().Add(30 * 24 * time.Hour))})
	rel, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)
	require.JSONEq(t, labResult, string(rel.Data))
	require.Equal(t, fhir.MediaType, rel.MediaType)
	require.Equal(t, "g-lab", rel.Decision.GrantID)

	// The refused attempt is in the patient's trail before the read, with its reason.
	trail := s.trail(t)
	require.Len(t, trail, 2)
	require.Equal(t, model.BasisRefused, trail[0].Basis)
	require.Equal(t, model.DenyNoGrant, trail[0].Reason)
	require.Equal(t, s.clinicianID, trail[1].Accessor.ID)
	require.Equal(t, "g-lab", trail[1].GrantID)
	require.Equal(t, rec.ID, trail[1].RecordID)

	_, err = s.patient.RevokeGrant(ctx, "g-lab")
	require.NoError(t, err)
	for range 5 {
		_, err = s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
		require.ErrorIs(t, err, gateway.ErrGrantRevoked)
	}
	require.Len(t, s.trail(t), 2, "one refused attempt per accessor and patient per window, however many")

	// The owner reads their own record; that is audited too.
	_, err = s.svc.Read(ctx, s.patient, rec.ID, 0, "")
	require.NoError(t, err)
	trail = s.trail(t)
	require.Len(t, trail, 3)
	require.Equal(t, model.BasisOwner, trail[2].Basis)
}

func TestExpiryAndScopes(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	lab := s.upload(t, s.patient, labResult)
	subject := `"subject":{"reference":"Patient/` + s.patientID + `"}`
	cond := s.upload(t, s.patient, `{"resourceType":"Condition","code":{"text":"x"},`+subject+`}`)
	med := s.upload(t, s.patient, `{"resourceType":"MedicationStatement","status":"active","medicationCodeableConcept":{"text":"x"},`+subject+`}`)

	s.grant(t, model.GrantRequest{ID: "g-short", Actions: []string{"read"}, Categories: []string{"lab"}, ValidUntil: ptr(time.Now().Add(3 * time.Second))})
	s.grant(t, model.GrantRequest{ID: "g-rec", Actions: []string{"read"}, RecordIDs: []string{med.ID}})

	_, err := s.svc.Read(ctx, s.clinicianViaGateway, lab.ID, 0, "")
	require.NoError(t, err)
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, med.ID, 0, "")
	require.NoError(t, err, "record scope")
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, cond.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrNoGrant, "neither the category nor the record is granted")

	list, err := s.clinicianViaGateway.ListPatientRecords(ctx, s.patientID, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, list.Records, 2)

	time.Sleep(time.Until(time.Now().Add(3 * time.Second)))
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, lab.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrGrantExpired)
}

func TestHistoryVersionsAndEmergency(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	s.grant(t, model.GrantRequest{ID: "g-care", Actions: []string{"read", "append"}, Categories: []string{"lab", "note"}})
	rec := s.upload(t, s.clinicianViaGateway, labResult)
	require.Equal(t, s.clinicianID, rec.CreatedBy.ID)
	v2 := `{"resourceType":"Observation","status":"amended","code":{"text":"Haemoglobin"},"valueQuantity":{"value":12.9,"unit":"g/dL"}}`
	up, err := s.svc.AppendVersion(ctx, s.clinicianViaGateway, rec.ID, gateway.Content{MediaType: fhir.MediaType, Data: []byte(v2)})
	require.NoError(t, err)
	require.Equal(t, 2, up.Versions)

	old, err := s.svc.Read(ctx, s.patient, rec.ID, 1, "")
	require.NoError(t, err)
	require.JSONEq(t, labResult, string(old.Data))
	latest, err := s.svc.Read(ctx, s.patient, rec.ID, 0, "")
	require.NoError(t, err)
	require.JSONEq(t, v2, string(latest.Data))
	require.Equal(t, old.Version.Hash, latest.Version.PrevHash)
	_, err = s.svc.Read(ctx, s.patient, rec.ID, 3, "")
	require.ErrorIs(t, err, gateway.ErrNotFound)

	// Break-glass on a category that was not granted.
	img, err := s.svc.Upload(ctx, s.patient, gateway.Upload{Owner: s.patientID, Category: "imaging", Content: gateway.Content{MediaType: "application/pdf", Data: []byte("%PDF-1.7 scan")}})
	require.NoError(t, err)
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, img.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrNoGrant)
	_, err = s.clinicianViaGateway.OpenEmergencyAccess(ctx, model.EmergencyRequest{ID: "e-1", Patient: s.patientID, Reason: "patient-unconscious", DurationMinutes: 30})
	require.NoError(t, err)
	rel, err := s.svc.Read(ctx, s.clinicianViaGateway, img.ID, 0, "")
	require.NoError(t, err)
	require.Equal(t, "application/pdf", rel.MediaType)
	require.Equal(t, model.BasisEmergency, rel.Decision.Basis)

	all, _, err := s.svc.ReadHistory(ctx, s.clinicianViaGateway, s.patientID, "", "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, all, 2, "the clinician's whole view: the lab record and, under break-glass, the scan")

	trail := s.trail(t)
	var emergencies int
	for _, e := range trail {
		if e.Basis == model.BasisEmergency {
			emergencies++
		}
	}
	require.GreaterOrEqual(t, emergencies, 1)
}

func TestTamperedCiphertextIsDetected(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	path := filepath.Join(s.blobDir, "objects", "records", s.patientID, rec.LatestHash+".blob")
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)/2] ^= 0x01
	require.NoError(t, os.WriteFile(path, data, 0o600))

	rel, err := s.svc.Read(ctx, s.patient, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrIntegrity)
	require.Nil(t, rel)
	n, err := s.queue.Len()
	require.NoError(t, err)
	require.Zero(t, n, "nothing released, nothing to audit")

	// Content that is gone is missing, not tampered with.
	require.NoError(t, os.Remove(path))
	_, err = s.svc.Read(ctx, s.patient, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrContentMissing)
	require.NotErrorIs(t, err, gateway.ErrIntegrity)
}

func TestWritesAreAllOrNothing(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	countBlobs := func() int {
		keys, err := os.ReadDir(filepath.Join(s.blobDir, "objects"))
		if os.IsNotExist(err) {
			return 0
		}
		require.NoError(t, err)
		n := 0
		filepath.WalkDir(filepath.Join(s.blobDir, "objects"), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				n++
			}
			return nil
		})
		_ = keys
		return n
	}
	_, err := s.svc.Upload(ctx, s.patient, gateway.Upload{Owner: s.patientID, Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(`{"status":"final"}`)}})
	require.ErrorIs(t, err, gateway.ErrInvalidContent)
	_, err = s.svc.Upload(ctx, s.patient, gateway.Upload{Owner: s.patientID, Content: gateway.Content{MediaType: "application/pdf", Data: []byte("%PDF")}})
	require.ErrorIs(t, err, gateway.ErrInvalidContent, "a document needs a category")
	require.Zero(t, countBlobs())

	// The ledger refuses the clinician (no append grant): what was stored is removed again.
	_, err = s.svc.Upload(ctx, s.clinicianViaGateway, gateway.Upload{Owner: s.patientID, Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(labResult)}})
	require.ErrorIs(t, err, &model.Error{Code: model.CodeForbidden})
	require.Zero(t, countBlobs())
}

func TestErasureShredsAndRefuses(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g", Actions: []string{"read"}, Categories: []string{"lab"}})
	_, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)

	// Nobody can make the gateway shred a patient who did not ask to be erased.
	err = s.svc.CompleteErasure(ctx, s.clinicGateway, s.patientID)
	require.ErrorIs(t, err, gateway.ErrNotFound)
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)

	require.NoError(t, s.svc.Erase(ctx, s.patient))
	require.NoError(t, s.svc.Erase(ctx, s.patient), "erasure can be repeated after a failure part-way")

	for _, as := range []*ledger.Client{s.patient, s.clinicianViaGateway} {
		_, err := s.svc.Read(ctx, as, rec.ID, 0, "")
		require.ErrorIs(t, err, gateway.ErrErased)
	}
	left, err := os.ReadDir(filepath.Join(s.blobDir, "objects", "records", s.patientID))
	if !os.IsNotExist(err) {
		require.NoError(t, err)
		require.Empty(t, left, "ciphertexts deleted")
	}
	_, err = s.keys.NewDataKey(ctx, s.patientID)
	require.ErrorIs(t, err, recordkey.ErrKeyDestroyed, "no key is ever created again for an erased patient")
	_, err = s.svc.Upload(ctx, s.patient, gateway.Upload{Owner: s.patientID, Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(labResult)}})
	require.ErrorIs(t, err, gateway.ErrErased)

	// The ledger still proves what happened: both reads before the erasure.
	require.Len(t, s.trail(t), 2)
}

func TestCrashBetweenReleaseAndAuditWriteLosesNothing(t *testing.T) {
	s := newStack(t, 0)
	ctx := context.Background()
	rec := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g", Actions: []string{"read"}, Categories: []string{"lab"}})
	for i := 0; i < 5; i++ {
		_, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
		require.NoError(t, err)
	}
	// The process dies after releasing content, before any flush: reopen the queue file.
	path := filepath.Join(filepath.Dir(s.blobDir), "audit.db")
	require.NoError(t, s.queue.Close())
	reopened, err := audit.Open(path)
	require.NoError(t, err)
	defer reopened.Close()
	n, err := reopened.Len()
	require.NoError(t, err)
	require.Equal(t, 5, n)
	f := audit.NewFlusher(reopened, map[string]audit.Writer{network.ClinicMSP: s.clinicGateway, network.PatientsMSP: s.patientsGateway})
	require.NoError(t, f.Flush(ctx))
	// A second flush after a crash mid-flush resends nothing twice.
	require.NoError(t, f.Flush(ctx))
	page, err := s.patient.ListAccessLog(ctx, "", ledger.Page{})
	require.NoError(t, err)
	require.Len(t, page.Entries, 5)
}

func TestRevokeEventDropsCachedDecisionAndEventsResume(t *testing.T) {
	s := newStack(t, time.Minute) // decisions cached for a minute unless the ledger says otherwise
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	rec := s.upload(t, s.patient, labResult)
	s.grant(t, model.GrantRequest{ID: "g", Actions: []string{"read"}, Categories: []string{"lab"}})

	checkpoint := filepath.Join(t.TempDir(), "events.checkpoint")
	var mu sync.Mutex
	var seen []string
	listen := func(ctx context.Context) (stop func()) {
		l, err := events.NewListener(s.clinicGateway.Network(), "careledger", checkpoint, nil)
		require.NoError(t, err)
		lctx, lcancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.Run(lctx, func(_ context.Context, ev *client.ChaincodeEvent) {
				s.svc.HandleEvent(ev.EventName, ev.Payload)
				mu.Lock()
				seen = append(seen, ev.TransactionID)
				mu.Unlock()
			})
		}()
		return func() { lcancel(); <-done; l.Close() }
	}
	stop := listen(ctx)
	// A new listener starts at the next block: wait until its stream is live by seeing a marker.
	require.Eventually(t, func() bool {
		marker, err := s.patient.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: false})
		require.NoError(t, err)
		time.Sleep(100 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == marker.TxID
	}, 10*time.Second, 10*time.Millisecond)
	_, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.NoError(t, err)

	revoked, err := s.patient.RevokeGrant(ctx, "g")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, err := s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
		return err != nil
	}, 10*time.Second, 20*time.Millisecond, "the revoke event must drop the cached decision")
	_, err = s.svc.Read(ctx, s.clinicianViaGateway, rec.ID, 0, "")
	require.ErrorIs(t, err, gateway.ErrGrantRevoked)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) > 0 && seen[len(seen)-1] == revoked.RevokedTxID
	}, 10*time.Second, 20*time.Millisecond, "seen %v, revoke %s", seen, revoked.RevokedTxID)
	stop()

	// While the listener is down, two more transactions emit events.
	g2, err := s.patient.Grant(ctx, model.GrantRequest{ID: "g2", Grantee: model.Grantee{ID: s.clinicianID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	require.NoError(t, err)
	r2, err := s.patient.RevokeGrant(ctx, "g2")
	require.NoError(t, err)
	mu.Lock()
	before := len(seen)
	mu.Unlock()

	stop = listen(ctx)
	defer stop()
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) >= before+2
	}, 10*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond) // let any wrongly repeated event arrive
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{g2.TxID, r2.RevokedTxID}, seen[before:], "resumed after the checkpoint: nothing missed, nothing repeated")
	counts := map[string]int{}
	for _, id := range seen {
		counts[id]++
		require.Equal(t, 1, counts[id], "event %s handled twice", id)
	}
}

func ptr[T any](v T) *T { return &v }
