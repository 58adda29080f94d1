//go:build !linux

package main

import (
	"errors"
	"net"
)

// peerCred is implemented for Linux only (SO_PEERCRED): elsewhere the agent refuses every
// connection, and commands unlock the wallet themselves.
func peerCred(*net.UnixConn) (*peerCredentials, error) {
	return nil, errors.New("peer credentials: the key agent needs Linux")
}

func protectMemory() error { return errors.New("the key agent needs Linux") }
