// Package network defines the CareLedger consortium (organisations, MSPs, channel and chaincode
// name), generates its crypto material in the cryptogen / fabric-samples directory layout, and
// runs the embedded ledger node: a single process that speaks the real Hyperledger Fabric Gateway
// gRPC protocol, executes a chaincode in-process through the shim interfaces, validates
// transactions the way a Fabric peer does, orders them into Fabric-format blocks and commits them
// durably: an append-only block log, synced before a block is acknowledged, and a bbolt index
// (world state, history, transaction IDs) derived from it and recovered from it after a crash.
//
// Who may stream blocks and events is decided as on a Fabric peer: each resource of Fabric's
// core/aclmgmt (Resources) is mapped to a channel policy in Fabric's policy language
// (Consortium.ACLs, Consortium.Policies, ParsePolicy), evaluated against the signer's node OU.
//
// The node hosts an endorsing peer of every peer organisation; a transaction is valid only with
// the endorsements the chaincode's endorsement policy asks for (Consortium.EndorsementPolicy:
// a signature policy or an implicit-meta one such as "MAJORITY Endorsement"), which the Gateway
// service collects as a Fabric gateway does.
//
// The node exists so that CareLedger runs on one machine, in demos and in CI, with the unmodified
// fabric-gateway client SDK: code written against the node works unchanged against a real Fabric
// network, only the endpoint configuration differs.
package network
