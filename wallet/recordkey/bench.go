package recordkey

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/cpu"
)

// BenchOptions tunes Bench.
type BenchOptions struct {
	// Sizes are the payload sizes; default 4 KiB, 64 KiB and 8 MiB.
	Sizes []int
	// MinDuration is how long each figure is measured at least; default 300 ms.
	MinDuration time.Duration
	// PatientID is the patient whose KEK wraps the benchmark's data keys; default a fixed
	// benchmark ID. Use a throwaway ID: the benchmark creates its KEK.
	PatientID string
}

// BenchResult is one measured figure.
type BenchResult struct {
	// Op names what was measured: aes-256-gcm, sha-256, encrypt, decrypt, seal, open,
	// wrap or unwrap.
	Op string
	// Size is the payload size in bytes, 0 for wrap and unwrap.
	Size int
	// Ops is how many operations ran in Elapsed.
	Ops     int
	Elapsed time.Duration
}

// PerOp is the mean time per operation.
func (r BenchResult) PerOp() time.Duration { return r.Elapsed / time.Duration(max(r.Ops, 1)) }

// MiBPerSec is the throughput, 0 when Size is 0.
func (r BenchResult) MiBPerSec() float64 {
	if r.Size == 0 || r.Elapsed == 0 {
		return 0
	}
	return float64(r.Size) * float64(r.Ops) / r.Elapsed.Seconds() / (1 << 20)
}

// Bench measures the record encryption path on this machine and prints a table to w:
// raw AES-256-GCM and SHA-256 throughput as the hardware limit, then encrypt/decrypt with a
// given data key (the record format alone), seal/open (including a fresh data key from ks
// and its wrapping), and wrap/unwrap operations per second against ks. The encrypt column
// "of raw" is the share of raw AES-GCM throughput the format keeps.
func Bench(ctx context.Context, w io.Writer, ks KeyService, opts BenchOptions) ([]BenchResult, error) {
	if len(opts.Sizes) == 0 {
		opts.Sizes = []int{4 << 10, 64 << 10, 8 << 20}
	}
	if opts.MinDuration <= 0 {
		opts.MinDuration = 300 * time.Millisecond
	}
	if opts.PatientID == "" {
		opts.PatientID = "careledger-bench"
	}
	sealer, err := NewSealer(ks)
	if err != nil {
		return nil, err
	}
	key := make([]byte, DataKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	nonce := make([]byte, gcm.NonceSize())

	var results []BenchResult
	measure := func(op string, size int, f func() error) error {
		// One untimed run warms caches and creates the KEK on first use.
		if err := f(); err != nil {
			return fmt.Errorf("bench %s: %w", op, err)
		}
		r := BenchResult{Op: op, Size: size}
		start := time.Now()
		for r.Elapsed < opts.MinDuration {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := f(); err != nil {
				return fmt.Errorf("bench %s: %w", op, err)
			}
			r.Ops++
			r.Elapsed = time.Since(start)
		}
		results = append(results, r)
		return nil
	}

	for _, size := range opts.Sizes {
		pt := make([]byte, size)
		if _, err := rand.Read(pt); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		raw := make([]byte, 0, size+gcm.Overhead())
		sealed, err := sealWithKey(nil, key, defaultSegSize, pt, nil)
		if err != nil {
			return nil, err
		}
		rec, err := sealer.Seal(ctx, opts.PatientID, pt, nil)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		// Every operation reuses its output buffer, as the raw AES-GCM figure does, so the
		// comparison is not skewed by allocating and faulting in fresh memory.
		encBuf := make([]byte, 0, SealedSize(int64(size), defaultSegSize))
		decBuf := make([]byte, 0, size)
		steps := []struct {
			op string
			f  func() error
		}{
			{"aes-256-gcm", func() error { raw = gcm.Seal(raw[:0], nonce, pt, nil); return nil }},
			{"sha-256", func() error { _ = sha256.Sum256(pt); return nil }},
			{"encrypt", func() (err error) { encBuf, err = sealWithKey(encBuf[:0], key, defaultSegSize, pt, nil); return err }},
			{"decrypt", func() (err error) { decBuf, err = openWithKey(decBuf[:0], key, sealed, nil); return err }},
			{"seal", func() error {
				r, err := sealer.SealAppend(ctx, encBuf[:0], opts.PatientID, pt, nil)
				if err == nil {
					encBuf = r.Ciphertext
				}
				return err
			}},
			{"open", func() (err error) {
				decBuf, err = sealer.OpenAppend(ctx, decBuf[:0], opts.PatientID, rec.WrappedKey, rec.Ciphertext, nil)
				return err
			}},
		}
		for _, s := range steps {
			if err := measure(s.op, size, s.f); err != nil {
				return nil, err
			}
		}
	}
	dk, err := ks.NewDataKey(ctx, opts.PatientID)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err := measure("wrap", 0, func() error { _, err := ks.NewDataKey(ctx, opts.PatientID); return err }); err != nil {
		return nil, err
	}
	if err := measure("unwrap", 0, func() error { _, err := ks.UnwrapDataKey(ctx, opts.PatientID, dk.Wrapped); return err }); err != nil {
		return nil, err
	}
	printBench(w, results)
	return results, nil
}

func printBench(w io.Writer, results []BenchResult) {
	fmt.Fprintf(w, "machine: %s/%s, %d CPUs, %s, AES instructions: %v\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version(), hasAESInstructions())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tsize\tMiB/s\ttime/op\tof raw AES-GCM\t")
	rawSpeed := map[int]float64{}
	for _, r := range results {
		if r.Op == "aes-256-gcm" {
			rawSpeed[r.Size] = r.MiBPerSec()
		}
	}
	for _, r := range results {
		size, speed, ratio := "-", "-", ""
		if r.Size > 0 {
			size = formatSize(r.Size)
			speed = fmt.Sprintf("%.0f", r.MiBPerSec())
			if raw := rawSpeed[r.Size]; raw > 0 && r.Op != "sha-256" && r.Op != "aes-256-gcm" {
				ratio = fmt.Sprintf("%.0f%%", 100*r.MiBPerSec()/raw)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t\n", r.Op, size, speed, r.PerOp().Round(10*time.Nanosecond), ratio)
	}
	tw.Flush()
}

func formatSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

func hasAESInstructions() bool {
	switch runtime.GOARCH {
	case "amd64":
		return cpu.X86.HasAES && cpu.X86.HasPCLMULQDQ
	case "arm64":
		return cpu.ARM64.HasAES && cpu.ARM64.HasPMULL
	case "s390x":
		return cpu.S390X.HasAES && cpu.S390X.HasGHASH
	}
	return false
}
