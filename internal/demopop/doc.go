// Package demopop generates a synthetic demo population for CareLedger: adult patients with the
// age and sex structure of Germany, German postal codes, chronic conditions (ICD-10-GM) whose
// prevalence rises with age as it does in German survey data, medications (ATC) consistent with
// those conditions, lab series (LOINC, UCUM units, reference ranges) and research consent for a
// mix of purposes.
//
// Everything is deterministic from a seed: patient i of seed s is the same on every machine and
// in every run, whatever else is generated, so a population can be generated in any order, in
// parallel, or resumed after an interruption. A Patient is a summary held in memory; Resources
// renders it as FHIR R4 JSON resources that pass gateway/fhir's validation (one per record, as
// the gateway's upload takes them), and Criteria as the criteria evaluator's form without
// rendering JSON at all, for benchmarks over large populations.
//
// The figures are plausible, not epidemiology: they are chosen so that a demo and a benchmark
// see realistic shapes (more hypertension than diabetes, more of both with age, metformin for
// most diabetics, HbA1c high in diabetics), and so that tests can check the generator against
// them.
package demopop
