//go:build cgo

package pkcs11

import (
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// Available reports whether this build can load PKCS#11 modules: it can, it was built
// with cgo.
const Available = true

// module is a loaded, initialised PKCS#11 library. C_Initialize and C_Finalize act on the
// whole process, so every KeyService on the same library shares one module and the last
// to close finalises it.
type module struct {
	path string
	ctx  *pkcs11.Ctx
	refs int
}

var modules = struct {
	sync.Mutex
	byPath map[string]*module
}{byPath: map[string]*module{}}

func openModule(path string) (*module, error) {
	modules.Lock()
	defer modules.Unlock()
	if m, ok := modules.byPath[path]; ok {
		m.refs++
		return m, nil
	}
	ctx := pkcs11.New(path)
	if ctx == nil {
		return nil, fmt.Errorf("%w: cannot load %s", ErrModule, path)
	}
	if err := ctx.Initialize(); err != nil && !isRV(err, pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		ctx.Destroy()
		return nil, fmt.Errorf("%w: initialise %s: %w", ErrModule, path, err)
	}
	m := &module{path: path, ctx: ctx, refs: 1}
	modules.byPath[path] = m
	return m, nil
}

func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.byPath, m.path)
	_ = m.ctx.Finalize()
	m.ctx.Destroy()
}

// isRV reports whether err is the PKCS#11 return value rv.
func isRV(err error, rv uint) bool {
	var e pkcs11.Error
	return errors.As(err, &e) && uint(e) == rv
}
