//go:build !cgo

package pkcs11_test

import "testing"

func TestSoftHSMConformance(t *testing.T) {
	t.Skip("skipping: the PKCS#11 key service needs cgo (CGO_ENABLED=1 and a C compiler)")
}
