// Package asset is a minimal asset-transfer contract: assets with an owner and an appraised
// value, created, read, transferred, listed and deleted. Only what the tests of the embedded
// node need: state, range queries, events, the caller's identity and chaincode errors.
package asset

import (
	"encoding/json"
	"fmt"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Asset is one asset on the ledger. Fields are in a fixed order so that every endorser writes
// the same bytes.
type Asset struct {
	ID             string `json:"ID"`
	Color          string `json:"Color"`
	Size           int    `json:"Size"`
	Owner          string `json:"Owner"`
	AppraisedValue int    `json:"AppraisedValue"`
	// CreatedBy is the MSP ID of the organisation whose client created the asset.
	CreatedBy string `json:"CreatedBy"`
}

// Contract manages assets.
type Contract struct {
	contractapi.Contract
}

// CreateAsset adds a new asset; it fails if the ID is taken.
func (c *Contract) CreateAsset(ctx contractapi.TransactionContextInterface, id, color string, size int, owner string, value int) error {
	exists, err := c.AssetExists(ctx, id)
	if err != nil {
		return err
	}
	if exists {
		return fmt.Errorf("the asset %s already exists", id)
	}
	msp, err := ctx.GetClientIdentity().GetMSPID()
	if err != nil {
		return err
	}
	a := Asset{ID: id, Color: color, Size: size, Owner: owner, AppraisedValue: value, CreatedBy: msp}
	if err := c.put(ctx, a); err != nil {
		return err
	}
	return ctx.GetStub().SetEvent("CreateAsset", []byte(id))
}

// ReadAsset returns the asset with the given ID.
func (c *Contract) ReadAsset(ctx contractapi.TransactionContextInterface, id string) (*Asset, error) {
	b, err := ctx.GetStub().GetState(id)
	if err != nil {
		return nil, fmt.Errorf("read asset %s: %w", id, err)
	}
	if b == nil {
		return nil, fmt.Errorf("the asset %s does not exist", id)
	}
	var a Asset
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode asset %s: %w", id, err)
	}
	return &a, nil
}

// TransferAsset gives the asset a new owner and returns the previous one.
func (c *Contract) TransferAsset(ctx contractapi.TransactionContextInterface, id, newOwner string) (string, error) {
	a, err := c.ReadAsset(ctx, id)
	if err != nil {
		return "", err
	}
	old := a.Owner
	a.Owner = newOwner
	return old, c.put(ctx, *a)
}

// DeleteAsset removes an asset.
func (c *Contract) DeleteAsset(ctx contractapi.TransactionContextInterface, id string) error {
	if _, err := c.ReadAsset(ctx, id); err != nil {
		return err
	}
	return ctx.GetStub().DelState(id)
}

// AssetExists reports whether an asset with the ID exists.
func (c *Contract) AssetExists(ctx contractapi.TransactionContextInterface, id string) (bool, error) {
	b, err := ctx.GetStub().GetState(id)
	if err != nil {
		return false, fmt.Errorf("read asset %s: %w", id, err)
	}
	return b != nil, nil
}

// GetAllAssets lists every asset in key order.
func (c *Contract) GetAllAssets(ctx contractapi.TransactionContextInterface) ([]*Asset, error) {
	it, err := ctx.GetStub().GetStateByRange("", "")
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := []*Asset{}
	for it.HasNext() {
		kv, err := it.Next()
		if err != nil {
			return nil, err
		}
		var a Asset
		if err := json.Unmarshal(kv.GetValue(), &a); err != nil {
			return nil, fmt.Errorf("decode asset %s: %w", kv.GetKey(), err)
		}
		out = append(out, &a)
	}
	return out, nil
}

func (c *Contract) put(ctx contractapi.TransactionContextInterface, a Asset) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return ctx.GetStub().PutState(a.ID, b)
}
