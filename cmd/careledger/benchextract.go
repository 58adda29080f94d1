package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/careledger/careledger/anonymizer/cohort"
	"github.com/careledger/careledger/internal/demopop"
)

// benchExtractDefinition is the extract size: 12 quasi-identifiers (age, sex, postal
// code, five conditions, three drug exposures, HbA1c in bands), a microaggregated sensitive
// LDL and a shifted date, over every patient.
const benchExtractDefinition = `{"version":1,"variables":[
 {"name":"age","age":{"bands":[5,10,20]}},
 {"name":"sex","sex":{}},
 {"name":"postal_code","postalCode":{}},
 {"name":"type2_diabetes","condition":{"codes":["E11"]}},
 {"name":"hypertension","condition":{"codes":["I10"]}},
 {"name":"hypercholesterolaemia","condition":{"codes":["E78"]}},
 {"name":"ischaemic_heart","condition":{"codes":["I20-I25"]}},
 {"name":"copd","condition":{"codes":["J44"]}},
 {"name":"metformin","medication":{"codes":["A10BA"]}},
 {"name":"statin","medication":{"codes":["C10AA"]}},
 {"name":"ace_inhibitor","medication":{"codes":["C09AA"]}},
 {"name":"hba1c_pct","lab":{"loinc":"4548-4","unit":"%","bottom":5,"top":10}},
 {"name":"ldl_mg_dl","role":"sensitive","lab":{"loinc":"13457-7","unit":"mg/dL","decimals":0,"microaggregate":5}},
 {"name":"diabetes_diagnosed","date":{"condition":"E11","treatment":"shift"}}
]}`

// benchExtract times a cohort extract of n demo patients held in memory (the generator's
// summaries, as the anonymiser would hold consenting patients' criteria form): building the
// table and its hierarchies, then k-anonymity with 2-diversity of LDL and 5 % suppression.
func benchExtract(ctx context.Context, out io.Writer, n int, seed uint64) error {
	x, err := cohort.ParseExtract([]byte(benchExtractDefinition))
	if err != nil {
		return err
	}
	t0 := time.Now()
	subjects := make([]cohort.Subject, n)
	for i := range subjects {
		p := demopop.Generate(seed, i)
		subjects[i] = cohort.Subject{Patient: p.Criteria(), PostalCode: p.Place.PostalCode}
	}
	gen := time.Since(t0)
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)

	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t1 := time.Now()
	b, res, _, _, err := cohort.AnonymizeExtract(ctx, x, subjects, cohort.Spec{K: 5, L: 2, SuppressionLimit: 0.05, ReferenceDate: demopop.Reference})
	el := time.Since(t1)
	close(stop)
	wg.Wait()
	if err != nil {
		return err
	}
	var end runtime.MemStats
	runtime.ReadMemStats(&end)
	fmt.Fprintf(out, "extract: %d patients generated in memory in %.1fs (%.0f MiB held)\n", n, gen.Seconds(), float64(base.HeapAlloc)/(1<<20))
	r := res.Report
	search := ""
	if r.Search != nil {
		search = fmt.Sprintf(", %d of %d transformations evaluated", r.Search.Evaluated, r.Search.LatticeSize)
	}
	fmt.Fprintf(out, "extract of %d patients, %d quasi-identifiers, k=5, distinct 2-diversity, 5%% suppression: %s (build %d rows and hierarchies, anonymise%s); peak heap %.0f MiB, process memory from the OS %.0f MiB (aim: under 60 s and 2 GiB)\n",
		n, len(b.Table.QuasiIdentifiers()), el.Round(10*time.Millisecond), b.Matched, search, float64(peak.Load())/(1<<20), float64(end.Sys)/(1<<20))
	fmt.Fprintf(out, "  released %d rows in %d classes, %d suppressed; risk: prosecutor highest %.3f, journalist highest %.3f, marketer %.4f; utility loss %.3f\n",
		r.Rows.Output, r.Rows.Classes, r.Rows.Suppressed, r.Risk.ProsecutorHighest, r.Risk.JournalistHighest, r.Risk.Marketer, r.Utility.Loss)
	return nil
}
