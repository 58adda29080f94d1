package client_test

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/careledger/careledger/app-api/client"
	"github.com/careledger/careledger/chaincode/model"
)

// A patient grants their clinic's clinicians read access to lab results for 30 days. The
// grant is prepared by the server, checked and signed here with the patient's key, and
// submitted: the key never leaves this process.
func ExampleClient_Grant() {
	var (
		certPEM  []byte         // the patient's enrolment certificate, from the wallet
		key      crypto.Signer  // its private key, from the wallet or an HSM
		serverCA *x509.CertPool // the API server's CA
	)
	c, err := client.New("https://careledger.example:8443",
		client.WithIdentity("PatientsMSP", certPEM, key), client.WithRootCAs(serverCA))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	until := time.Now().Add(30 * 24 * time.Hour)
	g, receipt, err := c.Grant(context.Background(), model.GrantRequest{
		Grantee: model.Grantee{MSP: "ClinicMSP"}, Actions: []string{"read"},
		Categories: []string{"lab"}, Purpose: "TREAT", ValidUntil: &until,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(g.ID, g.Status, receipt.BlockNumber)
}
