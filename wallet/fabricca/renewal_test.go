package fabricca_test

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/careledger/careledger/wallet/fabricca"
	"github.com/stretchr/testify/require"
)

func TestRenewalDue(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cert := &x509.Certificate{NotBefore: start, NotAfter: start.Add(300 * 24 * time.Hour)}
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"fresh", start.Add(time.Hour), false},
		{"just before two thirds", start.Add(200*24*time.Hour - time.Second), false},
		{"at two thirds", start.Add(200 * 24 * time.Hour), true},
		{"expired", start.Add(400 * 24 * time.Hour), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, fabricca.RenewalDue(cert, tt.now))
		})
	}
}
