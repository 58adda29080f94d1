// Command assetcc is a small asset-transfer chaincode, not CareLedger's, that the tests of
// `careledger node` run as a chaincode server against the embedded node, the way any
// fabric-samples chaincode is deployed as a service: CHAINCODE_SERVER_ADDRESS and
// CHAINCODE_ID, TLS from CHAINCODE_TLS_KEY and CHAINCODE_TLS_CERT (files), peer client
// certificates required when CHAINCODE_CLIENT_CA_CERT is set, plain gRPC with
// CHAINCODE_TLS_DISABLED=true.
package main

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/careledger/careledger/network/testdata/assetcc/asset"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

func main() {
	cc, err := contractapi.NewChaincode(&asset.Contract{})
	if err != nil {
		log.Fatalf("create asset chaincode: %v", err)
	}
	address, ccid := os.Getenv("CHAINCODE_SERVER_ADDRESS"), os.Getenv("CHAINCODE_ID")
	if address == "" || ccid == "" {
		log.Fatal("CHAINCODE_SERVER_ADDRESS and CHAINCODE_ID must be set: this chaincode runs as a service")
	}
	props, err := tlsProperties()
	if err != nil {
		log.Fatalf("chaincode server TLS: %v", err)
	}
	server := &shim.ChaincodeServer{CCID: ccid, Address: address, CC: cc, TLSProps: props}
	log.Printf("asset chaincode serving %s at %s (TLS %v)", ccid, address, !props.Disabled)
	if err := server.Start(); err != nil {
		log.Fatalf("serve asset chaincode: %v", err)
	}
}

func tlsProperties() (shim.TLSProperties, error) {
	if os.Getenv("CHAINCODE_TLS_DISABLED") == "true" {
		return shim.TLSProperties{Disabled: true}, nil
	}
	var props shim.TLSProperties
	var err error
	if props.Key, err = readEnvFile("CHAINCODE_TLS_KEY"); err != nil {
		return props, err
	}
	if props.Cert, err = readEnvFile("CHAINCODE_TLS_CERT"); err != nil {
		return props, err
	}
	if os.Getenv("CHAINCODE_CLIENT_CA_CERT") != "" {
		if props.ClientCACerts, err = readEnvFile("CHAINCODE_CLIENT_CA_CERT"); err != nil {
			return props, err
		}
	}
	return props, nil
}

func readEnvFile(env string) ([]byte, error) {
	path := os.Getenv(env)
	if path == "" {
		return nil, errors.New(env + " is not set (CHAINCODE_TLS_DISABLED=true serves without TLS)")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env, err)
	}
	return b, nil
}
