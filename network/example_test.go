package network_test

import (
	"context"
	"crypto/x509"
	"fmt"
	"log"
	"os"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Example runs a node with an in-process chaincode and talks to it with the unmodified
// fabric-gateway client, configured the fabric-samples way.
func Example() {
	dir, err := os.MkdirTemp("", "careledger-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	node, err := network.New(network.Config{Dir: dir, ListenAddr: "127.0.0.1:0", Chaincode: testChaincode{}})
	if err != nil {
		log.Fatal(err)
	}
	if err := node.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer node.Close()

	clinic, _ := node.Config().Consortium.Org(network.ClinicMSP)
	// A member's key is created where it lives: here, in this process.
	user, err := network.IssueUser(dir, clinic, network.UserSpec{Name: "clinician1", Role: network.RoleClinician})
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(node.TLSCACertPEM())
	conn, err := grpc.NewClient(node.Addr(), grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, node.ServerName())))
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	id, _ := identity.NewX509Identity(user.MSPID, user.Cert)
	sign, _ := identity.NewPrivateKeySign(user.Key)
	gw, err := client.Connect(id, client.WithSign(sign), client.WithClientConnection(conn))
	if err != nil {
		log.Fatal(err)
	}
	defer gw.Close()
	contract := gw.GetNetwork(network.DefaultChannel).GetContract(network.DefaultChaincode)

	if _, err := contract.SubmitTransaction("put", "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	value, err := contract.EvaluateTransaction("get", "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(value), node.Height())
	// Output: hello 2
}
