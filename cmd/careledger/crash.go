package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/wallet"
	"github.com/google/uuid"
	"github.com/spf13/cobra"
)

// crashOptions size a crash run.
type crashOptions struct {
	Rounds  int           // times the stack is killed with SIGKILL under load
	MaxLoad time.Duration // longest stretch of load before a kill
	Exe     string        // the careledger binary to run as the child
	Env     []string      // extra environment for the child
}

// crashReport counts what was acknowledged and what survived.
type crashReport struct {
	Uploads, Grants, Revokes, Reads int // acknowledged
	Lost                            int
	Restarts                        int
	Problems                        []string
}

// crashRun drives `careledger up` in dataDir with uploads, grants, revokes and granted reads,
// kills it with SIGKILL at random moments, restarts it, and finally checks that every
// acknowledged operation is in force: uploads readable with their hash, grants and revokes on
// the ledger, every released read in the patient's audit trail, and the block store intact.
func crashRun(ctx context.Context, w io.Writer, dataDir string, o crashOptions) (*crashReport, error) {
	d, err := startDriven(ctx, dataDir, o.Exe, o.Env)
	if err != nil {
		return nil, fmt.Errorf("first start: %w", err)
	}
	defer d.stop()
	rep := &crashReport{}
	patient, clinician, me, doc := d.patient, d.clinician, d.patientID, d.clinicianID
	child := d.child
	start := func() (*exec.Cmd, error) { return startUp(ctx, o.Exe, d.env, dataDir, d.apiAddr) }
	base, _, err := patient.Grant(ctx, model.GrantRequest{ID: "crash-base", Grantee: model.Grantee{ID: doc}, Actions: []string{"read"}, Categories: []string{"lab"}, Purpose: "TREAT"})
	if err != nil {
		return nil, fmt.Errorf("base grant: %w", err)
	}

	var mu sync.Mutex
	uploads := map[string][32]byte{} // record ID -> SHA-256 of the uploaded content
	grants := map[string]bool{}      // grant ID -> revoked (acknowledged)
	reads := map[string]int{}        // record ID -> acknowledged reads
	ids := []string{}
	for round := 0; round <= o.Rounds; round++ {
		loadCtx, cancel := context.WithTimeout(ctx, time.Duration(rand.Int64N(int64(o.MaxLoad)))+200*time.Millisecond)
		var wg sync.WaitGroup
		wg.Add(4)
		go func() { // uploads
			defer wg.Done()
			for i := 0; loadCtx.Err() == nil; i++ {
				body := []byte(fmt.Sprintf(`{"resourceType":"Observation","status":"final","code":{"text":"crash %d-%d"},"valueQuantity":{"value":%d,"unit":"mg/dL"}}`, round, i, i))
				rec, err := patient.Upload(loadCtx, client.Upload{Owner: me, MediaType: fhir.MediaType, Data: body})
				if err == nil {
					mu.Lock()
					uploads[rec.ID] = sha256.Sum256(body)
					ids = append(ids, rec.ID)
					mu.Unlock()
				}
			}
		}()
		go func() { // grants and revokes
			defer wg.Done()
			for loadCtx.Err() == nil {
				id := "crash-" + uuid.NewString()
				if _, _, err := patient.Grant(loadCtx, model.GrantRequest{ID: id, Grantee: model.Grantee{MSP: "ClinicMSP"}, Actions: []string{"read"}, Categories: []string{"note"}, Purpose: "CAREMGT"}); err != nil {
					continue
				}
				mu.Lock()
				grants[id] = false
				mu.Unlock()
				if _, _, err := patient.RevokeGrant(loadCtx, id); err == nil {
					mu.Lock()
					grants[id] = true
					mu.Unlock()
				}
			}
		}()
		for r := 0; r < 2; r++ {
			go func() { // granted reads
				defer wg.Done()
				for loadCtx.Err() == nil {
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
					if _, err := clinician.Content(loadCtx, id, 0, ""); err == nil {
						mu.Lock()
						reads[id]++
						mu.Unlock()
					}
				}
			}()
		}
		<-loadCtx.Done()
		cancel()
		if round == o.Rounds {
			wg.Wait()
			break
		}
		// Kill while requests are in flight, then restart.
		child.Process.Kill()
		child.Wait()
		wg.Wait()
		if child, err = start(); err != nil {
			return nil, fmt.Errorf("restart %d: %w", round+1, err)
		}
		d.child = child
		rep.Restarts++
	}

	// Verify every acknowledged operation.
	problem := func(format string, args ...any) {
		rep.Lost++
		rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
	}
	for id, sum := range uploads {
		c, err := patient.Content(ctx, id, 0, "")
		if err != nil {
			problem("upload %s: %v", id, err)
		} else if sha256.Sum256(c.Data) != sum {
			problem("upload %s: content differs", id)
		}
	}
	for id, revoked := range grants {
		g, err := patient.GetGrant(ctx, id)
		switch {
		case err != nil:
			problem("grant %s: %v", id, err)
		case revoked && !g.Revoked:
			problem("revoke of %s was acknowledged but is not in force", id)
		}
	}
	if g, err := patient.GetGrant(ctx, base.ID); err != nil || g.Revoked {
		problem("base grant lost: %v", err)
	}
	want := 0
	for _, n := range reads {
		want += n
	}
	got := 0
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		got = countClinicianReads(ctx, patient, doc)
		if got >= want || time.Now().After(deadline) {
			break
		}
	}
	if got < want {
		problem("audit trail: %d reads released, %d recorded", want, got)
	}
	rep.Uploads, rep.Reads = len(uploads), want
	for _, revoked := range grants {
		rep.Grants++
		if revoked {
			rep.Revokes++
		}
	}
	// Stop cleanly and verify the block store.
	d.stop()
	verify := exec.Command(o.Exe, "ledger", "verify", "--data-dir", dataDir)
	verify.Env = d.env
	if out, err := verify.CombinedOutput(); err != nil {
		problem("ledger verify: %v: %s", err, bytes.TrimSpace(out))
	}
	fmt.Fprintf(w, "crash run: %d kill -9 restarts survived; acknowledged: %d uploads, %d grants, %d revokes, %d reads; lost: %d\n",
		rep.Restarts, rep.Uploads, rep.Grants, rep.Revokes, rep.Reads, rep.Lost)
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "  LOST:", p)
	}
	return rep, nil
}

