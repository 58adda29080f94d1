// Package anonymizer is CareLedger's de-identification engine: tables in,
// anonymised tables and reports out.
//
// It is a pure library in the spirit of ARX (arx-deidentifier): a table of
// records whose attributes are marked identifying, quasi-identifying,
// sensitive or insensitive is transformed by full-domain generalisation
// (the optimum over the lattice of hierarchy levels, found by a Flash-like
// search pruned by monotonicity, or by lower bounds on suppression where
// the models are not monotone, or exhaustively) or by Mondrian local
// recoding, plus record suppression, until it satisfies the chosen privacy
// models (k-anonymity, l-diversity, t-closeness, re-identification risk
// thresholds). It measures the utility kept and the risk left, releases
// aggregate counts with cell suppression or differential privacy, and writes
// CSV, Parquet and JSON reports.
//
// Nothing in this package reads the environment, flags or the network, and
// nothing logs: wiring belongs to cmd/careledger.
package anonymizer
