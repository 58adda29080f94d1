package cohort_test

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/blob"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/gatewaytest"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/stretchr/testify/require"
)

type patient struct {
	client *ledger.Client
	id     string
}

func TestPublishOnlyConsentingPatientsAnonymisedAndAudited(t *testing.T) {
	ctx := context.Background()
	st := gatewaytest.StartStack(t, 0)
	blobs, err := blob.NewDisk(t.TempDir())
	require.NoError(t, err)

	var patients []patient
	for i := 0; i < 14; i++ {
		u := st.Issue(t, network.PatientsMSP, network.UserSpec{Name: fmt.Sprintf("cohort-p%02d", i), Role: network.RolePatient})
		c := st.Client(t, u)
		me, err := c.WhoAmI(ctx)
		require.NoError(t, err)
		p := patient{client: c, id: me.ID}
		patients = append(patients, p)
		sex := []string{"female", "male"}[i%2]
		demo := fmt.Sprintf(`{"resourceType":"Patient","gender":%q,"birthDate":"19%02d-0%d-1%d","address":[{"postalCode":"1011%d"}]}`, sex, 50+i%4, 1+i%8, i%9, i%3)
		cond := fmt.Sprintf(`{"resourceType":"Condition","code":{"coding":[{"system":"http://hl7.org/fhir/sid/icd-10","code":"%s"}]},"subject":{"reference":"Patient/%s"}}`, []string{"C50.9", "E11.9", "I10"}[i%3], p.id)
		for _, body := range []string{demo, cond} {
			_, err := st.Service.Upload(ctx, c, gateway.Upload{Owner: p.id, Content: gateway.Content{MediaType: fhir.MediaType, Data: []byte(body)}})
			require.NoError(t, err)
		}
		if i < 12 { // two patients never consent
			_, err = c.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: true, Purposes: []string{"drug-safety"}})
			require.NoError(t, err)
		}
	}
	anon := st.Client(t, st.User(t, network.PatientsMSP, "anonymizer"))
	pub := cohort.NewPublisher(st.Service, anon, blobs, nil)

	res, err := pub.Publish(ctx, cohort.Spec{ID: "cohort-1", Purpose: "drug-safety", K: 3, SuppressionLimit: 0.25, ReferenceDate: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.NoError(t, err)
	pubd := res.Cohort.Publication
	require.Equal(t, 12, pubd.RowCount+pubd.SuppressedRows, "every consenting patient, and only they, went in")
	require.Equal(t, []string{"age", "postal_code", "sex"}, pubd.QuasiIdentifiers)
	require.Equal(t, 3, pubd.Parameters.K)

	// The stored file is the one the ledger's hash names.
	csvKey, _, reportKey := cohort.Files("cohort-1")
	stored, err := blobs.Get(ctx, csvKey)
	require.NoError(t, err)
	sum := sha256.Sum256(stored)
	require.Equal(t, hex.EncodeToString(sum[:]), pubd.DatasetHash)
	_, err = blobs.Get(ctx, reportKey)
	require.NoError(t, err)

	// No pseudonym, and every quasi-identifier combination at least k times.
	text := string(stored)
	for _, p := range patients {
		require.NotContains(t, text, p.id)
	}
	rows, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	require.NoError(t, err)
	head := rows[0]
	idx := map[string]int{}
	for i, h := range head {
		idx[h] = i
	}
	classes := map[string]int{}
	for _, r := range rows[1:] {
		classes[r[idx["age"]]+"|"+r[idx["sex"]]+"|"+r[idx["postal_code"]]]++
	}
	for class, n := range classes {
		require.GreaterOrEqual(t, n, 3, "class %s", class)
	}

	// Every read was audited on the consenting patients' trails, and nobody else was read.
	require.NoError(t, st.Flusher.Flush(ctx))
	for i, p := range patients {
		trail, err := p.client.ListAccessLog(ctx, "", ledger.Page{})
		require.NoError(t, err)
		research := 0
		for _, e := range trail.Entries {
			if e.Basis == model.BasisResearch {
				research++
				require.Equal(t, "drug-safety", e.Purpose)
			}
		}
		if i < 12 {
			require.Equal(t, 2, research, "patient %d", i)
		} else {
			require.Zero(t, research, "patient %d never consented", i)
		}
	}

	// A withdrawn patient is absent from every later cohort.
	_, err = patients[0].client.SetResearchConsent(ctx, model.ResearchConsentRequest{OptIn: false})
	require.NoError(t, err)
	res2, err := pub.Publish(ctx, cohort.Spec{ID: "cohort-2", Purpose: "drug-safety", K: 3, SuppressionLimit: 0.25})
	require.NoError(t, err)
	require.Equal(t, 11, res2.Cohort.Publication.RowCount+res2.Cohort.Publication.SuppressedRows)
	require.NotEqual(t, pubd.ConsentSnapshotHash, res2.Cohort.Publication.ConsentSnapshotHash)

	// A model that cannot be met publishes nothing.
	_, err = pub.Publish(ctx, cohort.Spec{ID: "cohort-3", Purpose: "drug-safety", K: 50})
	require.ErrorIs(t, err, cohort.ErrNoCohort)
	list, err := anon.ListCohorts(ctx, ledger.Page{})
	require.NoError(t, err)
	require.Len(t, list.Cohorts, 2)
}
