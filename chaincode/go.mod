module github.com/careledger/careledger/chaincode

go 1.25

require (
	github.com/hyperledger/fabric-chaincode-go/v2 v2.3.1-0.20260319210430-56968fdc7833 // indirect
	github.com/hyperledger/fabric-contract-api-go/v2 v2.2.1 // indirect
	github.com/hyperledger/fabric-protos-go-apiv2 v0.3.7 // indirect
	github.com/stretchr/testify v1.12.1 // indirect
)
