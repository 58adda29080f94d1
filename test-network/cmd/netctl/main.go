// Command netctl is the Go half of test-network/network.sh: it renders the network's
// configuration, enrols identities with the running CAs, checks a build directory, and
// prints the topology for the script, so that names, ports and paths live in one place
// (test-network/internal/topology) rather than in both Go and bash.
//
//	netctl generate -dir DIR -mode native|docker [-ccaas-builder DIR]
//	netctl enroll   -dir DIR -mode native|docker [-ccaas-builder DIR]
//	netctl check    -dir DIR -mode native|docker
//	netctl nodes
//	netctl orgca    -dir DIR -org MSPID
//	netctl ready    -dir DIR [-timeout 3m]
//
// It needs no Fabric binary; enroll needs the CAs to be running, ready a deployed network.
package main

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/careledger/careledger/chaincode/model"
	"github.com/careledger/careledger/test-network/internal/enrol"
	"github.com/careledger/careledger/test-network/internal/render"
	"github.com/careledger/careledger/test-network/internal/topology"
	"github.com/careledger/careledger/test-network/internal/verify"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "netctl:", err)
		stop()
		os.Exit(1)
	}
}

const usage = "usage: netctl generate|enroll|check|nodes|orgca|ready [flags] (netctl CMD -h for flags)"

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	net := topology.Default()
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "build directory")
	modeFlag := fs.String("mode", string(topology.Native), "how nodes run: native or docker")
	builder := fs.String("ccaas-builder", "", "folder of Fabric's ccaas builder (native mode)")
	orgFlag := fs.String("org", "", "MSP ID of an organisation (orgca)")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait for the peers (ready)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cmd == "nodes" {
		return printNodes(net, stdout)
	}
	if *dir == "" {
		return fmt.Errorf("%s: -dir is required", cmd)
	}
	if cmd == "orgca" {
		return printOrgCA(net, *dir, *orgFlag, stdout)
	}
	if cmd == "ready" {
		return ready(ctx, *dir, *timeout, stdout)
	}
	mode, err := topology.ParseMode(*modeFlag)
	if err != nil {
		return fmt.Errorf("%s: %w", cmd, err)
	}
	opts := render.Options{Mode: mode, Dir: *dir, CCAASBuilder: *builder}
	if opts.CCAASBuilder == "" {
		// Rendering for CI or before the binaries are installed: a placeholder the
		// prerequisite check of `network.sh up` replaces with the real folder.
		opts.CCAASBuilder = "/opt/hyperledger/ccaas_builder"
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch cmd {
	case "generate":
		files, err := render.Generate(net, opts)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rendered %d files into %s (%s mode)\n", len(files), *dir, mode)
		return nil
	case "enroll":
		if err := enrol.New(net, *dir, log).Run(ctx); err != nil {
			return err
		}
		// Builder configurations and the connection file depend on what was enrolled.
		if _, err := render.Generate(net, opts); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "enrolled identities into %s\n", *dir)
		return nil
	case "check":
		rep, err := verify.Dir(net, *dir, mode)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "ok: %d files, %d enrolled identities checked\n", rep.Files, rep.Enrolled)
		return nil
	}
	return fmt.Errorf("unknown command %q; %s", cmd, usage)
}

// printOrgCA prints the peer CLI's -c argument that sets the organisation's CA certificates
// on the ledger (SetOrgCACertificates): the roots and intermediates of its MSP folder, which
// the enrolment wrote. Until they are set no gateway may act for the organisation's members.
func printOrgCA(net topology.Network, dir, mspID string, w io.Writer) error {
	i := slices.IndexFunc(net.Orgs, func(o topology.Org) bool { return o.MSPID == mspID })
	if i < 0 {
		return fmt.Errorf("orgca: unknown organisation %q", mspID)
	}
	msp := filepath.Join(dir, filepath.FromSlash(topology.OrgDir(net.Orgs[i])), "msp")
	var certs model.CACertificates
	for _, list := range []struct {
		sub  string
		into *[]string
	}{{"cacerts", &certs.Roots}, {"intermediatecerts", &certs.Intermediates}} {
		files, err := filepath.Glob(filepath.Join(msp, list.sub, "*.pem"))
		if err != nil {
			return err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return fmt.Errorf("orgca: %w", err)
			}
			for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
				*list.into = append(*list.into, string(pem.EncodeToMemory(block)))
			}
		}
	}
	if len(certs.Roots) == 0 {
		return fmt.Errorf("orgca: no CA certificate in %s/cacerts; run network.sh up first", msp)
	}
	arg, err := json.Marshal(certs)
	if err != nil {
		return err
	}
	call, err := json.Marshal(struct {
		Function string   `json:"function"`
		Args     []string `json:"Args"`
	}{"SetOrgCACertificates", []string{string(arg)}})
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", call)
	return err
}

// printNodes prints one line per node for network.sh to read with `read -r`:
//
//	ca       NAME HOST PORT MSPID
//	orderer  HOST PORT ADMINPORT MSPID
//	peer     HOST PORT MSPID ORG BUILDERVAR
//	ccaas    HOST PORT MSPID ORG
//	org      MSPID ORG DOMAIN
//	ports    P1 P2 ...
//	var      NAME VALUE
func printNodes(net topology.Network, w io.Writer) error {
	var b strings.Builder
	oo := net.Orderer
	fmt.Fprintf(&b, "var CHANNEL %s\nvar CHAINCODE %s\nvar CC_VERSION %s\nvar CC_LABEL %s\nvar CC_POLICY %s\n",
		net.Channel, net.Chaincode, net.ChaincodeVersion, net.ChaincodeLabel, net.EndorsementPolicy)
	fmt.Fprintf(&b, "var ORDERER_MSPID %s\nvar ORDERER_DOMAIN %s\nvar PROFILE %s\n", oo.MSPID, oo.Domain, render.ConfigtxProfile)
	// The operator (first organisation with a peer) signs the role policy.
	if orgs := net.PeerOrgs(); len(orgs) > 0 {
		fmt.Fprintf(&b, "var OPERATOR_MSPID %s\n", orgs[0].MSPID)
	}
	fmt.Fprintf(&b, "ca %s %s %d %s\n", oo.CA.Name, oo.CA.Host, oo.CA.Port, oo.MSPID)
	for _, o := range net.Orgs {
		fmt.Fprintf(&b, "ca %s %s %d %s\n", o.CA.Name, o.CA.Host, o.CA.Port, o.MSPID)
	}
	for _, n := range oo.Nodes {
		fmt.Fprintf(&b, "orderer %s %d %d %s\n", n.Host, n.Port, n.AdminPort, oo.MSPID)
	}
	for _, o := range net.Orgs {
		fmt.Fprintf(&b, "org %s %s %s\n", o.MSPID, o.Name, o.Domain)
		for _, p := range o.Peers {
			fmt.Fprintf(&b, "peer %s %d %s %s %s\n", p.Host, p.Port, o.MSPID, o.Name, render.BuilderVar(net, p))
		}
		if o.CCServer != nil {
			fmt.Fprintf(&b, "ccaas %s %d %s %s\n", o.CCServer.Host, o.CCServer.Port, o.MSPID, o.Name)
		}
	}
	b.WriteString("ports")
	for _, p := range net.Ports() {
		fmt.Fprintf(&b, " %d", p)
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
