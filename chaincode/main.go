// Command chaincode runs the CareLedger chaincode.
//
// With CHAINCODE_SERVER_ADDRESS and CHAINCODE_ID set it serves as chaincode-as-a-service, the
// way fabric-samples' external chaincodes do: TLS unless CHAINCODE_TLS_DISABLED=true, with
// CHAINCODE_TLS_KEY, CHAINCODE_TLS_CERT and optionally CHAINCODE_CLIENT_CA_CERT (files) to
// require peer client certificates. Without them it was launched by a peer and connects back.
package main

import (
	"fmt"
	"log"
	"os"
	"strconv"

	"github.com/careledger/careledger/chaincode/contract"
	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
)

func main() {
	cc, err := contract.NewChaincode()
	if err != nil {
		log.Fatalf("create CareLedger chaincode: %v", err)
	}
	address, ccid := os.Getenv("CHAINCODE_SERVER_ADDRESS"), os.Getenv("CHAINCODE_ID")
	if address == "" || ccid == "" {
		if err := cc.Start(); err != nil {
			log.Fatalf("start CareLedger chaincode: %v", err)
		}
		return
	}
	tls, err := tlsProperties()
	if err != nil {
		log.Fatalf("chaincode server TLS: %v", err)
	}
	server := &shim.ChaincodeServer{CCID: ccid, Address: address, CC: cc, TLSProps: tls}
	log.Printf("CareLedger chaincode serving %s at %s (TLS %v)", ccid, address, !tls.Disabled)
	if err := server.Start(); err != nil {
		log.Fatalf("serve CareLedger chaincode: %v", err)
	}
}

func tlsProperties() (shim.TLSProperties, error) {
	disabled, _ := strconv.ParseBool(os.Getenv("CHAINCODE_TLS_DISABLED"))
	if disabled {
		return shim.TLSProperties{Disabled: true}, nil
	}
	var props shim.TLSProperties
	for _, f := range []struct {
		env  string
		dst  *[]byte
		need bool
	}{
		{"CHAINCODE_TLS_KEY", &props.Key, true},
		{"CHAINCODE_TLS_CERT", &props.Cert, true},
		{"CHAINCODE_CLIENT_CA_CERT", &props.ClientCACerts, false},
	} {
		path := os.Getenv(f.env)
		if path == "" {
			if f.need {
				return props, fmt.Errorf("%s is not set (set CHAINCODE_TLS_DISABLED=true to serve without TLS)", f.env)
			}
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return props, fmt.Errorf("read %s: %w", f.env, err)
		}
		*f.dst = b
	}
	return props, nil
}
