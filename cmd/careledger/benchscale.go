package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/gateway"
	"github.com/careledger/careledger/gateway/fhir"
	"github.com/careledger/careledger/gateway/ledger"
	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/spf13/cobra"
)

// scaleOptions say how far `bench scale` grows the ledger and how it measures.
type scaleOptions struct {
	Max      int           // most operations; sizes are 1k, 3k, 10k, 30k, ... up to Max
	Workers  int           // concurrent clients while the ledger is filled
	Patients int           // patients whose records, grants and audit trails grow
	Sample   time.Duration // how long each latency is sampled
	Dir      string        // keep the data here instead of a temporary directory
}

func newBenchScaleCmd() *cobra.Command {
	o := scaleOptions{Max: 10_000, Workers: 32, Patients: 16, Sample: 2 * time.Second}
	cmd := &cobra.Command{
		Use:   "scale",
		Short: "How every cost grows with the ledger: decisions, reads, listings, start-up, verify, disk, memory",
		Long: `Fills a fresh ledger and record store through the normal paths (patients upload FHIR records,
grant and revoke; a clinician reads through the gateway, so the audit trail grows) with many
concurrent clients, and at each size of the series 1k, 3k, 10k, 30k, ... operations up to --max
measures: access decisions (evaluate) and granted reads through the gateway; a patient's record
list and audit trail, first and last page; a clinician's patient list as the web UI builds it
(every grant to them, ended ones included); node start-up as a child process ('careledger node')
after a clean stop and after kill -9; 'ledger verify'; bytes on disk per transaction, per
audited read and per stored record; memory. One table, each figure with its growth over the
previous size.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return benchScale(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	fl := cmd.Flags()
	fl.IntVar(&o.Max, "max", o.Max, "largest size, in operations (uploads, grants, revokes and audited reads)")
	fl.IntVar(&o.Workers, "workers", o.Workers, "concurrent clients while filling")
	fl.IntVar(&o.Patients, "patients", o.Patients, "patients the history is spread over")
	fl.DurationVar(&o.Sample, "sample", o.Sample, "how long each latency is sampled at each size")
	fl.StringVar(&o.Dir, "dir", "", "build the ledger here and keep it (default: a temporary directory, removed)")
	return cmd
}

// scaleSizes is the series 1k, 3k, 10k, 30k, ... up to max, with max itself last.
func scaleSizes(max int) []int {
	var out []int
	for base := 1000; base <= max; base *= 10 {
		for _, n := range []int{base, 3 * base} {
			if n <= max {
				out = append(out, n)
			}
		}
	}
	if len(out) == 0 || out[len(out)-1] != max {
		out = append(out, max)
	}
	return out
}

// scaleRow is one measured size.
type scaleRow struct {
	ops, txs, blocks, records, audited, grantsToClinician int
	decideP50, decideP99, readP99                         time.Duration
	recFirst, recDeep, auditFirst, auditDeep, patientList time.Duration
	startClean, startKill                                 time.Duration
	verify                                                time.Duration
	logBytes, indexBytes, recordBytes                     int64
	bytesPerRead, bytesPerRead16                          float64
	err                                                   error
	rss, anon, heap, nodeRSS                              int64
}

// scaleWorld is what the benchmark acts with; its ledger clients are renewed each time the
// stack restarts.
type scaleWorld struct {
	dir       string
	patients  []*network.User
	owners    []string
	clinician *network.User
	doctor    string
	s         *stack
	pc        []*ledger.Client // patients' own clients
	cc        *ledger.Client   // the clinician through the clinic's gateway

	mu      sync.Mutex
	recs    [][]string // record IDs by patient
	ops     atomic.Int64
	audited atomic.Int64
	grants  atomic.Int64 // grants ever made to the clinician
	seq     atomic.Int64
	// conflicts counts writes refused on a read conflict (and not retried).
	conflicts atomic.Int64
	plock     []sync.Mutex // one patient's writes at a time
}

func benchScale(ctx context.Context, out io.Writer, o scaleOptions) error {
	machineLine(out)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(out, "load average at start: %s", la)
	}
	dir := o.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "careledger-bench-scale-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	w := &scaleWorld{dir: dir}
	if err := w.start(ctx); err != nil {
		return err
	}
	defer func() {
		if w.s != nil {
			w.s.Close()
		}
	}()
	if err := w.setup(ctx, o.Patients); err != nil {
		return err
	}
	var rows []scaleRow
	defer func() {
		// Also after a failure or an interrupt: what was measured is worth seeing.
		if len(rows) > 0 {
			printScale(out, rows)
		}
	}()
	for _, size := range scaleSizes(o.Max) {
		t0 := time.Now()
		if err := w.fill(ctx, size, o.Workers); err != nil {
			return fmt.Errorf("fill to %d: %w", size, err)
		}
		if err := w.s.flusher.Flush(ctx); err != nil {
			return err
		}
		fmt.Fprintf(out, "filled to %d operations in %s (%d writes lost to read conflicts so far)\n", size, time.Since(t0).Round(time.Second), w.conflicts.Load())
		r, err := w.measure(ctx, o, bin)
		if err != nil {
			return fmt.Errorf("measure at %d: %w", size, err)
		}
		r.ops = size
		rows = append(rows, r)
		if la, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Fprintf(out, "measured %d in %s; load average %s", size, time.Since(t0).Round(time.Second), la)
		}
	}
	return nil
}

// start (re)starts the stack on the world's directory and renews every client.
func (w *scaleWorld) start(ctx context.Context) error {
	pass := []byte("bench")
	s, err := startStack(ctx, stackConfig{DataDir: w.dir, LedgerAddr: "127.0.0.1:0", KeyPassphrase: pass, WalletPassword: pass})
	if err != nil {
		return err
	}
	w.s = s
	w.pc = w.pc[:0]
	for _, u := range w.patients {
		if err := w.addPatientClient(u); err != nil {
			return err
		}
	}
	if w.clinician != nil {
		w.cc = s.gateways[network.ClinicMSP].For(w.clinician.CertPEM)
	}
	return nil
}

func (w *scaleWorld) addPatientClient(u *network.User) error {
	sign, err := identity.NewPrivateKeySign(u.Key)
	if err != nil {
		return err
	}
	c, err := w.s.clientFor(u.MSPID, u.CertPEM, sign)
	if err != nil {
		return err
	}
	w.pc = append(w.pc, c)
	return nil
}

// setup issues the patients, and each grants the clinician read access to lab results and
// uploads a first record.
func (w *scaleWorld) setup(ctx context.Context, patients int) error {
	netDir := filepath.Join(w.dir, "network")
	cons := w.s.node.Config().Consortium
	clinic, _ := cons.Org(network.ClinicMSP)
	var err error
	if w.clinician, err = network.LoadUser(netDir, clinic, "clinician1"); err != nil {
		return err
	}
	w.doctor = model.PseudonymFor(w.clinician.MSPID, w.clinician.EnrollmentID)
	w.cc = w.s.gateways[network.ClinicMSP].For(w.clinician.CertPEM)
	w.plock = make([]sync.Mutex, patients)
	for i := range patients {
		u, err := network.IssueUser(netDir, cons.Orgs[0], network.UserSpec{Name: fmt.Sprintf("scale-patient-%d", i), Role: string(model.RolePatient)})
		if err != nil {
			return err
		}
		w.patients = append(w.patients, u)
		w.owners = append(w.owners, model.PseudonymFor(u.MSPID, u.EnrollmentID))
		if err := w.addPatientClient(u); err != nil {
			return err
		}
		w.recs = append(w.recs, nil)
		if _, err := w.pc[i].Grant(ctx, model.GrantRequest{ID: fmt.Sprintf("scale-care-%d", i), Grantee: model.Grantee{ID: w.doctor},
			Actions: []string{model.ActionRead}, Categories: []string{"lab"}, Purpose: "TREAT"}); err != nil {
			return fmt.Errorf("grant: %w", err)
		}
		w.grants.Add(1)
		if err := w.upload(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

var scaleBody = fhirOfSize(1 << 10)

func (w *scaleWorld) upload(ctx context.Context, p int) error {
	rec, err := w.s.svc.Upload(ctx, w.pc[p], gateway.Upload{Owner: w.owners[p], Content: gateway.Content{MediaType: fhir.MediaType, Data: scaleBody}})
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	w.mu.Lock()
	w.recs[p] = append(w.recs[p], rec.ID)
	w.mu.Unlock()
	return nil
}

func (w *scaleWorld) randomRecord(rng *rand.Rand) (int, string) {
	p := rng.IntN(len(w.patients))
	w.mu.Lock()
	defer w.mu.Unlock()
	return p, w.recs[p][rng.IntN(len(w.recs[p]))]
}

// fill runs the operation mix until the world has done target operations: of ten, three
// uploads, two grants to other people, one grant to the clinician revoked at once (two
// operations), four audited reads by the clinician.
func (w *scaleWorld) fill(ctx context.Context, target, workers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	var first error
	var once sync.Once
	for c := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil && w.ops.Load() < int64(target) {
				n, err := w.op(ctx, rng, c%len(w.patients))
				switch {
				case err == nil:
					w.ops.Add(int64(n))
				case errors.Is(err, &model.Error{Code: model.CodeConflict}):
					w.conflicts.Add(1)
				case ctx.Err() == nil:
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	wg.Wait()
	return first
}

func (w *scaleWorld) op(ctx context.Context, rng *rand.Rand, p int) (int, error) {
	i := w.seq.Add(1)
	if i%10 < 6 {
		// One patient's own writes go one at a time, as from one person's device; concurrent
		// ones would only fail on read conflicts.
		w.plock[p].Lock()
		defer w.plock[p].Unlock()
	}
	switch i % 10 {
	case 0, 1, 2:
		return 1, w.upload(ctx, p)
	case 3, 4:
		_, err := w.pc[p].Grant(ctx, model.GrantRequest{ID: fmt.Sprintf("scale-g-%d", i), Grantee: model.Grantee{ID: fmt.Sprintf("%032x", rng.Uint64())},
			Actions: []string{model.ActionRead}, Categories: []string{"medication"}, Purpose: "TREAT"})
		return 1, err
	case 5:
		id := fmt.Sprintf("scale-r-%d", i)
		if _, err := w.pc[p].Grant(ctx, model.GrantRequest{ID: id, Grantee: model.Grantee{ID: w.doctor},
			Actions: []string{model.ActionRead}, Categories: []string{"imaging"}, Purpose: "TREAT"}); err != nil {
			return 0, err
		}
		w.grants.Add(1)
		_, err := w.pc[p].RevokeGrant(ctx, id)
		return 2, err
	default:
		_, id := w.randomRecord(rng)
		if _, err := w.s.svc.Read(ctx, w.cc, id, 0, ""); err != nil {
			return 0, fmt.Errorf("read: %w", err)
		}
		w.audited.Add(1)
		return 1, nil
	}
}

// sample runs call from 4 clients for d and returns the latencies.
func sample(ctx context.Context, d time.Duration, call func(rng *rand.Rand) error) ([]time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var mu sync.Mutex
	var all []time.Duration
	var first error
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 7))
			var local []time.Duration
			for ctx.Err() == nil {
				t := time.Now()
				if err := call(rng); err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						first = err
						mu.Unlock()
					}
					break
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, first
}

// median times call n times and returns the median.
func median(n int, call func() error) (time.Duration, error) {
	var lat []time.Duration
	for range n {
		t := time.Now()
		if err := call(); err != nil {
			return 0, err
		}
		lat = append(lat, time.Since(t))
	}
	return pct(lat, 50), nil
}

// lastPage walks a listing to its last page and returns the bookmark that fetches it.
func lastPage(list func(bookmark string) (string, error)) (string, error) {
	bm := ""
	for {
		next, err := list(bm)
		if err != nil {
			return "", err
		}
		if next == "" {
			return bm, nil
		}
		bm = next
	}
}

func (w *scaleWorld) measure(ctx context.Context, o scaleOptions, bin string) (scaleRow, error) {
	var r scaleRow
	r.audited, r.grantsToClinician = int(w.audited.Load()), int(w.grants.Load())
	w.mu.Lock()
	for _, ids := range w.recs {
		r.records += len(ids)
	}
	w.mu.Unlock()

	lat, err := sample(ctx, o.Sample, func(rng *rand.Rand) error {
		_, id := w.randomRecord(rng)
		_, err := w.cc.CheckAccess(ctx, id, model.ActionRead, "")
		return err
	})
	if err != nil {
		return r, fmt.Errorf("decide: %w", err)
	}
	r.decideP50, r.decideP99 = pct(lat, 50), pct(lat, 99)
	lat, err = sample(ctx, o.Sample, func(rng *rand.Rand) error {
		_, id := w.randomRecord(rng)
		_, err := w.s.svc.Read(ctx, w.cc, id, 0, "")
		return err
	})
	if err != nil {
		return r, fmt.Errorf("read: %w", err)
	}
	r.readP99 = pct(lat, 99)
	w.audited.Add(int64(len(lat)))

	// Ledger bytes per audited read: 400 reads, flushed, against the log's growth; read one
	// at a time (each read's audit entry is flushed as it comes) and by 16 readers at once.
	logPath := filepath.Join(w.dir, "network", "ledger", "blocks.log")
	for _, m := range []struct {
		readers int
		into    *float64
	}{{1, &r.bytesPerRead}, {16, &r.bytesPerRead16}} {
		if r.bytesPerReadAt(ctx, w, logPath, m.readers, m.into); r.err != nil {
			return r, r.err
		}
	}

	p, owner := w.pc[0], w.owners[0]
	records := func(bm string) (string, error) {
		pg, err := p.ListPatientRecords(ctx, owner, "", ledger.Page{Size: 50, Bookmark: bm})
		if err != nil {
			return "", err
		}
		return pg.Bookmark, nil
	}
	trail := func(bm string) (string, error) {
		pg, err := p.ListAccessLog(ctx, owner, ledger.Page{Size: 50, Bookmark: bm})
		if err != nil {
			return "", err
		}
		return pg.Bookmark, nil
	}
	for _, l := range []struct {
		list        func(string) (string, error)
		first, deep *time.Duration
	}{{records, &r.recFirst, &r.recDeep}, {trail, &r.auditFirst, &r.auditDeep}} {
		if *l.first, err = median(9, func() error { _, err := l.list(""); return err }); err != nil {
			return r, err
		}
		bm, err := lastPage(l.list)
		if err != nil {
			return r, err
		}
		if *l.deep, err = median(9, func() error { _, err := l.list(bm); return err }); err != nil {
			return r, err
		}
	}
	// The clinician's patient list as the web UI builds it: every grant to them, in pages of 200.
	if r.patientList, err = median(3, func() error {
		bm := ""
		for {
			gp, err := w.cc.ListGrantsToMe(ctx, false, ledger.Page{Size: 200, Bookmark: bm})
			if err != nil {
				return err
			}
			if bm = gp.Bookmark; bm == "" {
				return nil
			}
		}
	}); err != nil {
		return r, err
	}

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	r.heap = int64(ms.HeapInuse)
	r.rss = procStatus(os.Getpid(), "VmRSS") << 10
	// Anonymous memory apart: the rest of the RSS is the memory-mapped index, page cache the
	// kernel takes back under pressure.
	r.anon = procStatus(os.Getpid(), "RssAnon") << 10

	// Stopped: disk, verify, start-up of the node alone.
	if err := w.s.Close(); err != nil {
		return r, err
	}
	w.s = nil
	if r.logBytes, err = logEnd(logPath); err != nil {
		return r, err
	}
	if st, err := os.Stat(filepath.Join(w.dir, "network", "ledger", "ledger.db")); err == nil {
		r.indexBytes = st.Size()
	}
	r.recordBytes = dirBytes(filepath.Join(w.dir, "records"))
	t := time.Now()
	rep, err := network.Verify(ctx, network.Config{Dir: filepath.Join(w.dir, "network")})
	if err != nil {
		return r, fmt.Errorf("verify: %w", err)
	}
	r.verify = time.Since(t)
	r.blocks, r.txs = int(rep.Blocks), int(rep.Transactions)
	if r.startClean, r.startKill, r.nodeRSS, err = nodeStartups(ctx, bin, w.dir); err != nil {
		return r, err
	}
	return r, w.start(ctx)
}

// bytesPerReadAt makes 400 audited reads with the given number of readers, flushes the audit
// queue and stores the block log's growth per read in into.
func (r *scaleRow) bytesPerReadAt(ctx context.Context, w *scaleWorld, logPath string, readers int, into *float64) {
	const reads = 400
	if r.err = w.s.flusher.Flush(ctx); r.err != nil {
		return
	}
	before, err := logEnd(logPath)
	if err != nil {
		r.err = err
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	for c := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(c), 3))
			for next.Add(1) <= reads {
				_, id := w.randomRecord(rng)
				if _, err := w.s.svc.Read(ctx, w.cc, id, 0, ""); err != nil {
					mu.Lock()
					r.err = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if r.err != nil {
		return
	}
	w.audited.Add(reads)
	if r.err = w.s.flusher.Flush(ctx); r.err != nil {
		return
	}
	after, err := logEnd(logPath)
	r.err = err
	*into = float64(after-before) / reads
}

// nodeStartups starts `careledger node` on dir (after the clean stop the caller made), kills
// it with SIGKILL, and starts it again, timing each start until the node listens. It returns
// the node's RSS after the second start.
func nodeStartups(ctx context.Context, bin, dir string) (clean, killed time.Duration, rss int64, err error) {
	cmd, clean, err := startNode(ctx, bin, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	cmd.Process.Kill()
	cmd.Wait()
	cmd, killed, err = startNode(ctx, bin, dir)
	if err != nil {
		return 0, 0, 0, err
	}
	rss = procStatus(cmd.Process.Pid, "VmRSS") << 10
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	return clean, killed, rss, nil
}

func startNode(ctx context.Context, bin, dir string) (*exec.Cmd, time.Duration, error) {
	cmd := exec.CommandContext(ctx, bin, "node", "--data-dir", dir, "--listen", "127.0.0.1:0", "--log-level", "error")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, 0, err
	}
	t := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "ledger node listening") {
			d := time.Since(t)
			go io.Copy(io.Discard, stdout)
			return cmd, d, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, 0, errors.New("careledger node ended before it listened")
}

// logEnd is where the block log's records end (the file is extended with zeros ahead of them).
func logEnd(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var off int64
	var hdr [8]byte
	for {
		if _, err := f.ReadAt(hdr[:], off); err != nil {
			if errors.Is(err, io.EOF) {
				return off, nil
			}
			return 0, err
		}
		n := binary.LittleEndian.Uint32(hdr[:])
		if n == 0 {
			return off, nil
		}
		off += 8 + int64(n)
	}
}

func dirBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

func printScale(out io.Writer, rows []scaleRow) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	dur := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	lines := []struct {
		name string
		unit string
		get  func(r scaleRow) float64
	}{
		{"operations", "", func(r scaleRow) float64 { return float64(r.ops) }},
		{"ledger transactions", "", func(r scaleRow) float64 { return float64(r.txs) }},
		{"blocks", "", func(r scaleRow) float64 { return float64(r.blocks) }},
		{"records stored", "", func(r scaleRow) float64 { return float64(r.records) }},
		{"audited reads", "", func(r scaleRow) float64 { return float64(r.audited) }},
		{"grants to the clinician", "", func(r scaleRow) float64 { return float64(r.grantsToClinician) }},
		{"decision p50", "ms", func(r scaleRow) float64 { return dur(r.decideP50) }},
		{"decision p99", "ms", func(r scaleRow) float64 { return dur(r.decideP99) }},
		{"granted read p99 (gateway)", "ms", func(r scaleRow) float64 { return dur(r.readP99) }},
		{"patient's records, first page", "ms", func(r scaleRow) float64 { return dur(r.recFirst) }},
		{"patient's records, last page", "ms", func(r scaleRow) float64 { return dur(r.recDeep) }},
		{"audit trail, first page", "ms", func(r scaleRow) float64 { return dur(r.auditFirst) }},
		{"audit trail, last page", "ms", func(r scaleRow) float64 { return dur(r.auditDeep) }},
		{"clinician's patient list (all grants)", "ms", func(r scaleRow) float64 { return dur(r.patientList) }},
		{"node start, after clean stop", "ms", func(r scaleRow) float64 { return dur(r.startClean) }},
		{"node start, after kill -9", "ms", func(r scaleRow) float64 { return dur(r.startKill) }},
		{"ledger verify", "ms", func(r scaleRow) float64 { return dur(r.verify) }},
		{"verify blocks/s", "", func(r scaleRow) float64 { return float64(r.blocks) / r.verify.Seconds() }},
		{"verify MB/s", "", func(r scaleRow) float64 { return float64(r.logBytes) / 1e6 / r.verify.Seconds() }},
		{"block log bytes/tx", "B", func(r scaleRow) float64 { return float64(r.logBytes) / float64(r.txs) }},
		{"index bytes/tx", "B", func(r scaleRow) float64 { return float64(r.indexBytes) / float64(r.txs) }},
		{"ledger bytes/audited read, 1 reader", "B", func(r scaleRow) float64 { return r.bytesPerRead }},
		{"ledger bytes/audited read, 16 readers", "B", func(r scaleRow) float64 { return r.bytesPerRead16 }},
		{"record store bytes/record (1 KiB FHIR)", "B", func(r scaleRow) float64 { return float64(r.recordBytes) / float64(r.records) }},
		{"bench process RSS (server+clients)", "MiB", func(r scaleRow) float64 { return float64(r.rss) / (1 << 20) }},
		{"bench process anonymous RSS", "MiB", func(r scaleRow) float64 { return float64(r.anon) / (1 << 20) }},
		{"bench process Go heap in use", "MiB", func(r scaleRow) float64 { return float64(r.heap) / (1 << 20) }},
		{"node RSS after start", "MiB", func(r scaleRow) float64 { return float64(r.nodeRSS) / (1 << 20) }},
	}
	fmt.Fprint(tw, "\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d ops\t", r.ops)
	}
	fmt.Fprintln(tw, "growth first→last\t")
	for _, l := range lines {
		fmt.Fprintf(tw, "%s\t", strings.TrimSpace(l.name+" "+paren(l.unit)))
		for i, r := range rows {
			v := l.get(r)
			cell := fmtNum(v)
			if i > 0 {
				if prev := l.get(rows[i-1]); prev > 0 {
					cell += fmt.Sprintf(" (×%.2f)", v/prev)
				}
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		if first := l.get(rows[0]); first > 0 && len(rows) > 1 {
			fmt.Fprintf(tw, "×%.2f\t", l.get(rows[len(rows)-1])/first)
		} else {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}

func paren(unit string) string {
	if unit == "" {
		return ""
	}
	return "(" + unit + ")"
}

func fmtNum(v float64) string {
	switch {
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}
