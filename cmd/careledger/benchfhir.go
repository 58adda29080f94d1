package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/wallet"
)

// fhirBench sizes the FHIR part of `careledger bench api`.
type fhirBench struct {
	Observations   int // the patient's Observations, all returned by one search
	ObservationLen int // bytes of each, so that all of them make 64 KiB
	Others         int // further records, so that $everything returns Observations+Others
	Searches       int
	Everythings    int
	Concurrency    int
}

var defaultFHIRBench = fhirBench{Observations: 50, ObservationLen: 64 << 10 / 50, Others: 150, Searches: 400, Everythings: 40, Concurrency: 20}

// benchFHIR measures FHIR search and $everything through the whole stack: the patient
// uploads her records as two transaction Bundles and grants the clinician read on them; then
// Concurrency clinicians' sessions (the demo clinician's certificate) search the patient's
// Observations and read $everything over HTTPS, and the figures are printed.
func benchFHIR(ctx context.Context, out io.Writer, base string, roots *x509.CertPool, patientID, clinicianID *wallet.Identity, patient *client.Client, o fhirBench) error {
	pc, cc := fhirHTTP(patientID, roots, o.Concurrency), fhirHTTP(clinicianID, roots, o.Concurrency)
	me, doc := patientID.LedgerID(), clinicianID.LedgerID()
	obs := make([]string, o.Observations)
	for i := range obs {
		obs[i] = benchObservation(me, i, o.ObservationLen)
	}
	others := make([]string, o.Others)
	for i := range others {
		others[i] = fmt.Sprintf(`{"resourceType":"Condition","subject":{"reference":"Patient/%s"},"code":{"coding":[{"system":"http://fhir.de/CodeSystem/bfarm/icd-10-gm","code":"E11.9"}]},"recordedDate":"2024-%02d-01"}`, me, i%12+1)
	}
	for _, batch := range [][]string{obs, others} {
		if err := postTransaction(ctx, pc, base, batch); err != nil {
			return fmt.Errorf("bench fhir: upload: %w", err)
		}
	}
	until := time.Now().Add(24 * time.Hour)
	if _, _, err := patient.Grant(ctx, model.GrantRequest{Grantee: model.Grantee{ID: doc}, Actions: []string{model.ActionRead},
		Categories: []string{"lab", "diagnosis"}, Purpose: "TREAT", ValidUntil: &until}); err != nil {
		return fmt.Errorf("bench fhir: grant: %w", err)
	}
	search := base + "/fhir/Observation?patient=" + me + "&_count=" + fmt.Sprint(o.Observations)
	everything := base + "/fhir/Patient/" + me + "/$everything?_count=200"
	for _, b := range []struct {
		name, url string
		n, want   int
	}{
		{fmt.Sprintf("FHIR search, %d Observations (%d KiB)", o.Observations, o.Observations*o.ObservationLen>>10), search, o.Searches, o.Observations},
		{fmt.Sprintf("FHIR $everything, %d resources", o.Observations+o.Others), everything, o.Everythings, o.Observations + o.Others},
	} {
		if _, err := fhirGet(ctx, cc, b.url, b.want); err != nil { // warm-up, and the answer is checked once
			return fmt.Errorf("bench fhir: %s: %w", b.name, err)
		}
		lat, failed, elapsed, firstErr := fhirLoad(ctx, cc, b.url, b.want, b.n, o.Concurrency)
		fmt.Fprintf(out, "%s: %d requests, %d concurrent clinicians' sessions, %d errors\n", b.name, b.n, o.Concurrency, failed)
		fmt.Fprintf(out, "  %.1f requests/s  p50 %v  p99 %v  (%v total)\n", float64(b.n)/elapsed.Seconds(), pct(lat, 50), pct(lat, 99), elapsed.Round(time.Millisecond))
		if failed > 0 {
			return fmt.Errorf("bench fhir: %s: %d failed, first: %w", b.name, failed, firstErr)
		}
	}
	return nil
}

// benchObservation is a lab result of about size bytes.
func benchObservation(patient string, i, size int) string {
	head := fmt.Sprintf(`{"resourceType":"Observation","status":"final","category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}],`+
		`"code":{"coding":[{"system":"http://loinc.org","code":"4548-4"}]},"subject":{"reference":"Patient/%s"},"effectiveDateTime":"2024-11-%02d","valueQuantity":{"value":7.%d,"unit":"%%","system":"http://unitsofmeasure.org","code":"%%"},"note":[{"text":"`, patient, i%28+1, i%10)
	tail := `"}]}`
	return head + strings.Repeat("x", max(size-len(head)-len(tail), 0)) + tail
}

func fhirHTTP(id *wallet.Identity, roots *x509.CertPool, conns int) *http.Client {
	cert := tls.Certificate{Certificate: [][]byte{id.Certificate().Raw}, PrivateKey: id.Signer(), Leaf: id.Certificate()}
	return &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		MaxConnsPerHost: conns, MaxIdleConnsPerHost: conns,
	}}
}

func postTransaction(ctx context.Context, c *http.Client, base string, resources []string) error {
	entries := make([]string, len(resources))
	for i, r := range resources {
		var typ struct{ ResourceType string }
		_ = json.Unmarshal([]byte(r), &typ)
		entries[i] = `{"request":{"method":"POST","url":"` + typ.ResourceType + `"},"resource":` + r + `}`
	}
	body := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join(entries, ",") + `]}`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/fhir", bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("POST /fhir: %d %s", resp.StatusCode, msg)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	return err
}

// fhirGet fetches a searchset and checks it holds want resources; it returns the bytes read.
func fhirGet(ctx context.Context, c *http.Client, url string, want int) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %d", url, resp.StatusCode)
	}
	var b struct{ Entry []json.RawMessage }
	if err := json.Unmarshal(raw, &b); err != nil || len(b.Entry) != want {
		return 0, errors.New("the searchset does not hold what was uploaded")
	}
	return len(raw), nil
}

func fhirLoad(ctx context.Context, c *http.Client, url string, want, n, concurrency int) ([]time.Duration, int, time.Duration, error) {
	lat := make([]time.Duration, n)
	var next, failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				_, err := fhirGet(ctx, c, url, want)
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		})
	}
	wg.Wait()
	return lat, int(failed.Load()), time.Since(start), firstErr
}
