// Package criteria is CareLedger's language for clinical cohort definitions: which patients a
// feasibility count or a cohort extract is about, written as a small JSON document (see
// docs/cohort-criteria.md for the grammar and examples) and evaluated over one patient's FHIR
// resources as gateway/fhir describes them.
//
// A definition names an optional index event (the first diagnosis, procedure, medication or
// lab value that matches), inclusion criteria that must all hold and exclusion criteria of
// which none may hold. Criteria test conditions (ICD-10-GM code or prefix), procedures (OPS
// code or prefix), medications (ATC code at any level), lab values (a LOINC code, a
// comparator, a value and a UCUM unit), age at the reference date or at the index event, and
// sex, or any one of several such criteria; event criteria may be limited to a window of days
// relative to the index event.
//
// Lab values are compared only in units that are trivially compatible with the criterion's:
// the same UCUM unit, or one that differs by metric prefixes (mg/dL and g/L, mmol/L and
// umol/L, 10*9/L and 10*3/uL). Anything else (HbA1c in mmol/mol against %, mm[Hg] against
// kPa) does not match, and the evaluation says which units it could not compare.
//
// The package is pure: no I/O, no clock (the reference date is given), no logging.
package criteria
