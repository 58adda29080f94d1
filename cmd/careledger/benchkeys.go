package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/careledger/careledger/wallet/recordkey"
	"github.com/careledger/careledger/wallet/recordkey/pkcs11"
)

// benchKeys runs recordkey.Bench with the local key store and, when hsm is set, with the KEK
// on that PKCS#11 token, then prints the two side by side.
func benchKeys(ctx context.Context, out io.Writer, hsm *pkcs11.Config) error {
	machineLine(out)
	dir, err := os.MkdirTemp("", "careledger-bench-keys-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	local, err := recordkey.OpenLocal(dir, []byte("bench"))
	if err != nil {
		return err
	}
	defer local.Close()
	localResults, err := recordkey.Bench(ctx, out, local, recordkey.BenchOptions{})
	if err != nil || hsm == nil {
		return err
	}

	ks, err := pkcs11.New(ctx, *hsm)
	if err != nil {
		return err
	}
	defer ks.Close()
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return err
	}
	patient := "careledger-bench-" + hex.EncodeToString(id[:])
	hsmResults, err := recordkey.Bench(ctx, io.Discard, ks, recordkey.BenchOptions{PatientID: patient})
	if derr := ks.DestroyKey(ctx, patient); err == nil && derr != nil {
		err = fmt.Errorf("erase the benchmark's key: %w", derr)
	}
	if err != nil {
		return fmt.Errorf("bench with the PKCS#11 token: %w", err)
	}
	fmt.Fprintf(out, "\nKEK on the PKCS#11 token %q (%s) against the local key store, one caller:\n", hsm.TokenLabel, hsm.Module)
	printKeysComparison(out, localResults, hsmResults)
	return nil
}

// printKeysComparison prints the operations that involve the KEK (seal, open, wrap, unwrap)
// for both key services.
func printKeysComparison(w io.Writer, local, hsm []recordkey.BenchResult) {
	type key struct {
		op   string
		size int
	}
	byKey := map[key]recordkey.BenchResult{}
	for _, r := range hsm {
		byKey[key{r.Op, r.Size}] = r
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "operation\tsize\tlocal MiB/s\tlocal time/op\tPKCS#11 MiB/s\tPKCS#11 time/op\tPKCS#11 of local\t")
	for _, l := range local {
		switch l.Op {
		case "seal", "open", "wrap", "unwrap":
		default:
			continue
		}
		h, ok := byKey[key{l.Op, l.Size}]
		if !ok {
			continue
		}
		size, lspeed, hspeed := "-", "-", "-"
		if l.Size > 0 {
			size = fmt.Sprintf("%d KiB", l.Size>>10)
			lspeed = fmt.Sprintf("%.0f", l.MiBPerSec())
			hspeed = fmt.Sprintf("%.0f", h.MiBPerSec())
		}
		ratio := float64(l.PerOp()) / float64(max(h.PerOp(), 1))
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%.0f%%\t\n", l.Op, size, lspeed, l.PerOp().Round(10*time.Nanosecond),
			hspeed, h.PerOp().Round(10*time.Nanosecond), 100*ratio)
	}
	tw.Flush()
}
