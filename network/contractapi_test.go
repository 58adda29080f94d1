package network_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/careledger/careledger/network"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/stretchr/testify/require"
)

// assetContract is written the fabric-samples way, as the CareLedger contracts are.
type assetContract struct {
	contractapi.Contract
}

type asset struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
}

func (assetContract) Create(ctx contractapi.TransactionContextInterface, id string) error {
	role, ok, err := ctx.GetClientIdentity().GetAttributeValue("role")
	if err != nil || !ok || role != network.RoleClinician {
		return fmt.Errorf("only clinicians may create assets")
	}
	owner, err := ctx.GetClientIdentity().GetID()
	if err != nil {
		return err
	}
	b, err := json.Marshal(asset{ID: id, Owner: owner})
	if err != nil {
		return err
	}
	if err := ctx.GetStub().SetEvent("Created", []byte(id)); err != nil {
		return err
	}
	return ctx.GetStub().PutState(id, b)
}

func (assetContract) Read(ctx contractapi.TransactionContextInterface, id string) (*asset, error) {
	b, err := ctx.GetStub().GetState(id)
	if err != nil || b == nil {
		return nil, fmt.Errorf("asset %s not found", id)
	}
	var a asset
	return &a, json.Unmarshal(b, &a)
}

func TestContractAPIChaincode(t *testing.T) {
	cc, err := contractapi.NewChaincode(&assetContract{})
	require.NoError(t, err)
	n, err := network.New(network.Config{Dir: t.TempDir(), ListenAddr: "127.0.0.1:0", Chaincode: cc})
	require.NoError(t, err)
	require.NoError(t, n.Start(context.Background()))
	t.Cleanup(func() { _ = n.Close() })

	clinician := contractFor(t, n, network.ClinicMSP, "clinician1")
	_, err = clinician.SubmitTransaction("Create", "a1")
	require.NoError(t, err)
	out, err := clinician.EvaluateTransaction("Read", "a1")
	require.NoError(t, err)
	var a asset
	require.NoError(t, json.Unmarshal(out, &a))
	require.Equal(t, "a1", a.ID)
	owner, err := base64.StdEncoding.DecodeString(a.Owner)
	require.NoError(t, err)
	require.Contains(t, string(owner), "CN=clinician1")

	manufacturer := contractFor(t, n, network.PharmaMSP, "manufacturer1")
	_, err = manufacturer.SubmitTransaction("Create", "a2")
	requireEndorseError(t, err, "only clinicians may create assets")

	md, err := clinician.EvaluateTransaction("org.hyperledger.fabric:GetMetadata")
	require.NoError(t, err)
	require.Contains(t, string(md), `"Create"`)
}
