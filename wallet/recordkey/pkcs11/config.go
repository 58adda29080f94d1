package pkcs11

import (
	"errors"
	"fmt"
	"log/slog"
)

// Config says which PKCS#11 module and token hold the KEKs. Nothing is read from the
// environment: the command wiring decides.
type Config struct {
	// Module is the path of the PKCS#11 library, for example
	// /usr/lib/softhsm/libsofthsm2.so. Required.
	Module string
	// TokenLabel selects the token by its label. Required.
	TokenLabel string
	// PIN is the token's user PIN. Required.
	PIN string
	// MaxSessions bounds the session pool; default twice GOMAXPROCS, at least 4.
	MaxSessions int
}

// Sentinel errors of this package; the recordkey sentinels (ErrKeyNotFound, ErrCorrupt, …)
// apply as for every KeyService.
var (
	// ErrModule means the PKCS#11 library could not be loaded or initialised.
	ErrModule = errors.New("pkcs11 module unusable")
	// ErrTokenNotFound means no present token has the configured label.
	ErrTokenNotFound = errors.New("pkcs11 token not found")
	// ErrLogin means the token refused the PIN, or the PIN is locked.
	ErrLogin = errors.New("pkcs11 login failed")
	// ErrMechanism means the token cannot generate AES keys or encrypt with AES-GCM.
	ErrMechanism = errors.New("pkcs11 token lacks a needed mechanism")
	// ErrNotKEK means an object under a KEK's label is not a key this package made: not a
	// 256-bit AES key generated on the token, sensitive and never extractable. It is refused,
	// never used.
	ErrNotKEK = errors.New("object on the token is not a CareLedger KEK")
)

func (c Config) validate() error {
	switch {
	case c.Module == "":
		return fmt.Errorf("%w: no module path", ErrModule)
	case c.TokenLabel == "":
		return fmt.Errorf("%w: no token label", ErrTokenNotFound)
	case c.PIN == "":
		return fmt.Errorf("%w: no PIN", ErrLogin)
	}
	return nil
}

// LogValue shows the module and token, never the PIN.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("module", c.Module),
		slog.String("token", c.TokenLabel),
		slog.String("pin", "[redacted]"),
	)
}

// String keeps fmt from printing the PIN.
func (c Config) String() string {
	return fmt.Sprintf("pkcs11.Config{module=%s token=%s pin=[redacted]}", c.Module, c.TokenLabel)
}

// GoString keeps %#v from printing the PIN.
func (c Config) GoString() string { return c.String() }
