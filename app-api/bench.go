package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
)

// BenchTarget is who the API benchmark runs as: a patient who owns the record read, and a
// clinician who reads it under a grant. Both talk HTTPS with their own certificates.
type BenchTarget struct {
	Patient, Clinician *client.Client
}

// BenchOptions size the benchmark.
type BenchOptions struct {
	// Requests is the number of granted reads (default 2000).
	Requests int
	// Concurrency is the number of concurrent readers (default 8).
	Concurrency int
}

// BenchResult holds the figures BenchAPI prints.
type BenchResult struct {
	Requests       int
	Errors         int
	Elapsed        time.Duration
	RequestsPerSec float64
	P50, P99, Max  time.Duration
}

const benchResource = `{"resourceType":"Observation","status":"final","category":[{"coding":[{"code":"laboratory"}]}],"code":{"text":"Haemoglobin"},"valueQuantity":{"value":13.2,"unit":"g/dL"}}`

// BenchAPI measures granted record reads through the full stack: HTTPS with client
// certificates, authentication, the policy enforcement point asking the ledger, decryption and
// the durable audit queue. It uploads a lab record as the patient, grants the clinician read
// on lab for a day (signed offline with the patient's key), then reads the record as the
// clinician from several goroutines, and prints requests/s and latency percentiles to w.
func BenchAPI(ctx context.Context, w io.Writer, t BenchTarget, o BenchOptions) (*BenchResult, error) {
	if t.Patient == nil || t.Clinician == nil {
		return nil, errors.New("bench api: patient and clinician clients are required")
	}
	if o.Requests <= 0 {
		o.Requests = 2000
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	doc, err := t.Clinician.Me(ctx)
	if err != nil {
		return nil, fmt.Errorf("bench api: clinician: %w", err)
	}
	rec, err := t.Patient.Upload(ctx, client.Upload{MediaType: client.FHIRMediaType, Data: []byte(benchResource)})
	if err != nil {
		return nil, fmt.Errorf("bench api: upload: %w", err)
	}
	until := time.Now().Add(24 * time.Hour)
	if _, _, err := t.Patient.Grant(ctx, model.GrantRequest{
		Grantee: model.Grantee{ID: doc.ID}, Actions: []string{model.ActionRead},
		Categories: []string{rec.Category}, Purpose: "TREAT", ValidUntil: &until,
	}); err != nil {
		return nil, fmt.Errorf("bench api: grant: %w", err)
	}
	if _, err := t.Clinician.Content(ctx, rec.ID, 0, "TREAT"); err != nil {
		return nil, fmt.Errorf("bench api: warm-up read: %w", err)
	}
	lat := make([]time.Duration, o.Requests)
	var next, failed atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(o.Requests) || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				_, err := t.Clinician.Content(ctx, rec.ID, 0, "TREAT")
				lat[i] = time.Since(t0)
				if err != nil {
					failed.Add(1)
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("bench api: %w", err)
	}
	slices.Sort(lat)
	res := &BenchResult{
		Requests: o.Requests, Errors: int(failed.Load()), Elapsed: elapsed,
		RequestsPerSec: float64(o.Requests) / elapsed.Seconds(),
		P50:            lat[len(lat)*50/100], P99: lat[min(len(lat)-1, len(lat)*99/100)], Max: lat[len(lat)-1],
	}
	fmt.Fprintf(w, "granted reads over HTTPS: %d requests, %d concurrent, %d errors\n", res.Requests, o.Concurrency, res.Errors)
	fmt.Fprintf(w, "  %.0f requests/s  p50 %v  p99 %v  max %v  (%v total)\n", res.RequestsPerSec,
		res.P50.Round(time.Microsecond), res.P99.Round(time.Microsecond), res.Max.Round(time.Microsecond), elapsed.Round(time.Millisecond))
	if res.Errors > 0 {
		return res, fmt.Errorf("bench api: %d reads failed, first: %w", res.Errors, firstErr)
	}
	return res, nil
}
