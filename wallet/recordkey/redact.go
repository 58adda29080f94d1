package recordkey

import (
	"fmt"
	"log/slog"
)

// LogValue shows the wrapped key's size and version, never the key.
func (dk DataKey) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("plaintext", "[redacted]"),
		slog.Int("wrapped_bytes", len(dk.Wrapped)),
		slog.Int("version", dk.Version),
	)
}

// String keeps fmt from printing the key.
func (dk DataKey) String() string {
	return fmt.Sprintf("DataKey{plaintext=[redacted] wrapped=%d bytes version=%d}", len(dk.Wrapped), dk.Version)
}

// GoString keeps %#v from printing the key.
func (dk DataKey) GoString() string { return dk.String() }

// LogValue identifies the store by directory only.
func (l *Local) LogValue() slog.Value {
	return slog.GroupValue(slog.String("backend", "local"), slog.String("dir", l.dir))
}

// String keeps fmt from printing cached keys.
func (l *Local) String() string { return "recordkey.Local{" + l.dir + "}" }

// GoString keeps %#v from printing cached keys.
func (l *Local) GoString() string { return l.String() }
