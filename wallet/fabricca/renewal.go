package fabricca

import (
	"crypto/x509"
	"time"
)

// RenewalDue reports whether cert should be re-enrolled at now: once two thirds of its
// validity have passed, which leaves the last third to retry while the CA is unreachable
// before transactions start failing with an expired identity.
func RenewalDue(cert *x509.Certificate, now time.Time) bool {
	lifetime := cert.NotAfter.Sub(cert.NotBefore)
	return !now.Before(cert.NotBefore.Add(lifetime * 2 / 3))
}
