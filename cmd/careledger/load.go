package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// loadInterval is one reporting interval of a load run.
type loadInterval struct {
	Ops, Errors int64
	ReadP99     time.Duration
	// AnonKiB is the server's anonymous resident memory (heap, stacks): where a leak shows.
	// FileKiB is file-backed resident memory, mostly the memory-mapped ledger database, which
	// grows with the chain and which the kernel can drop.
	AnonKiB, FileKiB int64
}

// loadRun drives `careledger up` (a child process, so its memory is measured alone) with
// sustained mixed load: uploads, grants and revokes, and granted reads through the API. Every
// interval it prints operations per second, the error rate, the reads' p99 latency and the
// server's resident memory; at the end, the peak and the growth after warm-up.
func loadRun(ctx context.Context, w io.Writer, dataDir, exe string, env []string, dur, every time.Duration, readers int) ([]loadInterval, error) {
	d, err := startDriven(ctx, dataDir, exe, env)
	if err != nil {
		return nil, err
	}
	defer d.stop()
	child, patient, clinician := d.child, d.patient, d.clinician
	if _, _, err := patient.Grant(ctx, model.GrantRequest{ID: "load-base", Grantee: model.Grantee{ID: d.clinicianID}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"}); err != nil {
		return nil, err
	}
	var ops, errs atomic.Int64
	var mu sync.Mutex
	var ids []string
	var lat []time.Duration
	runCtx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	count := func(err error) {
		if err != nil && runCtx.Err() == nil {
			errs.Add(1)
		} else if err == nil {
			ops.Add(1)
		}
	}
	wg.Go(func() {
		for i := 0; runCtx.Err() == nil; i++ {
			body := []byte(`{"resourceType":"Observation","status":"final","code":{"text":"load ` + strconv.Itoa(i) + `"},"valueQuantity":{"value":1,"unit":"mg/dL"}}`)
			rec, err := patient.Upload(runCtx, client.Upload{Owner: d.patientID, MediaType: fhir.MediaType, Data: body})
			count(err)
			if err == nil {
				mu.Lock()
				ids = append(ids, rec.ID)
				mu.Unlock()
			}
		}
	})
	wg.Go(func() {
		for runCtx.Err() == nil {
			id := "load-" + uuid.NewString()
			_, _, err := patient.Grant(runCtx, model.GrantRequest{ID: id, Grantee: model.Grantee{MSP: "ClinicMSP"}, Actions: []string{"read"}, Categories: []string{"note"}, Purpose: "CAREMGT"})
			count(err)
			if err == nil {
				_, _, err = patient.RevokeGrant(runCtx, id)
				count(err)
			}
		}
	})
	for r := 0; r < readers; r++ {
		wg.Go(func() {
			for runCtx.Err() == nil {
				mu.Lock()
				var id string
				if len(ids) > 0 {
					id = ids[rand.IntN(len(ids))]
				}
				mu.Unlock()
				if id == "" {
					time.Sleep(10 * time.Millisecond)
					continue
				}
				t0 := time.Now()
				_, err := clinician.Content(runCtx, id, 0, "")
				count(err)
				if err == nil {
					mu.Lock()
					lat = append(lat, time.Since(t0))
					mu.Unlock()
				}
			}
		})
	}
	var out []loadInterval
	fmt.Fprintf(w, "load: %s of mixed load (1 uploader, 1 granter/revoker, %d readers) against careledger up (pid %d)\n", dur, readers, child.Process.Pid)
	fmt.Fprintf(w, "%8s %10s %8s %10s %12s %12s\n", "t", "ops/s", "errors", "read p99", "anon MiB", "file MiB")
	tick := time.NewTicker(every)
	defer tick.Stop()
	start := time.Now()
	for runCtx.Err() == nil {
		select {
		case <-runCtx.Done():
			continue // the run is over; the last full interval was reported
		case <-tick.C:
		}
		mu.Lock()
		l := lat
		lat = nil
		mu.Unlock()
		pid := child.Process.Pid
		iv := loadInterval{Ops: ops.Swap(0), Errors: errs.Swap(0), ReadP99: p99(l), AnonKiB: procStatus(pid, "RssAnon"), FileKiB: procStatus(pid, "RssFile")}
		out = append(out, iv)
		fmt.Fprintf(w, "%8s %10.0f %8d %10s %12.1f %12.1f\n", time.Since(start).Round(time.Second), float64(iv.Ops)/every.Seconds(), iv.Errors, iv.ReadP99.Round(time.Millisecond), float64(iv.AnonKiB)/1024, float64(iv.FileKiB)/1024)
	}
	wg.Wait()
	peak := procStatus(child.Process.Pid, "VmHWM")
	if len(out) >= 3 {
		warm, last := out[1].AnonKiB, out[len(out)-1].AnonKiB
		fmt.Fprintf(w, "peak RSS %.1f MiB; anonymous memory after warm-up %.1f MiB, at the end %.1f MiB (%+.1f MiB)\n", float64(peak)/1024, float64(warm)/1024, float64(last)/1024, float64(last-warm)/1024)
	}
	return out, nil
}

func p99(l []time.Duration) time.Duration {
	if len(l) == 0 {
		return 0
	}
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	return l[len(l)*99/100]
}

// procStatus reads a memory figure in KiB (VmRSS, VmHWM) of a process from /proc.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func newBenchLoadCmd() *cobra.Command {
	var dur, every time.Duration
	var readers int
	cmd := &cobra.Command{
		Use:   "load",
		Short: "Sustained mixed load: throughput, errors, p99 and the server's memory over time",
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			dir, err := os.MkdirTemp("", "careledger-bench-load-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			machineLine(cmd.OutOrStdout())
			_, err = loadRun(cmd.Context(), cmd.OutOrStdout(), filepath.Join(dir, "data"), exe, nil, dur, every, readers)
			return err
		},
	}
	cmd.Flags().DurationVar(&dur, "duration", 5*time.Minute, "how long to load")
	cmd.Flags().DurationVar(&every, "every", 30*time.Second, "reporting interval")
	cmd.Flags().IntVar(&readers, "readers", 16, "concurrent readers")
	return cmd
}
