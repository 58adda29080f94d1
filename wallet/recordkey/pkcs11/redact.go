package pkcs11

import "log/slog"

// LogValue describes the key service by module and token, never the PIN.
func (s *KeyService) LogValue() slog.Value {
	return slog.GroupValue(slog.String("backend", "pkcs11"), slog.Any("token", s.cfg))
}

// String keeps fmt from printing the PIN.
func (s *KeyService) String() string { return "pkcs11.KeyService{" + s.cfg.String() + "}" }

// GoString keeps %#v from printing the PIN.
func (s *KeyService) GoString() string { return s.String() }
