// Package contract is the CareLedger smart contract: records as hash-chained versions, consent
// grants, emergency access, the access audit trail, research consent and cohort publications.
//
// Every decision is taken here from the caller's certificate (MSP ID, enrollment ID and the
// `role` attribute issued by the organisation's Fabric CA), never from arguments, and from the
// transaction timestamp, never from a clock. The contract writes no personal data: identities
// are pseudonyms, content is a hash, and every free field is checked against a vocabulary or a
// narrow pattern. Keys are composite keys, so every listing works on LevelDB; every listing is
// paginated and must be evaluated, not submitted, as Fabric allows paginated queries only in
// read-only transactions.
package contract

import (
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Name is the contract's name in the chaincode metadata.
const Name = "careledger"

// Contract holds the CareLedger transactions. It is stateless: everything lives on the ledger.
type Contract struct {
	contractapi.Contract
}

// NewChaincode returns the CareLedger chaincode, ready to be started by a peer, served as a
// chaincode server (CHAINCODE_SERVER_ADDRESS and CHAINCODE_ID set), or invoked in-process.
// Transactions are reachable by their plain names ("Grant") as well as "careledger:Grant".
func NewChaincode() (*contractapi.ContractChaincode, error) {
	c := &Contract{}
	c.Name = Name
	c.Info.Title = "CareLedger"
	c.Info.Version = "1.0.0"
	c.Info.Description = "Patient-controlled health records: hashes, grants and access audit"
	cc, err := contractapi.NewChaincode(c)
	if err != nil {
		return nil, err
	}
	cc.DefaultContract = Name
	cc.TransactionSerializer = &returnSerializer{}
	cc.Info.Title = "CareLedger"
	cc.Info.Version = "1.0.0"
	return cc, nil
}
