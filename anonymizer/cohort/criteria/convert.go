package criteria

// Convert returns value, in unit from, in unit to, when the two units are trivially
// compatible (the same, or differing by metric prefixes: mg/dL and g/L), and false
// otherwise, as the evaluator compares lab values. Extracts release lab values in one unit
// with it.
func Convert(value float64, from, to string) (float64, bool) {
	f, ok := factor(from, to)
	if !ok {
		return 0, false
	}
	return value * f, true
}
