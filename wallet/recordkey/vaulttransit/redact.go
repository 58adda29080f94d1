package vaulttransit

import (
	"fmt"
	"log/slog"
)

// LogValue shows where Vault is and how the client authenticates, never the credentials.
func (o Options) LogValue() slog.Value {
	auth := "none"
	switch {
	case o.Token != "":
		auth = "token"
	case o.AppRole != nil:
		auth = "approle"
	}
	return slog.GroupValue(
		slog.String("address", o.Address),
		slog.String("namespace", o.Namespace),
		slog.String("mount", o.Mount),
		slog.String("auth", auth),
	)
}

// String keeps fmt from printing the token.
func (o Options) String() string {
	return fmt.Sprintf("vaulttransit.Options{address=%s mount=%s credentials=[redacted]}", o.Address, o.Mount)
}

// GoString keeps %#v from printing the token.
func (o Options) GoString() string { return o.String() }

// LogValue shows the role ID only; the secret ID is a credential.
func (a AppRole) LogValue() slog.Value {
	return slog.GroupValue(slog.String("role_id", a.RoleID), slog.String("secret_id", "[redacted]"))
}

// String keeps fmt from printing the secret ID.
func (a AppRole) String() string { return "AppRole{role_id=" + a.RoleID + " secret_id=[redacted]}" }

// GoString keeps %#v from printing the secret ID.
func (a AppRole) GoString() string { return a.String() }

// LogValue describes the key service without credentials.
func (ks *KeyService) LogValue() slog.Value {
	return slog.GroupValue(slog.String("backend", "vault-transit"), slog.Any("vault", ks.opts))
}

// String keeps fmt from printing the token.
func (ks *KeyService) String() string { return "vaulttransit.KeyService{" + ks.opts.String() + "}" }

// GoString keeps %#v from printing the token.
func (ks *KeyService) GoString() string { return ks.String() }
