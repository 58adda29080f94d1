package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/careledger/careledger/test-network/connprofile"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/wallet"
)

// readyProbe is one peer's gateway: try returns nil once it can endorse for the channel.
type readyProbe struct {
	name string
	try  func(ctx context.Context) error
}

// waitReady tries each probe, every interval, until it succeeds or ctx ends; the error
// names the first probe that never succeeded and its last error.
func waitReady(ctx context.Context, probes []readyProbe, interval time.Duration, w io.Writer) error {
	for _, p := range probes {
		start := time.Now()
		for {
			err := p.try(ctx)
			if err == nil {
				fmt.Fprintf(w, "%s: ready after %s\n", p.name, time.Since(start).Round(time.Second))
				break
			}
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("ready: %s cannot endorse for the channel yet (%w): %w", p.name, ctx.Err(), err)
			case <-t.C:
			}
		}
	}
	return nil
}

// gatewayProbes returns one probe per peer of the connection file: the admin of the peer's
// organisation endorses a read of the chaincode (GetRolePolicy) through the peer's gateway,
// without submitting it. The gateway can only plan that endorsement once its discovery knows
// peers of every organisation the endorsement policy names, which gossip learns from the
// anchor peers some time after the peers join the channel (Fabric retries a failed anchor
// peer connection every peer.gossip.reconnectInterval, 25 s).
func gatewayProbes(p *connprofile.Profile) ([]readyProbe, error) {
	msps := make([]string, 0, len(p.Organizations))
	for m := range p.Organizations {
		msps = append(msps, m)
	}
	slices.Sort(msps)
	var probes []readyProbe
	for _, m := range msps {
		org := p.Organizations[m]
		if len(org.Peers) == 0 {
			continue
		}
		id, ok := p.Identity(m, "admin")
		if !ok {
			return nil, fmt.Errorf("ready: the connection file has no admin of %s", m)
		}
		ident, err := wallet.ImportMSP(id.MSPDir, m)
		if err != nil {
			return nil, fmt.Errorf("ready: %s admin: %w", m, err)
		}
		gwID, err := ident.GatewayIdentity()
		if err != nil {
			return nil, fmt.Errorf("ready: %s admin: %w", m, err)
		}
		caPEM, err := os.ReadFile(org.TLSCACert)
		if err != nil {
			return nil, fmt.Errorf("ready: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(caPEM) {
			return nil, fmt.Errorf("ready: no certificate in %s", org.TLSCACert)
		}
		for _, pe := range org.Peers {
			creds := credentials.NewTLS(&tls.Config{RootCAs: roots, ServerName: pe.TLSServerName, MinVersion: tls.VersionTLS12})
			try := func(ctx context.Context) error {
				conn, err := grpc.NewClient(pe.Endpoint, grpc.WithTransportCredentials(creds))
				if err != nil {
					return err
				}
				defer conn.Close()
				gw, err := client.Connect(gwID, client.WithSign(ident.Sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn))
				if err != nil {
					return err
				}
				defer gw.Close()
				prop, err := gw.GetNetwork(p.Channel).GetContract(p.Chaincode).NewProposal("GetRolePolicy")
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				defer cancel()
				_, err = prop.EndorseWithContext(ctx)
				return err
			}
			probes = append(probes, readyProbe{name: pe.Name, try: try})
		}
	}
	if len(probes) == 0 {
		return nil, errors.New("ready: the connection file lists no peers")
	}
	return probes, nil
}

// ready waits until every peer's gateway can endorse for the channel (see gatewayProbes).
func ready(ctx context.Context, dir string, timeout time.Duration, w io.Writer) error {
	p, err := connprofile.Load(filepath.Join(dir, topology.ConnectionFile))
	if err != nil {
		return fmt.Errorf("ready: %w", err)
	}
	probes, err := gatewayProbes(p)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return waitReady(ctx, probes, 2*time.Second, w)
}
