package anonymizer

import (
	"fmt"
	"strings"
)

// Metric is the utility measure the search minimises (all are losses: lower
// is better).
type Metric int

// Utility metrics.
const (
	// NonUniformEntropy is ARX's precomputed, monotonic non-uniform entropy:
	// for each quasi-identifier, Σ over records of log2(|records sharing the
	// generalised value| / |records sharing the original value|). It
	// depends on the transformation only, so suppression does not lower it:
	// a suppressed record costs at least what it would cost generalised,
	// which is what makes the metric monotone and the pruning exact.
	NonUniformEntropy Metric = iota
	// GeneralizationIntensity is the mean over quasi-identifiers of
	// level/height (Sweeney's precision loss).
	GeneralizationIntensity
	// Loss is the mean over records and quasi-identifiers of the share of
	// the attribute's domain the released value covers (Iyengar's loss
	// metric); suppressed records count 1.
	Loss
	// Discernibility is Σ |class|² over released classes plus N for each
	// suppressed record.
	Discernibility
	// AverageClassSize is the number of records over the number of
	// classes, suppressed records forming one class.
	AverageClassSize
)

var metricNames = [...]string{"non-uniform-entropy", "generalization-intensity", "loss", "discernibility", "average-class-size"}

// String returns the metric's name as used in reports and flags.
func (m Metric) String() string {
	if m >= 0 && int(m) < len(metricNames) {
		return metricNames[m]
	}
	return fmt.Sprintf("metric(%d)", int(m))
}

// MarshalText encodes the metric by name.
func (m Metric) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// ParseMetric parses a metric name.
func ParseMetric(s string) (Metric, error) {
	for i, n := range metricNames {
		if strings.EqualFold(s, n) {
			return Metric(i), nil
		}
	}
	return 0, fmt.Errorf("parse metric %q: %w", s, ErrMalformedInput)
}

// transformationOnly metrics can be computed without looking at the data,
// which lets the search visit nodes best-first.
func (m Metric) transformationOnly() bool {
	return m == NonUniformEntropy || m == GeneralizationIntensity
}

// monotonic reports whether generalising never lowers the loss. With
// suppression, a record leaving the suppressed set can lower the
// data-dependent metrics.
func (m Metric) monotonic(withSuppression bool) bool {
	return m.transformationOnly() || !withSuppression
}

// transformationLoss computes a transformation-only metric.
func (e *encoded) transformationLoss(m Metric, levels []int) float64 {
	var v float64
	switch m {
	case NonUniformEntropy:
		for qi, l := range levels {
			v += e.entropy[qi][l]
		}
	case GeneralizationIntensity:
		for qi, l := range levels {
			if h := e.qis[qi].height; h > 0 {
				v += float64(l) / float64(h)
			}
		}
		v /= float64(len(levels))
	}
	return v
}
