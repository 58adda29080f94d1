//go:build !cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"

	"github.com/careledger/careledger/wallet/recordkey"
)

// Available reports whether this build can load PKCS#11 modules: it cannot, it was built
// without cgo.
const Available = false

// errNoCgo explains why this build cannot load a PKCS#11 module: loading a C library
// needs cgo.
var errNoCgo = errors.New("this build of CareLedger has no PKCS#11 support: it was built without cgo (build with CGO_ENABLED=1 and a C compiler)")

// KeyService is a recordkey.KeyService with its KEKs on a PKCS#11 token. This build was
// made without cgo, so New always fails with ErrModule.
type KeyService struct{ cfg Config }

var _ recordkey.KeyService = (*KeyService)(nil)

// New fails: this build cannot load PKCS#11 modules.
func New(context.Context, Config) (*KeyService, error) {
	return nil, fmt.Errorf("open pkcs11 key service: %w: %w", ErrModule, errNoCgo)
}

// Close does nothing.
func (*KeyService) Close() error { return nil }

// NewDataKey implements recordkey.KeyService.
func (*KeyService) NewDataKey(context.Context, string) (recordkey.DataKey, error) {
	return recordkey.DataKey{}, errNoCgo
}

// UnwrapDataKey implements recordkey.KeyService.
func (*KeyService) UnwrapDataKey(context.Context, string, []byte) ([]byte, error) {
	return nil, errNoCgo
}

// RewrapDataKey implements recordkey.KeyService.
func (*KeyService) RewrapDataKey(context.Context, string, []byte) ([]byte, int, error) {
	return nil, 0, errNoCgo
}

// RotateKey implements recordkey.KeyService.
func (*KeyService) RotateKey(context.Context, string) (int, error) { return 0, errNoCgo }

// RetireKeyVersions implements recordkey.KeyService.
func (*KeyService) RetireKeyVersions(context.Context, string, int) error { return errNoCgo }

// DestroyKey implements recordkey.KeyService.
func (*KeyService) DestroyKey(context.Context, string) error { return errNoCgo }
