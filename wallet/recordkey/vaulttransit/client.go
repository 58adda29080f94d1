package vaulttransit

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// Options say how to reach and authenticate to Vault. Nothing is read from the environment
// (the Vault client library would otherwise pick up VAULT_TOKEN and friends): the command
// wiring decides.
type Options struct {
	// Address is Vault's URL, for example https://vault.internal:8200. Required.
	Address string
	// Namespace is the Vault Enterprise namespace, if any.
	Namespace string
	// Token authenticates with a Vault token. Set either Token or AppRole.
	Token string
	// AppRole authenticates with AppRole; the client logs in again when its token expires.
	AppRole *AppRole
	// TLS configures server verification and client certificates; nil uses the system roots.
	TLS *TLS
	// HTTPClient replaces the HTTP client, for example to add a proxy. TLS is applied to its
	// transport, which must then be an *http.Transport.
	HTTPClient *http.Client
	// Mount is the transit engine's mount path; default "transit".
	Mount string
	// KeyPrefix is prepended to patient IDs to name transit keys; default
	// "careledger-patient-".
	KeyPrefix string
}

// AppRole holds AppRole credentials.
type AppRole struct {
	// MountPath of the AppRole auth method; default "approle".
	MountPath string
	RoleID    string
	SecretID  string
}

// TLS configures the connection to Vault.
type TLS struct {
	// CACertPEM or CACertFile are the roots that verify Vault's certificate.
	CACertPEM  []byte
	CACertFile string
	// ClientCertFile and ClientKeyFile are a client certificate for mutual TLS.
	ClientCertFile string
	ClientKeyFile  string
	// ServerName overrides the name checked in Vault's certificate.
	ServerName string
}

// ErrAuth means Vault refused the credentials.
var ErrAuth = errors.New("vault authentication failed")

func newVaultClient(opts Options) (*vault.Client, error) {
	if opts.Address == "" {
		return nil, errors.New("vault: no address")
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		}}
	}
	// The Vault client handles redirects itself (to the active node of a cluster).
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	cfg := &vault.Config{
		Address:      opts.Address,
		HttpClient:   hc,
		Timeout:      60 * time.Second,
		MaxRetries:   2,
		MinRetryWait: 500 * time.Millisecond,
		MaxRetryWait: 1500 * time.Millisecond,
	}
	if t := opts.TLS; t != nil {
		if err := cfg.ConfigureTLS(&vault.TLSConfig{
			CACert: t.CACertFile, CACertBytes: t.CACertPEM,
			ClientCert: t.ClientCertFile, ClientKey: t.ClientKeyFile,
			TLSServerName: t.ServerName,
		}); err != nil {
			return nil, fmt.Errorf("vault: configure tls: %w", err)
		}
	}
	c, err := vault.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("vault: new client: %w", err)
	}
	// Undo what vault.NewClient took from the environment.
	c.ClearToken()
	c.SetNamespace(opts.Namespace)
	c.SetHeaders(http.Header{})
	return c, nil
}

// login authenticates c according to opts.
func login(ctx context.Context, c *vault.Client, opts Options) error {
	switch {
	case opts.AppRole != nil && opts.Token != "":
		return errors.New("vault: set either a token or AppRole credentials, not both")
	case opts.Token != "":
		c.SetToken(opts.Token)
		// Check the token now (the default policy allows lookup-self) so a typo fails at
		// start-up rather than at the first patient's record.
		if _, err := c.Auth().Token().LookupSelfWithContext(ctx); err != nil {
			return fmt.Errorf("vault: check token: %w: %w", ErrAuth, err)
		}
		return nil
	case opts.AppRole != nil:
		mount := opts.AppRole.MountPath
		if mount == "" {
			mount = "approle"
		}
		s, err := c.Logical().WriteWithContext(ctx, "auth/"+mount+"/login", map[string]any{
			"role_id": opts.AppRole.RoleID, "secret_id": opts.AppRole.SecretID,
		})
		if err != nil {
			return fmt.Errorf("vault: approle login: %w: %w", ErrAuth, err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return fmt.Errorf("vault: approle login: %w: no token in response", ErrAuth)
		}
		c.SetToken(s.Auth.ClientToken)
		return nil
	}
	return errors.New("vault: no credentials: set a token or AppRole")
}