// startUp starts `careledger up` on dataDir as a child process, logging beside dataDir, and
// waits until its API is ready.
func startUp(ctx context.Context, exe string, env []string, dataDir, apiAddr string) (*exec.Cmd, error) {
	cmd := exec.Command(exe, "up", "--data-dir", dataDir, "--ledger-listen", "127.0.0.1:0", "--api-listen", apiAddr, "--demo-population", "0")
	cmd.Env = env
	if logf, err := os.OpenFile(dataDir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		cmd.Stdout, cmd.Stderr = logf, logf
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	if err := waitReady(ctx, dataDir, apiAddr); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	return cmd, nil
}

// driven is a `careledger up` child process and the demo patient and clinician talking to its
// API, for the crash and load runs.
type driven struct {
	child                  *exec.Cmd
	env                    []string
	apiAddr                string
	patient, clinician     *client.Client
	patientID, clinicianID string
}

const drivenPassphrase = "careledger-driven"

// startDriven starts `careledger up` on dataDir on a free loopback API port and connects the
// demo patient and clinician.
func startDriven(ctx context.Context, dataDir, exe string, extraEnv []string) (*driven, error) {
	apiAddr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	d := &driven{apiAddr: apiAddr, env: append(append(os.Environ(), extraEnv...),
		"CARELEDGER_WALLET_PASSPHRASE="+drivenPassphrase, "CARELEDGER_KEYSTORE_PASSPHRASE="+drivenPassphrase,
		// The server under test runs with the benchmark's runtime profile, which the bench printed.
		"CARELEDGER_RUNTIME_PROFILE="+appliedProfile)}
	if d.child, err = startUp(ctx, exe, d.env, dataDir, apiAddr); err != nil {
		return nil, err
	}
	for _, p := range []struct {
		label string
		c     **client.Client
		id    *string
	}{{"patient", &d.patient, &d.patientID}, {"clinician", &d.clinician, &d.clinicianID}} {
		c, err := walletClient(dataDir, apiAddr, p.label, drivenPassphrase)
		if err != nil {
			d.stop()
			return nil, err
		}
		me, err := c.Me(ctx)
		if err != nil {
			d.stop()
			return nil, err
		}
		*p.c, *p.id = c, me.ID
	}
	return d, nil
}

// stop stops the child cleanly (SIGINT), if it still runs.
func (d *driven) stop() {
	if d.child == nil || d.child.Process == nil {
		return
	}
	d.child.Process.Signal(os.Interrupt)
	d.child.Wait()
	d.child = nil
}

func countClinicianReads(ctx context.Context, patient *client.Client, clinicianID string) int {
	n := 0
	page := client.Page{Size: 200}
	for {
		p, err := patient.AccessLog(ctx, "", page)
		if err != nil {
			return n
		}
		for _, e := range p.Entries {
			if e.Accessor.ID == clinicianID && e.Action == model.ActionRead && e.Basis != model.BasisRefused {
				n++
			}
		}
		if p.Bookmark == "" {
			return n
		}
		page.Bookmark = p.Bookmark
	}
}

func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady waits until the API in dataDir answers /readyz.
func waitReady(ctx context.Context, dataDir, addr string) error {
	deadline := time.Now().Add(60 * time.Second)
	for ; time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		caFile, _, _ := apiTLSFiles(dataDir)
		caPEM, err := os.ReadFile(caFile)
		if err != nil {
			continue
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(caPEM)
		hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addr+"/readyz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("careledger up did not become ready within 60 s")
}

func walletClient(dataDir, addr, label, pass string) (*client.Client, error) {
	w, err := wallet.Open(filepath.Join(dataDir, "wallet"))
	if err != nil {
		return nil, err
	}
	id, err := w.Get(label, []byte(pass))
	if err != nil {
		return nil, err
	}
	caFile, _, _ := apiTLSFiles(dataDir)
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	return client.New("https://"+addr, client.WithIdentity(id.MSPID(), id.CertificatePEM(), id.Signer()), client.WithRootCAs(roots), client.WithTimeout(30*time.Second))
}

func newBenchCrashCmd() *cobra.Command {
	var o crashOptions
	cmd := &cobra.Command{
		Use:   "crash",
		Short: "Kill the whole stack with SIGKILL under mixed load, restart, and count what was lost",
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return err
			}
			o.Exe = exe
			dir, err := os.MkdirTemp("", "careledger-bench-crash-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			machineLine(cmd.OutOrStdout())
			rep, err := crashRun(cmd.Context(), cmd.OutOrStdout(), filepath.Join(dir, "data"), o)
			if err != nil {
				return err
			}
			if rep.Lost > 0 {
				return fmt.Errorf("%d acknowledged operations lost", rep.Lost)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&o.Rounds, "rounds", 10, "kill -9 restarts")
	cmd.Flags().DurationVar(&o.MaxLoad, "max-load", 3*time.Second, "longest load between kills")
	return cmd
}
