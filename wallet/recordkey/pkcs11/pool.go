//go:build cgo

package pkcs11

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/miekg/pkcs11"
)

// pool hands out read-write sessions on one token, opening up to max of them. A PKCS#11
// session runs one operation at a time, so each caller holds its own for the duration of
// an operation.
type pool struct {
	mod  *module
	slot uint
	pin  string

	idle  chan pkcs11.SessionHandle
	slots chan struct{} // one token per open session

	loginMu sync.Mutex
}

func newPool(mod *module, slot uint, pin string, max int) *pool {
	return &pool{mod: mod, slot: slot, pin: pin, idle: make(chan pkcs11.SessionHandle, max), slots: make(chan struct{}, max)}
}

func (p *pool) get(ctx context.Context) (pkcs11.SessionHandle, error) {
	select {
	case s := <-p.idle:
		return s, nil
	default:
	}
	select {
	case s := <-p.idle:
		return s, nil
	case p.slots <- struct{}{}:
		s, err := p.mod.ctx.OpenSession(p.slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
		if err != nil {
			<-p.slots
			return 0, fmt.Errorf("open session: %w", err)
		}
		return s, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// put returns a session to the pool, or closes it when it is no longer usable.
func (p *pool) put(s pkcs11.SessionHandle, usable bool) {
	if usable {
		p.idle <- s // never blocks: at most cap(slots) sessions exist
		return
	}
	_ = p.mod.ctx.CloseSession(s)
	<-p.slots
}

// login logs the application in to the token; the login holds for every session.
func (p *pool) login(s pkcs11.SessionHandle) error {
	p.loginMu.Lock()
	defer p.loginMu.Unlock()
	err := p.mod.ctx.Login(s, pkcs11.CKU_USER, p.pin)
	switch {
	case err == nil, isRV(err, pkcs11.CKR_USER_ALREADY_LOGGED_IN):
		return nil
	case isRV(err, pkcs11.CKR_PIN_INCORRECT), isRV(err, pkcs11.CKR_PIN_LOCKED),
		isRV(err, pkcs11.CKR_PIN_INVALID), isRV(err, pkcs11.CKR_PIN_LEN_RANGE), isRV(err, pkcs11.CKR_PIN_EXPIRED):
		return fmt.Errorf("%w: %w", ErrLogin, err)
	}
	return fmt.Errorf("login: %w", err)
}

// do runs f on a pooled session. A session the token no longer knows is closed instead of
// returned; if the token forgot the login (it does when every session was closed, or after
// a reset), f runs once more after logging in again.
func (p *pool) do(ctx context.Context, f func(pkcs11.SessionHandle) error) error {
	for attempt := 0; ; attempt++ {
		s, err := p.get(ctx)
		if err != nil {
			return err
		}
		err = f(s)
		p.put(s, !sessionBroken(err))
		if attempt > 0 || !isRV(err, pkcs11.CKR_USER_NOT_LOGGED_IN) {
			return err
		}
		if lerr := p.do(ctx, p.login); lerr != nil {
			return errors.Join(err, lerr)
		}
	}
}

func sessionBroken(err error) bool {
	for _, rv := range []uint{pkcs11.CKR_SESSION_HANDLE_INVALID, pkcs11.CKR_SESSION_CLOSED, pkcs11.CKR_DEVICE_REMOVED,
		pkcs11.CKR_TOKEN_NOT_PRESENT, pkcs11.CKR_DEVICE_ERROR, pkcs11.CKR_OPERATION_ACTIVE} {
		if isRV(err, rv) {
			return true
		}
	}
	return false
}

// close closes every idle session; callers must have finished.
func (p *pool) close() {
	for {
		select {
		case s := <-p.idle:
			_ = p.mod.ctx.CloseSession(s)
			<-p.slots
		default:
			return
		}
	}
}
