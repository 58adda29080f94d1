package fabricca

import (
	"context"
	"encoding/base64"
	"fmt"
)

// Info describes the CA.
type Info struct {
	// Name is the CA's name (empty for a server's default CA).
	Name string
	// ChainPEM holds the CA certificate and any intermediates, PEM encoded. Use it as the
	// MSP's cacerts and to verify issued certificates.
	ChainPEM []byte
	// Version is the fabric-ca-server version.
	Version string
}

type infoNet struct {
	CAName  string `json:"CAName"`
	CAChain string `json:"CAChain"`
	Version string `json:"Version"`
}

func (n infoNet) decode() (*Info, error) {
	chain, err := base64.StdEncoding.DecodeString(n.CAChain)
	if err != nil {
		return nil, fmt.Errorf("decode CA chain: %w", err)
	}
	return &Info{Name: n.CAName, ChainPEM: chain, Version: n.Version}, nil
}

// Info fetches the CA's name, certificate chain and version. It needs no authentication.
func (c *Client) Info(ctx context.Context) (*Info, error) {
	var out infoNet
	if err := c.call(ctx, "cainfo", "cainfo", map[string]string{"caname": c.caName}, nil, &out); err != nil {
		return nil, err
	}
	info, err := out.decode()
	if err != nil {
		return nil, fmt.Errorf("fabric ca cainfo: %w", err)
	}
	return info, nil
}
